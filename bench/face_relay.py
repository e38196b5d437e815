"""The server's side of the face relay at a kindergarten's scale: 600 children with consent
and one template each, two terminals; one face sync of a terminal that holds every template
(the usual case, every minute) and of a new terminal that holds none (it downloads them, 300 an
answer), beside the SQLite commit of an empty write transaction. SQLite, in process."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from sqlalchemy import select

from protocol import faces
from server.families.face_templates import face_sync
from server.storage import db
from server.storage.db import make_engine
from server.storage.migrations import migrate

CHILDREN = 600
NOW_US = 1_796_000_000_000_000


def _load(engine_url: str) -> None:
    engine = make_engine(engine_url)
    migrate(engine)
    with db.writing(engine) as conn:
        conn.execute(db.kindergartens.insert().values(code="F1", name="Faces", six_day=False,
                                                      created_at_us=0))
        conn.execute(db.roster_imports.insert().values(id=1, kindergarten="F1",
                                                       imported_at_us=0, rows=0, sha256="0",
                                                       source="bench"))
        conn.execute(db.terminals.insert(), [
            {"terminal_id": f"T-F{i}", "kindergarten": "F1", "sign_pub": bytes([i]) * 32,
             "box_pub": bytes(32), "enrolled_at_us": 0, "head_seq": 0,
             "head_hash": bytes(32)} for i in (1, 2)])
        conn.execute(db.children.insert(), [
            {"child_id": f"F1-{c:03d}", "kindergarten": "F1", "iin": f"{c:012d}",
             "last_name": "Bench", "first_name": "Bench", "birth_date": "2021-01-01",
             "group_name": "G", "funding_category": "age3-full-state",
             "enrolled_on": "2025-09-01", "withdrawn_on": None, "roster_import": 1}
            for c in range(CHILDREN)])
        conn.execute(db.consent_records.insert(), [
            {"id": c + 1, "child_id": f"F1-{c:03d}", "kindergarten": "F1", "action": "grant",
             "until": "2027-11-30", "source": "paper", "paper_ref": "p", "recorded_at_us": 0,
             "recorded_by": "bench"} for c in range(CHILDREN)])
        conn.execute(db.face_key_wraps.insert(), [
            {"key_id": "00000000000000aa", "terminal_id": f"T-F{i}", "kindergarten": "F1",
             "sealed": os.urandom(81), "wrapped_by": "T-F1", "created_at_us": 0}
            for i in (1, 2)])
        conn.execute(db.face_templates.insert(), [
            {"template_id": f"{c:032x}", "kindergarten": "F1", "child_id": f"F1-{c:03d}",
             "consent_record": c + 1, "key_id": "00000000000000aa",
             "blob": os.urandom(1024 + 5 * faces.ENCODING_BYTES), "blob_sha256": bytes(32),
             "enrolled_by": "T-F1", "uploaded_at_us": 0} for c in range(CHILDREN)])
    engine.dispose()


def bench_face_relay(base: Path, runs: int = 20) -> None:
    url = f"sqlite:///{base / 'face-relay.db'}"
    _load(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        terminal = conn.execute(select(db.terminals).where(
            db.terminals.c.terminal_id == "T-F2")).one()
    every = [f"{c:032x}" for c in range(CHILDREN)]

    def timed(have: list[str]) -> tuple[float, int]:
        started = time.perf_counter()
        with db.writing(engine) as conn:
            answer = face_sync(conn, terminal, have, ["00000000000000aa"], NOW_US)
        return (time.perf_counter() - started) * 1000, len(answer["add"])

    def empty() -> float:
        started = time.perf_counter()
        with db.writing(engine):
            pass
        return (time.perf_counter() - started) * 1000

    steady = [timed(every)[0] for _ in range(runs)]
    fresh = [timed([]) for _ in range(runs)]
    base_ms = [empty() for _ in range(runs)]
    engine.dispose()
    print(f"face relay (server, SQLite, {CHILDREN} children with a template each): face sync of "
          f"a terminal holding them all median {statistics.median(steady):.1f} ms; of a new "
          f"terminal (its first answer: {fresh[0][1]} of {CHILDREN} templates) "
          f"{statistics.median(f for f, _ in fresh):.1f}"
          f" ms; an empty write transaction {statistics.median(base_ms):.1f} ms")
