"""Server storage through SQLAlchemy Core: one schema for SQLite (default) and PostgreSQL.

Times are integer microseconds since the epoch, UTC (columns ending in ``_us``);
hashes, keys and event bytes are stored as binary, verbatim.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)

metadata = MetaData()


class BodyStatus(StrEnum):
    """``events.body_status``: whether the server could open the event's sealed body."""
    OK = "ok"
    UNREADABLE = "unreadable"
    """Stored for the chain's sake, counted nowhere (no child, no receipt)."""



DEFAULT_CLOSING = "19:00"
"""When a kindergarten's day ends unless it says otherwise (``kindergartens.closes_at``): the
office's "still here" list and the guardians' "not collected yet" message start then."""

kindergartens = Table(
    "kindergartens", metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("six_day", Boolean, nullable=False, default=False),
    Column("created_at_us", BigInteger, nullable=False),
    # The education department's district: finance staff read the month per district.
    Column("district", String(100), nullable=False, default="", server_default=""),
    # When the day ends (local "HH:MM", 0016): the office's "still here" list starts then;
    # none means DEFAULT_CLOSING.
    Column("closes_at", String(5), nullable=True),
)

children = Table(
    "children", metadata,
    Column("child_id", String(64), primary_key=True),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("iin", String(12), nullable=False),
    Column("last_name", String(200), nullable=False),
    Column("first_name", String(200), nullable=False),
    Column("birth_date", String(10), nullable=False),
    Column("group_name", String(100), nullable=False),
    Column("funding_category", String(100), nullable=False),
    Column("enrolled_on", String(10), nullable=False),
    Column("withdrawn_on", String(10), nullable=True),
    Column("roster_import", Integer, nullable=False),
    Index("ix_children_kindergarten", "kindergarten"),
)

