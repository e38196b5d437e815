"""``qatys user …``: accounts for the finance pages (docs/finance.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from qatys.cliutil import EXIT_BAD_INPUT, errors_as_exit
from qatys.timeutil import now_us
from server.datadir import DATA, open_data_dir
from server.errors import SetupError
from server.finance.accounts import ROLES, AccountError, add_user, disable_user, list_users

_ERRORS: dict[type[BaseException], int] = {SetupError: EXIT_BAD_INPUT,
                                           AccountError: EXIT_BAD_INPUT}


@click.group("user")
def user_group() -> None:
    """People who sign in to the finance pages, each with one role."""


@user_group.command("add")
@DATA
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--kindergarten", default=None, help="The director's kindergarten (directors only).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of asking.")
def user_add(data_dir: Path, username: str, role: str, kindergarten: str | None,
             password_stdin: bool) -> None:
    """Add an account; the password is asked for (never given on the command line)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with errors_as_exit(_ERRORS):
        data = open_data_dir(data_dir)
        with data.transaction() as conn:
            add_user(conn, username, password, role, kindergarten, now_us())
    click.echo(f"user {username} added ({role})")


@user_group.command("disable")
@DATA
@click.option("--username", required=True)
def user_disable(data_dir: Path, username: str) -> None:
    """Disable an account at once; its open sessions are revoked in the same transaction."""
    with errors_as_exit(_ERRORS):
        data = open_data_dir(data_dir)
        with data.transaction() as conn:
            disable_user(conn, username, now_us())
    click.echo(f"user {username} disabled")


@user_group.command("list")
@DATA
def user_list(data_dir: Path) -> None:
    """Accounts, one JSON line each (never a password hash)."""
    with errors_as_exit(_ERRORS):
        data = open_data_dir(data_dir)
    with data.engine.connect() as conn:
        for user in list_users(conn):
            click.echo(json.dumps(user, ensure_ascii=False))
