"""Money commands: closures, absences, табель, funding statement and "why this amount"."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import select

from qatys.cliutil import emit
from qatys.logs import log
from qatys.sentences import Sentence, echo, plural_sentence
from qatys.timeutil import iso_utc, now_us
from server.datadir import DataDir, with_data_dir
from server.domain.funding import Statement
from server.domain.policy import Policy, PolicyError, decode_policy, load_policy
from server.errors import MoneyInputError
from server.money.approvals import approve, revisions
from server.money.exports import FORMATS, day_mark, write_statement, write_tabel
from server.money.statements import (
    all_statements,
    anomaly_flags,
    parse_month,
    statement_for,
)
from server.registry.records import ABSENCE_CHOICES, AbsenceReason, add_absence, add_closure
from server.storage import db

DATE = click.DateTime(["%Y-%m-%d"])
POLICY = click.option("--policy", "policy_file", type=click.Path(dir_okay=False, exists=True,
                                                                  path_type=Path),
                      default=None, help="A policy file (default: the shipped one).")


def _policy_text(path: Path | None) -> str | None:
    """The policy file's text (None: the shipped one), refused at once when invalid."""
    if path is None:
        return None
    try:
        text = decode_policy(path.read_bytes())
        load_policy(text)
    except PolicyError as exc:
        raise PolicyError(f"{path}: {exc}") from exc
    return text


def _policy(path: Path | None) -> Policy:
    return load_policy(_policy_text(path))


logger = logging.getLogger("qatys.funding")


def _statement(data: DataDir, kindergarten: str, month: str, policy_file: Path | None,
               group: str | None = None, *, report: bool = False) -> Statement:
    """The statement from the primary, or (``report``: a file to read, not to approve) from
    the replica when it holds everything the primary has committed (server/storage/replica.py)."""
    year, number = parse_month(month)
    policy = _policy(policy_file)
    if not report:
        with data.engine.connect() as conn:
            return statement_for(conn, kindergarten, year, number, policy, group)
    with data.reads.report() as (conn, source):
        log(logger, "statement.read", kindergarten=kindergarten, month=month,
            read_from=source)
        return statement_for(conn, kindergarten, year, number, policy, group)


@click.group("closure")
def closure_group() -> None:
    """Days a kindergarten is closed (quarantine, repairs): not working days."""


@closure_group.command("add")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--from", "first", required=True, type=DATE)
@click.option("--to", "last", required=True, type=DATE, help="Last closed day (inclusive).")
@click.option("--reason", required=True)
@click.option("--by", default="administrator", show_default=True, help="Who records it.")
@click.option("--group", default=None,
              help="Close one group on the roster only (default: the whole kindergarten).")
def closure_add(data: DataDir, kindergarten: str, first: datetime, last: datetime,
                reason: str, by: str, group: str | None) -> None:
    """Declare a closure; prints the record's id."""
    with data.transaction() as conn:
        record = add_closure(conn, kindergarten, first.date(), last.date(), reason, by,
                             now_us(), group)
    click.echo(record)


@click.group("absence")
def absence_group() -> None:
    """Absences with a reason: new records only; a correction replaces or cancels."""


@absence_group.command("add")
@with_data_dir
@click.option("--child", "child_id", required=True)
@click.option("--from", "first", required=True, type=DATE)
@click.option("--to", "last", required=True, type=DATE, help="Last day (inclusive).")
@click.option("--reason", required=True, type=click.Choice(ABSENCE_CHOICES))
@click.option("--document", default="", help="Medical certificate or order reference.")
@click.option("--by", default="director", show_default=True, help="Who records it.")
@click.option("--replaces", type=int, default=None,
              help="The id of an earlier record this one corrects (it stays, out of effect).")
def absence_add(data: DataDir, child_id: str, first: datetime, last: datetime, reason: str,
                document: str, by: str, replaces: int | None) -> None:
    """Record an absence (or its correction); prints the record's id."""
    with data.transaction() as conn:
        record = add_absence(conn, child_id, first.date(), last.date(),
                             AbsenceReason(reason), document, by, now_us(), replaces)
    click.echo(record)


@click.command("tabel")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--group", default=None)
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@POLICY
def tabel_command(data: DataDir, kindergarten: str, month: str, group: str | None, fmt: str,
                  out: Path, policy_file: Path | None) -> None:
    """The monthly attendance sheet: children × days, marks with method or absence reason."""
    write_tabel(_statement(data, kindergarten, month, policy_file, group, report=True), fmt,
                out)
    echo(Sentence("attendance sheet written to %(out)s", out=out))


@click.group("funding")
def funding_group() -> None:
    """Funding statements under a versioned policy (docs/policy.md)."""


@funding_group.command("statement")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@POLICY
def statement_command(data: DataDir, kindergarten: str, month: str, fmt: str, out: Path,
                      policy_file: Path | None) -> None:
    """One kindergarten's statement for a month; the total is printed on the last line."""
    statement = _statement(data, kindergarten, month, policy_file, report=True)
    write_statement(statement, fmt, out)
    echo(Sentence("statement written to %(out)s; inputs sha256 %(digest)s", out=out,
                  digest=statement.inputs_digest), err=True)
    click.echo(f"{statement.total:.2f}")