roster_imports = Table(
    "roster_imports", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("imported_at_us", BigInteger, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source", String(200), nullable=False),
    # What the import changed (0016; unknown for imports before it): the office shows it.
    Column("added", Integer, nullable=True),
    Column("updated", Integer, nullable=True),
    Column("unchanged", Integer, nullable=True),
)

terminal_tokens = Table(
    "terminal_tokens", metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used_at_us", BigInteger, nullable=True),
    Column("terminal_id", String(32), nullable=True),
)

terminals = Table(
    "terminals", metadata,
    Column("terminal_id", String(32), primary_key=True),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("sign_pub", LargeBinary(32), nullable=False, unique=True),
    Column("box_pub", LargeBinary(32), nullable=False),
    Column("enrolled_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("revoke_reason", Text, nullable=True),
    Column("head_seq", BigInteger, nullable=False, default=0),
    Column("head_hash", LargeBinary(32), nullable=False),
    Column("last_contact_us", BigInteger, nullable=True),
    Column("software_version", String(40), nullable=False, default=""),
)

events = Table(
    "events", metadata,
    Column("event_id", String(64), primary_key=True),
    Column("terminal_id", String(32), ForeignKey("terminals.terminal_id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kindergarten", String(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("method", String(20), nullable=False),
    Column("assurance", String(10), nullable=False),
    Column("child_id", String(64), nullable=True),
    Column("direction", String(3), nullable=True),
    Column("body_status", String(12), nullable=False),  # BodyStatus
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("boot_id", LargeBinary(16), nullable=False),
    Column("mono_ns", BigInteger, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Column("batch_hash", LargeBinary(32), nullable=False),
    # The code shown at the door for this scan; the parent finds it in the child's record.
    Column("receipt", String(16), nullable=True),
    # For a terminal's own system events (outage ledger): what happened, e.g. "offline"; for
    # a manual entry at the door, the staff's reason (since 0016: the office lists them).
    Column("note", String(200), nullable=True),
    # For a guardian's phone code: its binding serial and window (a code taken at two
    # terminals is flagged phone_code_reused).
    Column("phone_code", String(40), nullable=True),
    UniqueConstraint("terminal_id", "seq", name="uq_events_terminal_seq"),
    Index("ix_events_kindergarten_time", "kindergarten", "recorded_at_us"),
    # A child's check-ins in a time range: the "why" pages and the flag for a child seen at two
    # kindergartens (0008 replaced the plain child_id index).
    Index("ix_events_child_time", "child_id", "recorded_at_us"),
)

unlock_cards = Table(
    "unlock_cards", metadata,
    Column("serial", String(16), primary_key=True),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    # The card's secret: the server wraps each new roster key under it.
    Column("secret", LargeBinary(32), nullable=False),
    Column("issued_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("revoked_reason", Text, nullable=True),
    Index("ix_unlock_cards_kindergarten", "kindergarten"),
)

card_keys = Table(
    "card_keys", metadata,
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), primary_key=True),
    # The kindergarten's card-signing key (Ed25519 seed); terminals get the public half.
    Column("seed", LargeBinary(32), nullable=False),
    Column("public", LargeBinary(32), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

cards = Table(
    "cards", metadata,
    Column("serial", String(8), primary_key=True),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("child_id", String(64), ForeignKey("children.child_id"), nullable=False),
    Column("issued_on", String(10), nullable=False),
    Column("expires_on", String(10), nullable=False),
    Column("issued_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("revoked_reason", Text, nullable=True),
    Index("ix_cards_kindergarten", "kindergarten"),
    Index("ix_cards_child", "child_id"),
)

batches = Table(
    "batches", metadata,
    Column("batch_hash", LargeBinary(32), primary_key=True),
    Column("terminal_id", String(32), nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Column("new_events", Integer, nullable=False),
)

closures = Table(
    "closures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("first_day", String(10), nullable=False),
    Column("last_day", String(10), nullable=False),
    Column("reason", Text, nullable=False),
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("recorded_by", String(200), nullable=False),
    # One group closed rather than the whole kindergarten (0016); none: every group.
    Column("group_name", String(100), nullable=True),
    Index("ix_closures_kindergarten", "kindergarten"),
)

# Absence records are never edited: a correction is a new record that replaces an earlier one
# (``replaces``), or cancels it (``reason`` = "cancelled").
absences = Table(
    "absences", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("child_id", String(64), ForeignKey("children.child_id"), nullable=False),
    Column("first_day", String(10), nullable=False),
    Column("last_day", String(10), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("document", String(200), nullable=False, default=""),
    Column("replaces", Integer, ForeignKey("absences.id"), nullable=True),
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("recorded_by", String(200), nullable=False),
    # The certificate itself, uploaded in the office (0016): a sealed document.
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=True),
    Index("ix_absences_child", "child_id"),
)

# Statements waiting for the queue core: written in the same transaction as the approval, sent
# until the core acknowledges; the idempotency key makes a repeated send one in effect.
outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("kindergarten", String(32), nullable=False),
    Column("month", String(7), nullable=False),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("body", LargeBinary, nullable=False),
    Column("signature", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),  # pending | delivered | refused
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at_us", BigInteger, nullable=False),
    Column("claimed_until_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    Column("delivered_at_us", BigInteger, nullable=True),
    Column("core_reference", String(200), nullable=True),
    Index("ix_outbox_due", "status", "next_attempt_at_us"),
)

# People who sign in to the finance pages. Directors are bound to one kindergarten.
users = Table(
    "users", metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # server.staff.accounts.Role
    # A director's or teacher's kindergarten; an operator's district (0016).
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("disabled_at_us", BigInteger, nullable=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until_us", BigInteger, nullable=True),
    Column("district", String(100), nullable=True),
)

# The groups a teacher's account covers (0016): today's list and absences of these only.
user_groups = Table(
    "user_groups", metadata,
    Column("username", String(64), ForeignKey("users.username"), primary_key=True),
    Column("group_name", String(100), primary_key=True),
)

# An approved statement, byte for byte. A change after approval is a new revision that
# replaces the previous one: the trail is the list of revisions.
approvals = Table(
    "approvals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("month", String(7), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("statement", LargeBinary, nullable=False),
    Column("inputs_digest", String(64), nullable=False),
    Column("total", String(32), nullable=False),
    Column("approved_by", String(64), nullable=False),
    Column("approved_at_us", BigInteger, nullable=False),
    Column("note", Text, nullable=False, default=""),
    UniqueConstraint("kindergarten", "month", "revision", name="uq_approvals_revision"),
)

# The month overview's figures per kindergarten, refreshed by a background job with progress.
month_totals = Table(
    "month_totals", metadata,
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("children", Integer, nullable=False),
    Column("working_days", Integer, nullable=False),
    Column("total", String(32), nullable=False),
    Column("inputs_digest", String(64), nullable=False),
    Column("policy_version", String(40), nullable=False),
    Column("flags", Integer, nullable=False),
    Column("computed_at_us", BigInteger, nullable=False),
    Column("job_id", Integer, nullable=True),  # the month job that wrote it (resumable)
)

jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("month", String(7), nullable=False),
    Column("status", String(12), nullable=False),  # server.jobs.queue.JobStatus
    Column("done", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("started_by", String(64), nullable=False),
    Column("started_at_us", BigInteger, nullable=False),
    Column("heartbeat_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    Column("error", Text, nullable=False, default=""),
    Column("claimed_by", String(64), nullable=True),  # the worker running it
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_jobs_status", "status", "id"),
)

# Periodic work shared by N workers (server/jobs/queue.py): each slot is taken by one.
schedules = Table(
    "schedules", metadata,
    Column("name", String(40), primary_key=True),
    Column("due_at_us", BigInteger, nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("ran_at_us", BigInteger, nullable=True),
)

# The server's keys sealed under a key-encryption key no database holds (server/node_keys.py):
# what a new server node joins with (`qatys server init --join`).
node_keys = Table(
    "node_keys", metadata,
    Column("name", String(40), primary_key=True),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("sealed_at_us", BigInteger, nullable=False),
)

# Parents' pages (docs/parents.md). An invitation is stored as the digest of its code only.
guardian_invitations = Table(
    "guardian_invitations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code_digest", LargeBinary(32), nullable=False, unique=True),
    Column("child_id", String(64), ForeignKey("children.child_id"), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used_at_us", BigInteger, nullable=True),
    Column("guardian_id", String(32), nullable=True),
    # Since 0018: a guardian's invitation or a pickup adult's (kind pickup, with the adult's
    # first name and relation; created_by is then ``guardian:<id>``).
    Column("kind", String(10), nullable=False, default="guardian", server_default="guardian"),
    Column("first_name", String(100), nullable=True),
    Column("relation", String(20), nullable=True),
)

# A guardian is one phone's key: the browser made it and keeps the private half.
guardians = Table(
    "guardians", metadata,
    Column("guardian_id", String(32), primary_key=True),
    Column("key_id", String(16), nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),  # SubjectPublicKeyInfo, ECDSA P-256
    Column("created_at_us", BigInteger, nullable=False),
    Column("removed_at_us", BigInteger, nullable=True),
)

guardian_children = Table(
    "guardian_children", metadata,
    Column("guardian_id", String(32), ForeignKey("guardians.guardian_id"), primary_key=True),
    Column("child_id", String(64), ForeignKey("children.child_id"), primary_key=True),
    Column("invitation", Integer, ForeignKey("guardian_invitations.id"), nullable=False),
    # The binding the phone shows at the door, signed with the kindergarten's card key; its
    # serial is revoked (like a card's) when the guardian is removed from the child.
    Column("serial", String(8), nullable=False, unique=True),
    Column("binding", LargeBinary(64), nullable=False),
    Column("bound_at_us", BigInteger, nullable=False),
    Column("removed_at_us", BigInteger, nullable=True),
    Column("removed_by", String(64), nullable=True),
    # Since 0018: a guardian's binding or a pickup adult's (BindingKind): the adult may only
    # show the entry code and see today's state; first name, relation and the guardian who
    # added them are for the server's pages only (the terminal learns the relation alone).
    Column("kind", String(10), nullable=False, default="guardian", server_default="guardian"),
    Column("first_name", String(100), nullable=True),
    Column("relation", String(20), nullable=True),
    Column("added_by", String(32), nullable=True),
    Index("ix_guardian_children_child", "child_id"),
)

# One-time sign-in challenges: a signature over a nonce opens a session once.
guardian_nonces = Table(
    "guardian_nonces", metadata,
    Column("nonce", String(64), primary_key=True),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used_at_us", BigInteger, nullable=True),
)

# The consent ledger for face check-in: append-only. A grant runs until a date (at most a
# year); a withdrawal ends it. Each record says who and how: the guardian's phone signature
# (the signed text kept verbatim) or a paper form recorded by the director.
consent_records = Table(
    "consent_records", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("child_id", String(64), ForeignKey("children.child_id"), nullable=False),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("action", String(10), nullable=False),  # grant | withdraw
    Column("until", String(10), nullable=True),
    Column("source", String(10), nullable=False),  # phone | paper | director | terminal
    Column("paper_ref", String(200), nullable=False, default=""),
    Column("guardian_id", String(32), nullable=True),
    Column("signed_text", Text, nullable=True),
    Column("signature", LargeBinary(64), nullable=True),
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    # The paper form's scan, uploaded in the office (0016): a sealed document.
    Column("scan_document_id", Integer, ForeignKey("documents.id"), nullable=True),
    Index("ix_consent_child", "child_id"),
)

# Guardians' monthly confirmations and disputes: new records only; the latest of a guardian
# for a child and month stands, the earlier ones stay in the record.
month_confirmations = Table(
    "month_confirmations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guardian_id", String(32), ForeignKey("guardians.guardian_id"), nullable=False),
    Column("child_id", String(64), ForeignKey("children.child_id"), nullable=False),
    Column("kindergarten", String(32), nullable=False),
    Column("month", String(7), nullable=False),
    Column("kind", String(10), nullable=False),  # confirm | dispute
    Column("days", Text, nullable=False, default="[]"),  # JSON list of YYYY-MM-DD
    Column("comment", Text, nullable=False, default=""),
    Column("recorded_at_us", BigInteger, nullable=False),
    Index("ix_confirmations_month", "kindergarten", "month"),
)

# The latest health report of each terminal (sent at every sync), for the fleet page.
terminal_health = Table(
    "terminal_health", metadata,
    Column("terminal_id", String(32), ForeignKey("terminals.terminal_id"), primary_key=True),
    Column("reported_at_us", BigInteger, nullable=False),
    Column("terminal_time_us", BigInteger, nullable=False),
    # The terminal's clock minus the server's at the report (positive: ahead).
    Column("skew_us", BigInteger, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("software_version", String(40), nullable=False),
    Column("camera", String(10), nullable=False),
    Column("storage_free_bytes", BigInteger, nullable=False),
    # The last sequence number whose time was checked against a clock anchor.
    Column("checked_seq", BigInteger, nullable=False, default=0),
    # Since 0023: how often the terminal found this server's head behind what it had
    # acknowledged (and sent its retained events again), and when it last did (its report).
    Column("server_behind", Integer, nullable=True),
    Column("server_behind_us", BigInteger, nullable=True),
)

# A correction of an event's time, found from its boot's clock anchor: a new record; the
# event keeps the time the terminal gave it.
event_time_corrections = Table(
    "event_time_corrections", metadata,
    Column("event_id", String(64), ForeignKey("events.event_id"), primary_key=True),
    Column("kindergarten", String(32), nullable=False),
    Column("corrected_at_us", BigInteger, nullable=False),
    # The terminal's time minus the corrected one (positive: the terminal was ahead).
    Column("offset_us", BigInteger, nullable=False),
    Column("found_at_us", BigInteger, nullable=False),
    Index("ix_corrections_time", "kindergarten", "corrected_at_us"),
)

# Face templates relayed between a kindergarten's terminals: encrypted under a face key the
# server never holds (it has only wraps sealed to each terminal's key), so nothing here is
# readable. An erased template keeps its row (who, when, why) and loses its bytes.
face_templates = Table(
    "face_templates", metadata,
    Column("template_id", String(32), primary_key=True),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("child_id", String(64), ForeignKey("children.child_id"), nullable=False),
    Column("consent_record", Integer, ForeignKey("consent_records.id"), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("blob", LargeBinary, nullable=True),
    Column("blob_sha256", LargeBinary(32), nullable=False),
    Column("enrolled_by", String(32), nullable=False),
    Column("uploaded_at_us", BigInteger, nullable=False),
    Column("erased_at_us", BigInteger, nullable=True),
    Column("erase_reason", String(20), nullable=True),
    Index("ix_face_templates_kindergarten", "kindergarten"),
    Index("ix_face_templates_child", "child_id"),
)

# The kindergarten's face keys, each sealed to one terminal by a sibling (or by itself).
face_key_wraps = Table(
    "face_key_wraps", metadata,
    Column("key_id", String(16), primary_key=True),
    Column("terminal_id", String(32), ForeignKey("terminals.terminal_id"), primary_key=True),
    Column("kindergarten", String(32), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("wrapped_by", String(32), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Index("ix_face_key_wraps_kindergarten", "kindergarten"),
)

# Each terminal's report that it erased a template: the consent ledger shows them.
face_erasures = Table(
    "face_erasures", metadata,
    Column("template_id", String(32), ForeignKey("face_templates.template_id"),
           primary_key=True),
    Column("terminal_id", String(32), ForeignKey("terminals.terminal_id"), primary_key=True),
    Column("child_id", String(64), nullable=False),
    Column("erased_at_us", BigInteger, nullable=False),
    Column("reason", String(20), nullable=False),
    Column("reported_at_us", BigInteger, nullable=False),
    Index("ix_face_erasures_child", "child_id"),
)

# Withdrawals taken at a terminal, by the terminal's request id: each counts once.
consent_notices = Table(
    "consent_notices", metadata,
    Column("request_id", String(32), primary_key=True),
    Column("terminal_id", String(32), ForeignKey("terminals.terminal_id"), nullable=False),
    Column("child_id", String(64), nullable=False),
    Column("record_id", Integer, nullable=True),  # none when there was nothing to withdraw
    Column("received_at_us", BigInteger, nullable=False),
)

# Ranges of a terminal's chain declared lost (protocol/gaps.py): the server's head was behind
# what it had acknowledged (a restore from an older backup, a failover to a replica that missed
# the last transactions) and the terminal no longer held the events. Shown on the fleet page and
# beside the statements of the period; the declaration is kept verbatim with its signature.
lost_ranges = Table(
    "lost_ranges", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("terminal_id", String(32), ForeignKey("terminals.terminal_id"), nullable=False),
    Column("kindergarten", String(32), nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("first_time_us", BigInteger, nullable=False),
    Column("last_time_us", BigInteger, nullable=False),
    Column("last_hash", LargeBinary(32), nullable=False),
    Column("reason", String(20), nullable=False),  # protocol.gaps.LostReason
    Column("declared_us", BigInteger, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Column("declaration", LargeBinary, nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    UniqueConstraint("terminal_id", "first_seq", name="uq_lost_ranges_terminal_first"),
    Index("ix_lost_ranges_kindergarten_time", "kindergarten", "first_time_us"),
)

equivocations = Table(
    "equivocations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("terminal_id", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("stored_hash", LargeBinary(32), nullable=False),
    Column("offered_hash", LargeBinary(32), nullable=False),
    Column("batch_raw", LargeBinary, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
)

# Signed-in browsers, staff and guardians apart (docs/finance.md, docs/parents.md). The cookie
# holds a random session id; only its SHA-256 is kept here, so a copy of this table opens no
# session. Logout and disabling an account set ``revoked_at_us`` at once.
web_sessions = Table(
    "web_sessions", metadata,
    Column("id_digest", LargeBinary(32), primary_key=True),
    Column("kind", String(10), nullable=False),  # staff | guardian
    Column("subject", String(64), nullable=False),  # username or guardian id
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("revoke_reason", String(20), nullable=True),  # server.web.sessions.RevokeReason
    Index("ix_web_sessions_subject", "kind", "subject"),
    Index("ix_web_sessions_expiry", "expires_at_us"),
)

# Rate-limit counters shared by every worker and server node (server/web/rate_limits.py): one
# fixed window per key; the key (address, username, key id, code) is kept as a digest only.
rate_limits = Table(
    "rate_limits", metadata,
    Column("key_digest", LargeBinary(32), primary_key=True),
    Column("hits", Integer, nullable=False),
    Column("window_ends_at_us", BigInteger, nullable=False),
    Index("ix_rate_limits_window", "window_ends_at_us"),
)

# Every consent message a phone signed and the server recorded: a guardian's signed messages
# for a child must be newer than the last one recorded, so none can be replayed.
consent_signatures = Table(
    "consent_signatures", metadata,
    Column("guardian_id", String(32), ForeignKey("guardians.guardian_id"), primary_key=True),
    Column("child_id", String(64), ForeignKey("children.child_id"), primary_key=True),
    Column("signed_at_ms", BigInteger, primary_key=True),
    Column("signature_sha256", LargeBinary(32), nullable=False, unique=True),
    Column("record_id", Integer, ForeignKey("consent_records.id"), nullable=False),
)

# Signatures of signed terminal requests already taken (protocol/auth.py), until the request
# could no longer pass the freshness check anyway: a replayed request is refused.
request_replays = Table(
    "request_replays", metadata,
    Column("digest", LargeBinary(16), primary_key=True),
    Column("terminal_id", String(32), nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Index("ix_request_replays_expiry", "expires_at_us"),
)


# Documents uploaded in the office (0016): medical certificates, consent forms' scans. The
# bytes are sealed to the server's box key (server/office/documents.py), so a copy of the
# database alone shows none; the type is the one read from the content, never the name.
documents = Table(
    "documents", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("child_id", String(64), ForeignKey("children.child_id"), nullable=False),
    Column("purpose", String(20), nullable=False),  # server.office.documents.Purpose
    Column("media_type", String(40), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", LargeBinary(32), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("uploaded_at_us", BigInteger, nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Index("ix_documents_child", "child_id"),
)

# What staff did in the browser, with who and when (0016): each office form's action writes
# its line in the transaction of the change itself (server/staff/audit.py).
audit_trail = Table(
    "audit_trail", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("username", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Column("action", String(40), nullable=False),  # server.staff.audit.Action
    Column("kindergarten", String(32), nullable=True),
    Column("subject", String(200), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_audit_trail_kindergarten", "kindergarten", "at_us"),
)


class BindingKind(StrEnum):
    """``guardian_children.kind`` and ``guardian_invitations.kind`` (since 0018)."""
    GUARDIAN = "guardian"
    PICKUP = "pickup"
    """An adult a guardian allowed to collect the child: entry code and today's state only."""


class ReportStatus(StrEnum):
    """Where a guardian's absence report stands (``absence_reports.status``)."""
    PENDING = "pending"
    ACCEPTED = "accepted"
    """The director accepted it: ``absence_id`` is the absence record it became."""
    DECLINED = "declined"
    """The director declined it, with ``decision_note`` saying why."""


REPORT_NOTE_LENGTH = 500
"""A guardian's note and a director's decision note, at most."""

# Absences a guardian reports from the phone (0017), with the certificate's photo where there
# is one; the director accepts (an absence record, ``absence_id``) or declines with a note.
absence_reports = Table(
    "absence_reports", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("child_id", String(64), ForeignKey("children.child_id"), nullable=False),
    Column("kindergarten", String(32), ForeignKey("kindergartens.code"), nullable=False),
    Column("guardian_id", String(32), ForeignKey("guardians.guardian_id"), nullable=False),
    Column("first_day", String(10), nullable=False),
    Column("last_day", String(10), nullable=False),
    Column("reason", String(20), nullable=False),  # server.registry.records.AbsenceReason
    Column("note", String(REPORT_NOTE_LENGTH), nullable=False),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=True),
    Column("status", String(10), nullable=False),  # ReportStatus
    Column("reported_at_us", BigInteger, nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at_us", BigInteger, nullable=True),
    Column("decision_note", String(REPORT_NOTE_LENGTH), nullable=True),
    Column("absence_id", Integer, ForeignKey("absences.id"), nullable=True),
    Index("ix_absence_reports_child", "child_id"),
    Index("ix_absence_reports_kindergarten", "kindergarten", "status"),
)


class PushStatus(StrEnum):
    """Where a push message stands (``push_outbox.status``, docs/notifications.md)."""
    PENDING = "pending"
    """Waiting to be sent, or to be sent again after a failure worth retrying."""
    SENT = "sent"
    """The phone's push service took it (201 or 202)."""
    DROPPED = "dropped"
    """Its subscription is gone (the push service answered 404 or 410, or the guardian
    unsubscribed): never sent."""
    FAILED = "failed"
    """Given up after the last retry; logged."""


class PushKind(StrEnum):
    """What a push message tells (``push_outbox.kind``)."""
    ARRIVAL = "arrival"
    DEPARTURE = "departure"
    NOT_COLLECTED = "not-collected"
    """The kindergarten's closing time passed and the child has not left yet."""
    REPORT_ACCEPTED = "report-accepted"
    REPORT_DECLINED = "report-declined"


PUSH_ENDPOINT_LENGTH = 2048
"""A push subscription's endpoint URL, at most."""

# Web Push subscriptions (0019): one per phone that opted in, bound to the guardian who did.
# A subscription the push service says is gone (404/410) or that the guardian turned off is
# kept, dropped, with the reason.
push_subscriptions = Table(
    "push_subscriptions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guardian_id", String(32), ForeignKey("guardians.guardian_id"), nullable=False),
    Column("endpoint", String(PUSH_ENDPOINT_LENGTH), nullable=False),
    Column("p256dh", String(100), nullable=False),  # base64url, uncompressed P-256 point
    Column("auth", String(32), nullable=False),  # base64url, 16 bytes
    Column("language", String(2), nullable=False),  # the page's language then: kk | ru
    Column("created_at_us", BigInteger, nullable=False),
    Column("dropped_at_us", BigInteger, nullable=True),
    Column("drop_reason", String(40), nullable=True),
    Index("ix_push_subscriptions_guardian", "guardian_id"),
)

# Messages waiting for the phones' push services: filled after each ingest, at closing time
# and with a report's decision; the dedup key (what + subscription) makes each one once.
push_outbox = Table(
    "push_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", Integer, ForeignKey("push_subscriptions.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # PushKind
    Column("dedup_key", String(200), nullable=False, unique=True),
    Column("payload", Text, nullable=False),  # JSON, what the service worker shows
    Column("status", String(10), nullable=False),  # PushStatus
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at_us", BigInteger, nullable=False),
    Column("next_attempt_at_us", BigInteger, nullable=False),
    Column("claimed_until_us", BigInteger, nullable=True),
    Column("sent_at_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    Index("ix_push_outbox_due", "status", "next_attempt_at_us"),
    Index("ix_push_outbox_subscription", "subscription_id"),
)


def normalise_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form and use the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, connect_timeout: int = 10) -> Engine:
    """The engine for a database URL; statements' parameters never reach an error message or
    a log line (``hide_parameters``): they hold names, IINs and password hashes. A PostgreSQL
    server that does not answer is given up after ``connect_timeout`` seconds (the health
    answer must come back while a load balancer still waits for it)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, pool_size=4, max_overflow=8, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4,
                         hide_parameters=True, connect_args={"connect_timeout": connect_timeout})


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction, committed on leaving the block (rolled back on error).

    On SQLite, writers first queue on an OS file lock and then take the write
    lock up front (BEGIN IMMEDIATE). SQLite's own busy handler sleeps in steps
    of up to 100 ms while another writer holds the lock; the file lock wakes the
    next writer as soon as the previous one commits. Reads (``engine.connect()``)
    begin deferred and never wait for writers (WAL).
    """
    with _writer_queue(engine), engine.connect() as conn:
        conn.execution_options(qatys_write=True)
        with conn.begin():
            yield conn


@contextmanager
def _writer_queue(engine: Engine) -> Iterator[None]:
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    # A new open file description per writer, so threads of one process queue too.
    path = Path(database).with_name(Path(database).name + ".writers")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" hook below, so that a
    # write transaction takes the write lock up front (BEGIN IMMEDIATE) and an
    # acknowledgement is only sent after a durable (synchronous=FULL) commit.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA mmap_size=268435456")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    """Writers (see :func:`writing`) lock at once; readers read a snapshot without locking."""
    if conn.get_execution_options().get("qatys_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")

