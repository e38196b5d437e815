"""Administrator commands: kindergartens, rosters, terminal tokens and revocation (``qatys
terminal token`` and ``revoke`` are declared here; the ``qatys`` command puts them under
``terminal``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from protocol import enrolment
from provisioning.card_print import save_qr_png, write_card, write_pdf
from provisioning.errors import InvalidInput
from qatys.sentences import Sentence, echo, plural_sentence
from qatys.timeutil import iso_utc, local_date, now_us
from server.datadir import DataDir, with_data_dir
from server.registry.cards import children_for_sheet, issue_card, revoke_card
from server.registry.kindergartens import add_kindergarten, set_closing_time
from server.registry.roster import import_roster
from server.registry.terminals import issue_token, revoke_terminal
from server.registry.unlock_cards import issue_card as issue_unlock_card
from server.registry.unlock_cards import list_cards
from server.registry.unlock_cards import revoke_card as revoke_unlock_card


@click.group("kindergarten")
def kindergarten_group() -> None:
    """Kindergartens known to this server."""


@kindergarten_group.command("add")
@with_data_dir
@click.option("--code", required=True, help="Short code, e.g. the queue core's id.")
@click.option("--name", required=True, help="Name shown on pages and cards.")
@click.option("--six-day", is_flag=True, help="Open Monday to Saturday.")
@click.option("--district", default="", help="District of the education department "
              "(finance pages group kindergartens by it).")
def kindergarten_add(data: DataDir, code: str, name: str, six_day: bool, district: str) -> None:
    """Add a kindergarten."""
    with data.transaction() as conn:
        add_kindergarten(conn, code, name, six_day, district)
    echo(Sentence("kindergarten %(code)s added", code=code))


@kindergarten_group.command("closing")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--at", "closes_at", required=True, help="Local time HH:MM the day ends.")
def kindergarten_closing(data: DataDir, kindergarten: str, closes_at: str) -> None:
    """Set the closing time (the office's "still here" list starts then; default 19:00)."""
    with data.transaction() as conn:
        set_closing_time(conn, kindergarten, closes_at)
    echo(Sentence("kindergarten %(code)s closes at %(closes_at)s", code=kindergarten,
                  closes_at=closes_at))


@click.group("roster")
def roster_group() -> None:
    """Children of a kindergarten, as sent by the queue core."""


@roster_group.command("import")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.argument("csv_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def roster_import(data: DataDir, kindergarten: str, csv_file: Path) -> None:
    """Import a roster CSV (all rows or none; every bad line is named)."""
    raw = csv_file.read_bytes()  # decoded by the roster's rules: UTF-8, or Excel's cp1251
    with data.transaction() as conn:
        summary = import_roster(conn, kindergarten, raw, csv_file.name, local_date(now_us()))
    echo(Sentence("roster of %(kindergarten)s: %(added)s added, %(updated)s updated, "
                  "%(unchanged)s unchanged", kindergarten=kindergarten, added=summary.added,
                  updated=summary.updated, unchanged=summary.unchanged))


@click.group("unlock-card")
def unlock_card_group() -> None:
    """Directors' unlock cards: open a terminal's roster offline after a reboot."""


@unlock_card_group.command("issue")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--qr", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the card's QR code as a PNG.")
def unlock_card_issue(data: DataDir, kindergarten: str, qr: Path | None) -> None:
    """Issue a card; its text (a secret: print it, keep it in the safe) is the last line."""
    with data.transaction() as conn:
        card = issue_unlock_card(conn, kindergarten, now_us())
    if qr is not None:
        save_qr_png(str(card), qr)
        echo(Sentence("QR code written to %(path)s", path=qr), err=True)
    echo(Sentence("unlock card %(serial)s for kindergarten %(kindergarten)s; terminals accept "
                  "it after their next roster sync", serial=card.serial,
                  kindergarten=kindergarten), err=True)
    click.echo(str(card))


@unlock_card_group.command("revoke")
@with_data_dir
@click.argument("serial")
@click.option("--reason", default="revoked by administrator", show_default=True)
def unlock_card_revoke(data: DataDir, serial: str, reason: str) -> None:
    """Revoke a lost card; terminals refuse it from their next roster sync on."""
    with data.transaction() as conn:
        changed = revoke_unlock_card(conn, serial, reason, now_us())
    echo(_revoked(changed, Sentence("unlock card %(serial)s", serial=serial)))


@unlock_card_group.command("list")
@with_data_dir
@click.option("--kindergarten", required=True)
def unlock_card_list(data: DataDir, kindergarten: str) -> None:
    """Serials, issue dates and revocations (never the secrets)."""
    with data.engine.connect() as conn:
        cards = list_cards(conn, kindergarten)
    for c in cards:
        issued = iso_utc(c.issued_at_us)
        if c.revoked_at_us:
            echo(Sentence("%(serial)s  issued %(issued)s  revoked %(revoked)s", serial=c.serial,
                          issued=issued, revoked=iso_utc(c.revoked_at_us)))
        else:
            echo(Sentence("%(serial)s  issued %(issued)s  valid", serial=c.serial,
                          issued=issued))


@click.command("token")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--qr", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the enrolment QR (server address + token) as a PNG.")
def token_command(data: DataDir, kindergarten: str, qr: Path | None) -> None:
    """Issue a one-time enrolment token (valid one hour); printed on the last line."""
    now = now_us()
    with data.transaction() as conn:
        token = issue_token(conn, kindergarten, data.keys.sign_public, now,
                            data.config.token_ttl_seconds)
    if qr is not None:
        save_qr_png(enrolment.enrolment_uri(data.config.public_url, token), qr)
        echo(Sentence("QR code written to %(path)s", path=qr), err=True)
    expires = iso_utc(now + data.config.token_ttl_seconds * 1_000_000)
    echo(Sentence("valid until %(expires)s, once, for kindergarten %(kindergarten)s",
                  expires=expires, kindergarten=kindergarten), err=True)
    click.echo(str(token))


