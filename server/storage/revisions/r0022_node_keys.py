"""0022: the server's keys sealed in the database (issue 19), so any number of server nodes
share one set: the first ``qatys server init --kek-file …`` seals each key under a
key-encryption key (AES-256-GCM) that the database never holds, and ``qatys server init
--join`` on another node opens them (server/node_keys.py, docs/security.md)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_keys",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=12), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    raise NotImplementedError("migrations only go forward; restore a backup to go back")