@funding_group.command("statements")
@with_data_dir
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--workers", type=int, default=None, help="Processes (default: one per core).")
@POLICY
def statements_command(data: DataDir, month: str, out_dir: Path, workers: int | None,
                       policy_file: Path | None) -> None:
    """Every kindergarten's statement as CODE-YYYY-MM.json: the month-end run for a region."""
    year, number = parse_month(month)
    policy_text = _policy_text(policy_file)  # refused before any work starts
    with data.engine.connect() as conn:
        codes = [str(c) for c in conn.execute(select(db.kindergartens.c.code)
                                              .order_by(db.kindergartens.c.code)).scalars()]
    out_dir.mkdir(parents=True, exist_ok=True)
    engine, source = data.reads.caught_up_engine(data.reads.target())
    log(logger, "statements.read", month=month, read_from=source)
    for done, (code, body) in enumerate(all_statements(
            engine.url.render_as_string(hide_password=False), codes, year, number, policy_text,
            workers), start=1):
        (out_dir / f"{code}-{month}.json").write_bytes(body)
        click.echo(f"{done}/{len(codes)} {code}", err=True)
    echo(plural_sentence("%(count)s statement written to %(out)s",
                         "%(count)s statements written to %(out)s", len(codes), out=out_dir))


@funding_group.command("approve")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--by", required=True, help="Who approves (recorded in the trail).")
@click.option("--note", default="", help="Why: required for a correction of an approved month.")
@POLICY
def approve_command(data: DataDir, kindergarten: str, month: str, by: str, note: str,
                    policy_file: Path | None) -> None:
    """Approve the month's statement: locks it and queues it for the queue core.

    A later approval of the same month is a correction (revision 2, 3 …) and needs --note."""
    statement = _statement(data, kindergarten, month, policy_file)
    with data.transaction() as conn:
        approved = approve(conn, statement, by, note, now_us(), data.keys.sign_seed)
    emit({"kindergarten": kindergarten, "month": month, "revision": approved.revision,
          "total": approved.total, "idempotency_key": approved.idempotency_key})


@funding_group.command("approvals")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--month", required=True, help="YYYY-MM")
def approvals_command(data: DataDir, kindergarten: str, month: str) -> None:
    """The month's approvals and corrections, oldest first; one JSON line each."""
    parse_month(month)
    with data.engine.connect() as conn:
        trail = revisions(conn, kindergarten, month)
    for row in trail:
        emit({"revision": row.revision, "total": row.total, "inputs_digest": row.inputs_digest,
              "approved_by": row.approved_by, "approved_at": iso_utc(row.approved_at_us),
              "note": row.note})


@funding_group.command("anomalies")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--month", required=True, help="YYYY-MM")
def anomalies_command(data: DataDir, kindergarten: str, month: str) -> None:
    """Anomaly flags for the month: one JSON line each (rule, day, summary, event ids, code,
    params)."""
    year, number = parse_month(month)
    with data.engine.connect() as conn:
        flags = anomaly_flags(conn, kindergarten, year, number)
    for flag in flags:
        sys.stdout.write(json.dumps({
            "rule": flag.rule, "kindergarten": flag.kindergarten,
            "day": flag.day.isoformat() if flag.day else None, "summary": flag.summary,
            "event_ids": list(flag.event_ids), "code": flag.code, "params": dict(flag.params)},
            ensure_ascii=False) + "\n")


@funding_group.command("why")
@with_data_dir
@click.option("--child", "child_id", required=True)
@click.option("--kindergarten", required=True)
@click.option("--month", required=True, help="YYYY-MM")
@POLICY
def why_command(data: DataDir, child_id: str, kindergarten: str, month: str,
                policy_file: Path | None) -> None:
    """Why this amount: one JSON line per day with its evidence or absence record."""
    statement = _statement(data, kindergarten, month, policy_file, report=True)
    line = next((c for c in statement.children if c.child_id == child_id), None)
    if line is None:
        raise MoneyInputError(Sentence("child %(child_id)s is not in %(kindergarten)s's statement "
                                       "for %(month)s", child_id=child_id,
                                       kindergarten=kindergarten, month=month))
    for day in line.days:
        sys.stdout.write(json.dumps({
            "date": day.day.isoformat(), "mark": day.mark, "code": day_mark(day),
            "reason": day.reason, "absence_record": day.absence_record,
            "evidence": [{"event_id": e.event_id, "method": e.method,
                          "assurance": e.assurance} for e in day.evidence]},
            ensure_ascii=False) + "\n")
    sys.stdout.write(json.dumps({"child_id": child_id, "present_days": line.present_days,
                                 "paid_absence_days": line.paid_absence_days,
                                 "norm": f"{line.norm:.2f}", "amount": f"{line.amount:.2f}",
                                 "working_days": statement.working_days},
                                ensure_ascii=False) + "\n")
