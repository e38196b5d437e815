"""The ``qatys`` command: one entry point for server, its registry, terminal and demo. It only
gathers the commands each package declares in its ``cli`` module (qatys/cliutil.py)."""

from __future__ import annotations

import click

from qatys import __version__
from qatys.cliutil import EXIT_BAD_INPUT, fail
from qatys.sentences import Sentence, unknown_language_setting
from server import cli as server_cli
from server.backup import cli as backup_cli
from server.families import consent_cli, guardians_cli
from server.money import cli as money_cli
from server.queue_core import cli as queue_core_cli
from server.registry import cli as registry_cli
from server.staff import accounts_cli
from server.worker import cli as worker_cli
from terminal import cli as terminal_cli
from terminal.faces import commands as face_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qatys")
def cli() -> None:
    """Qatys: kindergarten attendance terminals and their sync server.

    Messages for people are in the reader's language: QATYS_LANG=kk|ru|en, else the
    locale's (LANG=ru_RU.UTF-8); English when it is neither Kazakh nor Russian."""
    unknown = unknown_language_setting()
    if unknown is not None:
        fail(Sentence("QATYS_LANG is '%(value)s': it must be kk, ru or en", value=unknown),
             EXIT_BAD_INPUT)


terminal_cli.terminal_group.add_command(registry_cli.token_command)
terminal_cli.terminal_group.add_command(registry_cli.revoke_command)
cli.add_command(terminal_cli.terminal_group)
cli.add_command(face_commands.face_group)
server_cli.server_group.add_command(worker_cli.worker_command)
server_cli.server_group.add_command(backup_cli.backup_command)
server_cli.server_group.add_command(backup_cli.restore_command)
cli.add_command(server_cli.server_group)
cli.add_command(server_cli.events_group)
cli.add_command(registry_cli.kindergarten_group)
cli.add_command(registry_cli.roster_group)
cli.add_command(registry_cli.unlock_card_group)
cli.add_command(registry_cli.card_group)
cli.add_command(money_cli.closure_group)
cli.add_command(money_cli.absence_group)
cli.add_command(money_cli.tabel_command)
cli.add_command(money_cli.funding_group)
cli.add_command(queue_core_cli.queue_core_group)
cli.add_command(accounts_cli.user_group)
cli.add_command(guardians_cli.guardian_group)
cli.add_command(consent_cli.consent_group)


def _add_demo() -> None:
    from qatys.demo import demo_group

    cli.add_command(demo_group)


_add_demo()


def main() -> None:
    cli()
