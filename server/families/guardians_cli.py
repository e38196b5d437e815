"""``qatys guardian …``: invitations for guardians and their removal (docs/parents.md)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from provisioning.card_print import save_qr_png
from qatys.cliutil import emit
from qatys.sentences import Sentence, echo
from qatys.timeutil import iso_utc, now_us
from server.datadir import DataDir, with_data_dir
from server.families.guardians import create_invitation, remove_binding
from server.storage import db


@click.group("guardian")
def guardian_group() -> None:
    """Guardians' phones: one-time invitations, the list, removal."""


@guardian_group.command("invite")
@with_data_dir
@click.option("--child", "child_id", required=True)
@click.option("--days", default=7, show_default=True, type=int, help="Valid for (1-7 days).")
@click.option("--by", default="director", show_default=True, help="Who invites.")
@click.option("--qr", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the invitation QR as a PNG (to print or show).")
def invite(data: DataDir, child_id: str, days: int, by: str, qr: Path | None) -> None:
    """A one-time invitation for a guardian of the child; the URL is on the last line."""
    with data.transaction() as conn:
        invitation = create_invitation(conn, child_id, by, now_us(), days)
    url = f"{data.config.public_url.rstrip('/')}/parents/invite/{invitation.code}"
    if qr is not None:
        save_qr_png(url, qr)
    echo(Sentence("code %(code)s, valid until %(until)s, once", code=invitation.code,
                  until=iso_utc(invitation.expires_at_us)))
    click.echo(url)


@guardian_group.command("list")
@with_data_dir
@click.option("--child", "child_id", required=True)
def list_command(data: DataDir, child_id: str) -> None:
    """The child's guardians and pickup adults: one JSON line each (guardian_id, key_id,
    bound_at, removed_at, kind; a pickup adult's first_name and relation)."""
    with data.engine.connect() as conn:
        rows = conn.execute(
            select(db.guardian_children, db.guardians.c.key_id)
            .join(db.guardians,
                  db.guardians.c.guardian_id == db.guardian_children.c.guardian_id)
            .where(db.guardian_children.c.child_id == child_id)
            .order_by(db.guardian_children.c.bound_at_us))
        for row in rows:
            emit({"guardian_id": row.guardian_id, "key_id": row.key_id,
                  "bound_at": iso_utc(row.bound_at_us),
                  "removed_at": iso_utc(row.removed_at_us) if row.removed_at_us else None,
                  "kind": row.kind,
                  **({"first_name": row.first_name, "relation": row.relation}
                     if row.kind == db.BindingKind.PICKUP else {})})


@guardian_group.command("remove")
@with_data_dir
@click.option("--guardian", "guardian_id", required=True)
@click.option("--child", "child_id", required=True)
@click.option("--by", default="director", show_default=True)
def remove(data: DataDir, guardian_id: str, child_id: str, by: str) -> None:
    """Remove a guardian from a child: pages at once, phone codes at terminals' next sync."""
    with data.transaction() as conn:
        remove_binding(conn, guardian_id, child_id, by, now_us())
    echo(Sentence("%(guardian_id)s removed from %(child_id)s", guardian_id=guardian_id,
                  child_id=child_id))
