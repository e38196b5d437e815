"""0014: the web side's sessions, rate limits and recorded consent signatures (issue 15).

Consent messages phone-signed before this revision count as recorded, so none of them can be
replayed afterwards.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.Column("revoke_reason", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id_digest"),
    )
    op.create_index("ix_web_sessions_expiry", "web_sessions", ["expires_at_us"])
    op.create_index("ix_web_sessions_subject", "web_sessions", ["kind", "subject"])
    op.create_table(
        "rate_limits",
        sa.Column("key_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_ends_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_digest"),
    )
    op.create_index("ix_rate_limits_window", "rate_limits", ["window_ends_at_us"])
    signatures = op.create_table(
        "consent_signatures",
        sa.Column("guardian_id", sa.String(length=32), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("signed_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("signature_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.child_id"]),
        sa.ForeignKeyConstraint(["guardian_id"], ["guardians.guardian_id"]),
        sa.ForeignKeyConstraint(["record_id"], ["consent_records.id"]),
        sa.PrimaryKeyConstraint("guardian_id", "child_id", "signed_at_ms"),
        sa.UniqueConstraint("signature_sha256"),
    )
    _record_earlier_signatures(signatures)


def _record_earlier_signatures(signatures: sa.Table) -> None:
    """Each phone-signed consent message already in the ledger, once (by guardian, child and
    signing time, and by signature)."""
    records = sa.table("consent_records", sa.column("id"), sa.column("guardian_id"),
                       sa.column("child_id"), sa.column("signed_text"), sa.column("signature"))
    seen: set[tuple[str, str, int]] = set()
    digests: set[bytes] = set()
    conn = op.get_bind()
    for row in conn.execute(sa.select(records).where(records.c.signature.is_not(None))
                            .order_by(records.c.id)):
        signed_at = (row.signed_text or "").rsplit("\n", 1)[-1]
        if row.guardian_id is None or not signed_at.isdigit():
            continue
        key = (row.guardian_id, row.child_id, int(signed_at))
        digest = hashlib.sha256(bytes(row.signature)).digest()
        if key in seen or digest in digests:
            continue
        seen.add(key)
        digests.add(digest)
        conn.execute(signatures.insert().values(
            guardian_id=key[0], child_id=key[1], signed_at_ms=key[2], signature_sha256=digest,
            record_id=row.id))


def downgrade() -> None:
    raise NotImplementedError("migrations only go forward; restore a backup to go back")
