"""The ``qatys`` command: one entry point for server, its registry, terminal and demo. It only
gathers the commands each package declares in its ``cli`` module (qatys/cliutil.py), and
imports a package's commands only when one of them is used (qatys/lazygroup.py): a terminal's
``qatys terminal run`` never imports the server, whose packages a terminal does not have."""

from __future__ import annotations

from types import ModuleType

import click

from qatys import __version__
from qatys.cliutil import EXIT_BAD_INPUT, fail
from qatys.lazygroup import LazyGroup, Loader, with_lazy
from qatys.sentences import Sentence, unknown_language_setting


def _terminal() -> click.Command:
    """The terminal's commands, with the server's ``token`` and ``revoke`` beside them."""
    from terminal import cli as terminal_cli

    return with_lazy(terminal_cli.terminal_group,
                     {"token": _registry_command("token_command"),
                      "revoke": _registry_command("revoke_command")})


def _registry() -> ModuleType:
    from server.registry import cli as registry_cli

    return registry_cli


def _face() -> click.Command:
    from terminal.faces import commands as face_commands

    return face_commands.face_group


def _server() -> click.Command:
    from server import cli as server_cli
    from server.backup import cli as backup_cli
    from server.worker import cli as worker_cli

    group = server_cli.server_group
    for command in (worker_cli.worker_command, backup_cli.backup_command,
                    backup_cli.restore_command):
        group.add_command(command)
    return group


def _events() -> click.Command:
    from server import cli as server_cli

    return server_cli.events_group


def _registry_command(name: str) -> Loader:
    return lambda: getattr(_registry(), name)


def _money_command(name: str) -> Loader:
    def loader() -> click.Command:
        from server.money import cli as money_cli

        return getattr(money_cli, name)  # type: ignore[no-any-return]
    return loader


def _queue_core() -> click.Command:
    from server.queue_core import cli as queue_core_cli

    return queue_core_cli.queue_core_group


def _users() -> click.Command:
    from server.staff import accounts_cli

    return accounts_cli.user_group


def _guardians() -> click.Command:
    from server.families import guardians_cli

    return guardians_cli.guardian_group


def _consent() -> click.Command:
    from server.families import consent_cli

    return consent_cli.consent_group


def _demo() -> click.Command:
    from qatys.demo import demo_group

    return demo_group


COMMANDS: dict[str, Loader] = {
    "terminal": _terminal,
    "face": _face,
    "server": _server,
    "events": _events,
    "kindergarten": _registry_command("kindergarten_group"),
    "roster": _registry_command("roster_group"),
    "unlock-card": _registry_command("unlock_card_group"),
    "card": _registry_command("card_group"),
    "closure": _money_command("closure_group"),
    "absence": _money_command("absence_group"),
    "tabel": _money_command("tabel_command"),
    "funding": _money_command("funding_group"),
    "queue-core": _queue_core,
    "user": _users,
    "guardian": _guardians,
    "consent": _consent,
    "demo": _demo,
}
"""Each command of ``qatys`` and where it is imported from when it is used."""


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qatys")
def cli() -> None:
    """Qatys: kindergarten attendance terminals and their sync server.

    Messages for people are in the reader's language: QATYS_LANG=kk|ru|en, else the
    locale's (LANG=ru_RU.UTF-8); English when it is neither Kazakh nor Russian."""
    unknown = unknown_language_setting()
    if unknown is not None:
        fail(Sentence("QATYS_LANG is '%(value)s': it must be kk, ru or en", value=unknown),
             EXIT_BAD_INPUT)


def main() -> None:
    cli()
