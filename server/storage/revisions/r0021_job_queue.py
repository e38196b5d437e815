"""0021: work in a job queue on the database (issue 19): a job is queued by the page and
claimed by any ``qatys server worker`` (``claimed_by``, how many ``attempts``); a month job
notes which kindergartens it has written (``month_totals.job_id``), so another worker picks up
where a killed one stopped; ``schedules`` lets N workers share one timetable of periodic work
(roster pulls), each slot taken by one of them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("claimed_by", sa.String(length=64), nullable=True))
    op.add_column("jobs", sa.Column("attempts", sa.Integer(), nullable=False,
                                    server_default="0"))
    op.create_index("ix_jobs_status", "jobs", ["status", "id"])
    op.add_column("month_totals", sa.Column("job_id", sa.Integer(), nullable=True))
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("due_at_us", sa.BigInteger(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("ran_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    raise NotImplementedError("migrations only go forward; restore a backup to go back")
