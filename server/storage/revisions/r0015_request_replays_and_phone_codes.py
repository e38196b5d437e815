"""0015: signed terminal requests already taken (freshness, protocol 2), and the phone code a
check-in was made with (the ``phone_code_reused`` flag) (issue 15)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_replays",
        sa.Column("digest", sa.LargeBinary(length=16), nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_request_replays_expiry", "request_replays", ["expires_at_us"])
    op.add_column("events", sa.Column("phone_code", sa.String(length=40), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("migrations only go forward; restore a backup to go back")
