"""0019: Web Push notifications (issue 18): the phones' subscriptions and the outbox of
messages toward their push services (docs/notifications.md)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guardian_id", sa.String(length=32), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("p256dh", sa.String(length=100), nullable=False),
        sa.Column("auth", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("dropped_at_us", sa.BigInteger(), nullable=True),
        sa.Column("drop_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["guardian_id"], ["guardians.guardian_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_push_subscriptions_guardian", "push_subscriptions", ["guardian_id"])
    op.create_table(
        "push_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_at_us", sa.BigInteger(), nullable=False),
        sa.Column("claimed_until_us", sa.BigInteger(), nullable=True),
        sa.Column("sent_at_us", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["subscription_id"], ["push_subscriptions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    op.create_index("ix_push_outbox_due", "push_outbox", ["status", "next_attempt_at_us"])
    op.create_index("ix_push_outbox_subscription", "push_outbox", ["subscription_id"])


def downgrade() -> None:
    raise NotImplementedError("migrations only go forward; restore a backup to go back")
