"""0017: absences reported from a guardian's phone (issue 18): the dates, the reason, the
guardian's note and, where there is one, the certificate's photo (a sealed document); the
director accepts (the report becomes an absence record) or declines with a note."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "absence_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("guardian_id", sa.String(length=32), nullable=False),
        sa.Column("first_day", sa.String(length=10), nullable=False),
        sa.Column("last_day", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reported_at_us", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at_us", sa.BigInteger(), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("absence_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["child_id"], ["children.child_id"]),
        sa.ForeignKeyConstraint(["kindergarten"], ["kindergartens.code"]),
        sa.ForeignKeyConstraint(["guardian_id"], ["guardians.guardian_id"]),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.ForeignKeyConstraint(["absence_id"], ["absences.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_absence_reports_child", "absence_reports", ["child_id"])
    op.create_index("ix_absence_reports_kindergarten", "absence_reports",
                    ["kindergarten", "status"])


def downgrade() -> None:
    raise NotImplementedError("migrations only go forward; restore a backup to go back")
