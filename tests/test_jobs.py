"""The job queue and ``qatys server worker`` (docs/deployment.md, "Workers"), on SQLite and a
real PostgreSQL: a month job is queued once, claimed by exactly one of several workers (real
processes), continued by another worker after its own is killed -9 — with the figures one
worker computes alone — and a periodic slot is taken by one worker of all. ``qatys server
run``'s own worker ends with the server, even when the server is killed -9."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlalchemy import Engine, select

from provisioning.roster import parse_csv
from qatys.timeutil import local_date, now_us
from server.datadir import open_data_dir
from server.domain.policy import load_policy
from server.jobs.queue import JobStatus, claim, queue_once, take_slot
from server.money.jobs import KIND, figures_for, start_month_job
from server.registry.kindergartens import add_kindergarten
from server.registry.roster import import_children
from server.storage import db
from server.storage.db import writing
from tests.helpers import QATYS, roster_csv, run, start_server, stop_process

MONTH = "2026-03"
GARDENS = 120
"""Enough kindergartens that a worker is still at it when it is killed (a few seconds)."""
STALE = 5
"""job_stale_seconds in these tests (30 by default): a killed worker's job is taken over
after this long."""


@dataclass
class Setup:
    data: Path
    engine: Engine


@pytest.fixture(params=["sqlite", "postgres"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    """An initialised data directory (no server running) with GARDENS kindergartens of five
    children each, and job_stale_seconds = STALE."""
    data = tmp_path / "server"
    init = ["server", "init", "--data", str(data)]
    if request.param == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        init += ["--database-url", cluster.create_database(f"jobs_{tmp_path.name[-20:]}"
                                                           .replace("-", "_").lower())]
    run(*init)
    settings = data / "server.toml"
    settings.write_text(tomli_w.dumps({**tomllib.loads(settings.read_text()),
                                       "job_stale_seconds": STALE}))
    engine = open_data_dir(data).engine
    text, _ = roster_csv(5)
    with writing(engine) as conn:
        for number in range(GARDENS):
            code = f"J{number:03d}"
            add_kindergarten(conn, code, f"Балабақша {number}", False, "")
            children = [dataclasses.replace(c, child_id=f"{code}-{c.child_id}")
                        for c in parse_csv(text, local_date(now_us()))]
            import_children(conn, code, children, "0" * 64, "test")
    yield Setup(data, engine)
    engine.dispose()


def _job(engine: Engine, job_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(db.jobs).where(db.jobs.c.id == job_id)).one()


def _totals(engine: Engine) -> dict[str, tuple[object, ...]]:
    """Each kindergarten's figures as the job stored them (not when or by which job)."""
    with engine.connect() as conn:
        return {r.kindergarten: (r.children, r.working_days, r.total, r.inputs_digest,
                                 r.policy_version, r.flags)
                for r in conn.execute(select(db.month_totals)
                                      .where(db.month_totals.c.month == MONTH))}


def _alone(engine: Engine) -> dict[str, tuple[object, ...]]:
    """The figures one process computes for every kindergarten, straight from the data."""
    policy = load_policy(None)
    with engine.connect() as conn:
        codes = list(conn.execute(select(db.kindergartens.c.code)).scalars())
        found: dict[str, tuple[object, ...]] = {}
        for code in codes:
            f = figures_for(conn, code, 2026, 3, policy)
            found[code] = (f.children, f.working_days, f.total, f.inputs_digest,
                           f.policy_version, f.flags)
    return found


def _worker(data: Path, *extra: str) -> subprocess.Popen[bytes]:
    """A ``qatys server worker`` process; what it says goes to ``worker-PID.log`` in DIR."""
    with open(data / f"worker-{time.monotonic_ns()}.log", "wb") as log:
        return subprocess.Popen([*QATYS, "server", "worker", "--data", str(data), *extra],
                                stdout=log, stderr=subprocess.STDOUT)


def _logs(data: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(data.glob("worker-*.log")))