@click.command("revoke")
@with_data_dir
@click.argument("terminal_id")
@click.option("--reason", default="revoked by administrator", show_default=True)
def revoke_command(data: DataDir, terminal_id: str, reason: str) -> None:
    """Revoke a terminal at once (server side)."""
    with data.transaction() as conn:
        changed = revoke_terminal(conn, terminal_id, reason, now_us())
    echo(_revoked(changed, Sentence("terminal %(terminal_id)s", terminal_id=terminal_id)))


@click.group("card")
def card_group() -> None:
    """Children's QR cards: issue, print a sheet, revoke."""


@card_group.command("issue")
@with_data_dir
@click.option("--child", "child_id", required=True, help="Child id from the roster.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.png or FILE.pdf")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last valid day (default: two years, or the day the child leaves).")
def card_issue(data: DataDir, child_id: str, out: Path, expires: datetime | None) -> None:
    """Issue a new card for a child and write it; the card's serial is the last line."""
    if out.suffix.lower() not in (".png", ".pdf"):
        raise InvalidInput(Sentence("the card file must end in .png or .pdf"))
    now = now_us()
    with data.transaction() as conn:
        issued = issue_card(conn, child_id, local_date(now), now,
                            expires.date() if expires else None)
        write_card(issued, out)  # inside: a card that cannot be written is not issued
    echo(Sentence("card written to %(out)s; valid until %(expires)s", out=out,
                  expires=issued.card.expires), err=True)
    click.echo(issued.card.serial)


@card_group.command("sheet")
@with_data_dir
@click.option("--kindergarten", required=True)
@click.option("--group", default=None, help="Only this group (as in the roster).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.pdf (A4, ten cards a page, dashed cut lines)")
def card_sheet(data: DataDir, kindergarten: str, group: str | None, out: Path) -> None:
    """Issue a new card for every enrolled child (of a group) on A4 sheets."""
    if out.suffix.lower() != ".pdf":
        raise InvalidInput(Sentence("the sheet file must end in .pdf"))
    now = now_us()
    today = local_date(now)
    with data.transaction() as conn:
        issued = [issue_card(conn, child, today, now)
                  for child in children_for_sheet(conn, kindergarten, today, group)]
        write_pdf(issued, out, sheet=True)
    echo(plural_sentence("%(count)s card written to %(out)s", "%(count)s cards written to %(out)s",
                         len(issued), out=out))


@card_group.command("revoke")
@with_data_dir
@click.argument("serial")
@click.option("--reason", default="lost", show_default=True)
def card_revoke(data: DataDir, serial: str, reason: str) -> None:
    """Revoke a card by serial; terminals refuse it from their next sync on."""
    with data.transaction() as conn:
        changed = revoke_card(conn, serial, reason, now_us())
    echo(_revoked(changed, Sentence("card %(serial)s", serial=serial)))

def _revoked(changed: bool, what: Sentence) -> Sentence:
    """What a revoke command says: revoked now, or already (nothing changed)."""
    if changed:
        return Sentence("%(what)s revoked", what=what)
    return Sentence("%(what)s was already revoked", what=what)

