"""0016: the office in the browser (issue 17): teachers' groups and operators' districts,
each kindergarten's closing time, closures of one group, documents sealed at rest
(certificates, consent forms' scans) linked from absences and paper consent records, the
staff's audit trail, and what each roster import changed."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("kindergartens", sa.Column("closes_at", sa.String(length=5), nullable=True))
    op.add_column("closures", sa.Column("group_name", sa.String(length=100), nullable=True))
    op.add_column("users", sa.Column("district", sa.String(length=100), nullable=True))
    op.create_table(
        "user_groups",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("group_name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["users.username"]),
        sa.PrimaryKeyConstraint("username", "group_name"),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["kindergarten"], ["kindergartens.code"]),
        sa.ForeignKeyConstraint(["child_id"], ["children.child_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_documents_child", "documents", ["child_id"])
    op.create_table(
        "audit_trail",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("kindergarten", sa.String(length=32), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_trail_kindergarten", "audit_trail", ["kindergarten", "at_us"])
    _add_document_reference("absences", "document_id")
    _add_document_reference("consent_records", "scan_document_id")
    for name in ("added", "updated", "unchanged"):
        op.add_column("roster_imports", sa.Column(name, sa.Integer(), nullable=True))


def _add_document_reference(table: str, column: str) -> None:
    """A nullable column referring to a document. SQLite takes the reference inside its
    ALTER TABLE … ADD COLUMN (Alembic would copy the whole table to add it as a constraint);
    PostgreSQL adds the constraint beside the column."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES documents (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), sa.ForeignKey("documents.id"),
                                       nullable=True))


def downgrade() -> None:
    raise NotImplementedError("migrations only go forward; restore a backup to go back")
