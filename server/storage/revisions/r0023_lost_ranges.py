"""0023: nothing lost after a restore (issue 20). ``lost_ranges`` keeps each range of a
terminal's chain the terminal declared lost (protocol/gaps.py: the server's head was behind
what it had acknowledged and the terminal had pruned those events after its retention window),
with the signed declaration; ``terminal_health`` learns how often a terminal found the server
behind and sent its retained events again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lost_ranges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("first_time_us", sa.BigInteger(), nullable=False),
        sa.Column("last_time_us", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("declared_us", sa.BigInteger(), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.Column("declaration", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.terminal_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("terminal_id", "first_seq", name="uq_lost_ranges_terminal_first"),
    )
    op.create_index("ix_lost_ranges_kindergarten_time", "lost_ranges",
                    ["kindergarten", "first_time_us"])
    op.add_column("terminal_health", sa.Column("server_behind", sa.Integer(), nullable=True))
    op.add_column("terminal_health",
                  sa.Column("server_behind_us", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("migrations only go forward; restore a backup to go back")