def test_a_month_is_queued_once_and_run_by_one_worker(setup: Setup) -> None:
    first = start_month_job(setup.engine, MONTH, "officer", now_us(), STALE * 1_000_000)
    again = start_month_job(setup.engine, MONTH, "officer", now_us(), STALE * 1_000_000)
    assert again == first
    assert _job(setup.engine, first).status == JobStatus.QUEUED
    done = run("server", "worker", "--data", str(setup.data), "--once", "--processes", "1")
    assert "1" in done.stdout
    row = _job(setup.engine, first)
    assert (row.status, row.done, row.total, row.attempts) == (JobStatus.DONE, GARDENS,
                                                                GARDENS, 1)
    assert _totals(setup.engine) == _alone(setup.engine)
    # Nothing is left to run: a second pass claims nothing and writes nothing.
    assert "0" in run("server", "worker", "--data", str(setup.data), "--once").stdout
    assert _job(setup.engine, first).attempts == 1
    # Once done, the next click queues a new job.
    assert start_month_job(setup.engine, MONTH, "officer", now_us(), STALE * 1_000_000) != first


def test_several_workers_claim_each_job_once(setup: Setup) -> None:
    months = [f"2025-{m:02d}" for m in range(1, 9)]
    with writing(setup.engine) as conn:
        ids = [queue_once(conn, KIND, m, "officer", GARDENS, now_us(), STALE * 1_000_000)
               for m in months]
    workers = [_worker(setup.data, "--once", "--processes", "1", "--name", f"w{i}")
               for i in range(3)]
    for worker in workers:
        assert worker.wait(timeout=600) == 0, _logs(setup.data)
    rows = [_job(setup.engine, job_id) for job_id in ids]
    assert [(r.status, r.attempts, r.done) for r in rows] == [(JobStatus.DONE, 1, GARDENS)] * 8
    assert {r.claimed_by for r in rows} <= {"w0", "w1", "w2"}


def test_a_killed_workers_job_is_finished_by_another_with_the_same_figures(
        setup: Setup) -> None:
    job_id = start_month_job(setup.engine, MONTH, "officer", now_us(), STALE * 1_000_000)
    first = _worker(setup.data, "--processes", "1", "--every", "0.2", "--name", "node-a")
    deadline = time.monotonic() + 120
    while _job(setup.engine, job_id).done == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    cut = _job(setup.engine, job_id)
    assert (cut.status, cut.claimed_by) == (JobStatus.RUNNING, "node-a")
    assert 0 < cut.done < GARDENS, "the worker was meant to be killed mid-way"
    killed_at = time.monotonic()
    second = _worker(setup.data, "--processes", "1", "--every", "0.5", "--name", "node-b")
    try:
        while _job(setup.engine, job_id).status != JobStatus.DONE:
            assert time.monotonic() - killed_at < 60, "not taken over within a minute"
            time.sleep(0.2)
    finally:
        stop_process(second, 15)
    row = _job(setup.engine, job_id)
    assert (row.claimed_by, row.attempts, row.done) == ("node-b", 2, GARDENS)
    assert _totals(setup.engine) == _alone(setup.engine)


def test_a_periodic_slot_goes_to_one_worker(setup: Setup) -> None:
    every = 60 * 1_000_000
    now = now_us()
    taken = [take_slot(setup.engine, "roster_pull", every, f"w{i}", now) for i in range(3)]
    assert taken == [True, False, False]
    assert not take_slot(setup.engine, "roster_pull", every, "w1", now + every - 1)
    later = [take_slot(setup.engine, "roster_pull", every, f"w{i}", now + every)
             for i in range(3)]
    assert later == [True, False, False]


def test_a_job_of_another_kind_is_left_alone(setup: Setup) -> None:
    with writing(setup.engine) as conn:
        other = queue_once(conn, "something_newer", MONTH, "officer", 1, now_us(), 1)
    assert claim(setup.engine, "w", now_us(), STALE * 1_000_000, (KIND,)) is None
    assert _job(setup.engine, other).status == JobStatus.QUEUED


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def test_the_servers_own_worker_runs_jobs_and_ends_with_the_server(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server", settings={"run_worker": True})
    try:
        workers = [p for p in _children_of(server.process.pid)
                   if b"server\x00worker" in (Path("/proc") / str(p) / "cmdline").read_bytes()]
        assert len(workers) == 1
        engine = open_data_dir(server.data_dir).engine
        job_id = start_month_job(engine, MONTH, "officer", now_us(), 30 * 1_000_000)
        deadline = time.monotonic() + 60
        while _job(engine, job_id).status != JobStatus.DONE:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        engine.dispose()
        os.kill(server.process.pid, signal.SIGKILL)  # not even a chance to stop its worker
        server.process.wait(timeout=10)
        assert _gone(workers[0], 10)
    finally:
        server.stop()
