"""``qatys consent …``: the face-check-in consent ledger from the director's desk."""

from __future__ import annotations

import json
from datetime import datetime

import click
from sqlalchemy import select

from qatys.cliutil import emit
from qatys.sentences import Sentence
from qatys.timeutil import local_date, now_us
from server.datadir import DataDir, with_data_dir
from server.errors import FamiliesError
from server.families.consent import (
    ConsentAction,
    ConsentSource,
    as_json,
    ledger,
    longest_until,
    record_consent,
    states,
)
from server.storage import db


@click.group("consent")
def consent_group() -> None:
    """Consent to face check-in: current state, paper forms, withdrawals (append-only)."""


@consent_group.command("list")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json", show_default=True)
def list_command(data: DataDir, kindergarten: str, fmt: str) -> None:
    """The current state of every child: a JSON array of {child_id, status, since, until,
    source, record}; status granted|withdrawn|expired|none."""
    with data.engine.connect() as conn:
        if conn.execute(select(db.kindergartens.c.code)
                        .where(db.kindergartens.c.code == kindergarten)).first() is None:
            raise FamiliesError("not_found", Sentence("kindergarten %(kindergarten)s does not "
                                                      "exist", kindergarten=kindergarten))
        found = states(conn, kindergarten, local_date(now_us()))
    click.echo(json.dumps([as_json(s) for s in found], ensure_ascii=False, indent=1))


@consent_group.command("grant")
@with_data_dir
@click.option("--child", "child_id", required=True)
@click.option("--paper", "paper_ref", required=True, help="The signed form's scan reference.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day (default: a year from today, less a day).")
@click.option("--by", default="director", show_default=True)
def grant(data: DataDir, child_id: str, paper_ref: str, until: datetime | None,
          by: str) -> None:
    """Record a paper consent form (for a parent without a phone); prints the record id."""
    end = until.date() if until else longest_until(local_date(now_us()))
    with data.transaction() as conn:
        record = record_consent(conn, child_id, ConsentAction.GRANT, end, ConsentSource.PAPER,
                                paper_ref, by, now_us())
    click.echo(record)


@consent_group.command("withdraw")
@with_data_dir
@click.option("--child", "child_id", required=True)
@click.option("--paper", "paper_ref", default="", help="The withdrawal form's reference.")
@click.option("--by", default="director", show_default=True)
def withdraw(data: DataDir, child_id: str, paper_ref: str, by: str) -> None:
    """Record a withdrawal (on paper, or told to the director); prints the record id."""
    with data.transaction() as conn:
        record = record_consent(conn, child_id, ConsentAction.WITHDRAW, None,
                                ConsentSource.PAPER if paper_ref else ConsentSource.DIRECTOR,
                                paper_ref, by, now_us())
    click.echo(record)


@consent_group.command("ledger")
@with_data_dir
@click.option("--child", "child_id", required=True)
def ledger_command(data: DataDir, child_id: str) -> None:
    """Every consent record of the child, oldest first: one JSON line each."""
    with data.engine.connect() as conn:
        for entry in ledger(conn, child_id):
            emit(entry)

