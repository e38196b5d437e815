"""``qatys user …``: accounts for the finance and office pages (docs/finance.md,
docs/office.md)."""

from __future__ import annotations

import json
import sys

import click

from qatys.sentences import Sentence, echo
from qatys.timeutil import now_us
from server.datadir import DataDir, with_data_dir
from server.staff.accounts import ROLES, add_user, disable_user, list_users


@click.group("user")
def user_group() -> None:
    """People who sign in to the finance and office pages, each with one role."""


@user_group.command("add")
@with_data_dir
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--kindergarten", default=None,
              help="The director's or teacher's kindergarten (those roles only).")
@click.option("--group", "groups", multiple=True,
              help="A teacher's group as in the roster (repeat for several; teachers only).")
@click.option("--district", default=None, help="The operator's district (operators only).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of asking.")
def user_add(data: DataDir, username: str, role: str, kindergarten: str | None,
             groups: tuple[str, ...], district: str | None, password_stdin: bool) -> None:
    """Add an account; the password is asked for (never given on the command line)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with data.transaction() as conn:
        add_user(conn, username, password, role, kindergarten, now_us(), district=district,
                 groups=groups)
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
