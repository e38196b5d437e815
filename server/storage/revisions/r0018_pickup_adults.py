"""0018: adults a guardian allows to collect the child (issue 18): a binding and an
invitation are a guardian's or a pickup adult's (``kind``, existing rows ``guardian``), a
pickup adult's carry the first name, the relation and the guardian who added them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("guardian_invitations", "guardian_children"):
        op.add_column(table, sa.Column("kind", sa.String(length=10), nullable=False,
                                       server_default="guardian"))
        op.add_column(table, sa.Column("first_name", sa.String(length=100), nullable=True))
        op.add_column(table, sa.Column("relation", sa.String(length=20), nullable=True))
    op.add_column("guardian_children", sa.Column("added_by", sa.String(length=32),
                                                 nullable=True))


def downgrade() -> None:
    raise NotImplementedError("migrations only go forward; restore a backup to go back")
