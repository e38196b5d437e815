"""0013 baseline: the schema a server of commit 6029b19 made (its migrations 0001–0013).

Frozen: the DDL is written out here and never derived from today's tables, so a database
upgraded from any revision ends exactly like a fresh one. A database made before Alembic
(with a ``schema_migrations`` table naming 0001–0013) is stamped at this revision instead of
running it (server/storage/migrations.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("batch_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.Column("new_events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_hash"),
    )
    op.create_table(
        "equivocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("stored_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("offered_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("batch_raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "guardian_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("used_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_table(
        "guardians",
        sa.Column("guardian_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("removed_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("guardian_id"),
        sa.UniqueConstraint("key_id"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_at_us", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "kindergartens",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("six_day", sa.Boolean(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("district", sa.String(length=100), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at_us", sa.BigInteger(), nullable=False),
        sa.Column("claimed_until_us", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("delivered_at_us", sa.BigInteger(), nullable=True),
        sa.Column("core_reference", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at_us"], unique=False)
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("inputs_digest", sa.String(length=64), nullable=False),
        sa.Column("total", sa.String(length=32), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=False),
        sa.Column("approved_at_us", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kindergarten", "month", "revision", name="uq_approvals_revision"),
    )
    op.create_table(
        "card_keys",
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("seed", sa.LargeBinary(length=32), nullable=False),
        sa.Column("public", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("kindergarten"),
    )
    op.create_table(
        "children",
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("iin", sa.String(length=12), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.String(length=10), nullable=False),
        sa.Column("group_name", sa.String(length=100), nullable=False),
        sa.Column("funding_category", sa.String(length=100), nullable=False),
        sa.Column("enrolled_on", sa.String(length=10), nullable=False),
        sa.Column("withdrawn_on", sa.String(length=10), nullable=True),
        sa.Column("roster_import", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("child_id"),
    )
    op.create_index("ix_children_kindergarten", "children", ["kindergarten"], unique=False)
    op.create_table(
        "closures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("first_day", sa.String(length=10), nullable=False),
        sa.Column("last_day", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_closures_kindergarten", "closures", ["kindergarten"], unique=False)
    op.create_table(
        "month_totals",
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("children", sa.Integer(), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("total", sa.String(length=32), nullable=False),
        sa.Column("inputs_digest", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("computed_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("kindergarten", "month"),
    )
    op.create_table(
        "roster_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("imported_at_us", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "terminal_tokens",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("used_at_us", sa.BigInteger(), nullable=True),
        sa.Column("terminal_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_table(
        "terminals",
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("sign_pub", sa.LargeBinary(length=32), nullable=False),
        sa.Column("box_pub", sa.LargeBinary(length=32), nullable=False),
        sa.Column("enrolled_at_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("last_contact_us", sa.BigInteger(), nullable=True),
        sa.Column("software_version", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("terminal_id"),
        sa.UniqueConstraint("sign_pub"),
    )
    op.create_table(
        "unlock_cards",
        sa.Column("serial", sa.String(length=16), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("secret", sa.LargeBinary(length=32), nullable=False),
        sa.Column("issued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("serial"),
    )
    op.create_index("ix_unlock_cards_kindergarten", "unlock_cards", ["kindergarten"], unique=False)
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at_us", sa.BigInteger(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "absences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("first_day", sa.String(length=10), nullable=False),
        sa.Column("last_day", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("document", sa.String(length=200), nullable=False),
        sa.Column("replaces", sa.Integer(), nullable=True),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.child_id"],
        ),
        sa.ForeignKeyConstraint(
            ["replaces"],
            ["absences.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_absences_child", "absences", ["child_id"], unique=False)
    op.create_table(
        "cards",
        sa.Column("serial", sa.String(length=8), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("issued_on", sa.String(length=10), nullable=False),
        sa.Column("expires_on", sa.String(length=10), nullable=False),
        sa.Column("issued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.child_id"],
        ),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("serial"),
    )
    op.create_index("ix_cards_child", "cards", ["child_id"], unique=False)
    op.create_index("ix_cards_kindergarten", "cards", ["kindergarten"], unique=False)
    op.create_table(
        "consent_notices",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["terminal_id"],
            ["terminals.terminal_id"],
        ),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("until", sa.String(length=10), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("paper_ref", sa.String(length=200), nullable=False),
        sa.Column("guardian_id", sa.String(length=32), nullable=True),
        sa.Column("signed_text", sa.Text(), nullable=True),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=True),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.child_id"],
        ),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_child", "consent_records", ["child_id"], unique=False)
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("assurance", sa.String(length=10), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=True),
        sa.Column("direction", sa.String(length=3), nullable=True),
        sa.Column("body_status", sa.String(length=12), nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("boot_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("mono_ns", sa.BigInteger(), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.Column("batch_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("receipt", sa.String(length=16), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["terminal_id"],
            ["terminals.terminal_id"],
        ),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("terminal_id", "seq", name="uq_events_terminal_seq"),
    )
    op.create_index("ix_events_child_time", "events", ["child_id", "recorded_at_us"], unique=False)
    op.create_index(
        "ix_events_kindergarten_time", "events", ["kindergarten", "recorded_at_us"], unique=False
    )
    op.create_table(
        "face_key_wraps",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_by", sa.String(length=32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["terminal_id"],
            ["terminals.terminal_id"],
        ),
        sa.PrimaryKeyConstraint("key_id", "terminal_id"),
    )
    op.create_index(
        "ix_face_key_wraps_kindergarten", "face_key_wraps", ["kindergarten"], unique=False
    )
    op.create_table(
        "guardian_invitations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("used_at_us", sa.BigInteger(), nullable=True),
        sa.Column("guardian_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.child_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_digest"),
    )
    op.create_table(
        "month_confirmations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guardian_id", sa.String(length=32), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("days", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.child_id"],
        ),
        sa.ForeignKeyConstraint(
            ["guardian_id"],
            ["guardians.guardian_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_confirmations_month", "month_confirmations", ["kindergarten", "month"], unique=False
    )
    op.create_table(
        "terminal_health",
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("reported_at_us", sa.BigInteger(), nullable=False),
        sa.Column("terminal_time_us", sa.BigInteger(), nullable=False),
        sa.Column("skew_us", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("software_version", sa.String(length=40), nullable=False),
        sa.Column("camera", sa.String(length=10), nullable=False),
        sa.Column("storage_free_bytes", sa.BigInteger(), nullable=False),
        sa.Column("checked_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["terminal_id"],
            ["terminals.terminal_id"],
        ),
        sa.PrimaryKeyConstraint("terminal_id"),
    )
    op.create_table(
        "event_time_corrections",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("corrected_at_us", sa.BigInteger(), nullable=False),
        sa.Column("offset_us", sa.BigInteger(), nullable=False),
        sa.Column("found_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.event_id"],
        ),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_corrections_time",
        "event_time_corrections",
        ["kindergarten", "corrected_at_us"],
        unique=False,
    )
    op.create_table(
        "face_templates",
        sa.Column("template_id", sa.String(length=32), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("consent_record", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=True),
        sa.Column("blob_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("enrolled_by", sa.String(length=32), nullable=False),
        sa.Column("uploaded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("erased_at_us", sa.BigInteger(), nullable=True),
        sa.Column("erase_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.child_id"],
        ),
        sa.ForeignKeyConstraint(
            ["consent_record"],
            ["consent_records.id"],
        ),
        sa.ForeignKeyConstraint(
            ["kindergarten"],
            ["kindergartens.code"],
        ),
        sa.PrimaryKeyConstraint("template_id"),
    )
    op.create_index("ix_face_templates_child", "face_templates", ["child_id"], unique=False)
    op.create_index(
        "ix_face_templates_kindergarten", "face_templates", ["kindergarten"], unique=False
    )
    op.create_table(
        "guardian_children",
        sa.Column("guardian_id", sa.String(length=32), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("invitation", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=8), nullable=False),
        sa.Column("binding", sa.LargeBinary(length=64), nullable=False),
        sa.Column("bound_at_us", sa.BigInteger(), nullable=False),
        sa.Column("removed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("removed_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.child_id"],
        ),
        sa.ForeignKeyConstraint(
            ["guardian_id"],
            ["guardians.guardian_id"],
        ),
        sa.ForeignKeyConstraint(
            ["invitation"],
            ["guardian_invitations.id"],
        ),
        sa.PrimaryKeyConstraint("guardian_id", "child_id"),
        sa.UniqueConstraint("serial"),
    )
    op.create_index("ix_guardian_children_child", "guardian_children", ["child_id"], unique=False)
    op.create_table(
        "face_erasures",
        sa.Column("template_id", sa.String(length=32), nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("erased_at_us", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("reported_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["face_templates.template_id"],
        ),
        sa.ForeignKeyConstraint(
            ["terminal_id"],
            ["terminals.terminal_id"],
        ),
        sa.PrimaryKeyConstraint("template_id", "terminal_id"),
    )
    op.create_index("ix_face_erasures_child", "face_erasures", ["child_id"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("migrations only go forward; restore a backup to go back")
