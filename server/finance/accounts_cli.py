"""``qatys user …``: accounts for the finance pages (docs/finance.md)."""

from __future__ import annotations

import json
import sys

import click

from qatys.sentences import Sentence, echo
from qatys.timeutil import now_us
from server.datadir import DataDir, with_data_dir
from server.finance.accounts import ROLES, add_user, disable_user, list_users


@click.group("user")
def user_group() -> None:
    """People who sign in to the finance pages, each with one role."""


@user_group.command("add")
@with_data_dir
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--kindergarten", default=None, help="The director's kindergarten (directors only).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of asking.")
def user_add(data: DataDir, username: str, role: str, kindergarten: str | None,
             password_stdin: bool) -> None:
    """Add an account; the password is asked for (never given on the command line)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with data.transaction() as conn:
        add_user(conn, username, password, role, kindergarten, now_us())
    echo(Sentence("user %(username)s added (%(role)s)", username=username, role=role))


@user_group.command("disable")
@with_data_dir
@click.option("--username", required=True)
def user_disable(data: DataDir, username: str) -> None:
    """Disable an account at once; its open sessions are revoked in the same transaction."""
    with data.transaction() as conn:
        disable_user(conn, username, now_us())
    echo(Sentence("user %(username)s disabled", username=username))


@user_group.command("list")
@with_data_dir
def user_list(data: DataDir) -> None:
    """Accounts, one JSON line each (never a password hash)."""
    with data.engine.connect() as conn:
        for user in list_users(conn):
            click.echo(json.dumps(user, ensure_ascii=False))
