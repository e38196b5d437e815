"""kill -9 at random points during check-ins and sync; every printed `accepted` arrives once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faulty_proxy import FAULTS, FaultyProxy
from tests.helpers import ServerProcess, cli, enrol

CHILDREN = [f"child-{i:05d}-x7q" for i in range(20)]

pytestmark = pytest.mark.usefixtures("commands_in_one_process")


def exported(server: ServerProcess) -> list[dict[str, object]]:
    """As `tests.helpers.exported`, in the module's worker process."""
    out = cli("events", "export", "--data", str(server.data_dir), "--format", "jsonl")
    return [json.loads(line) for line in out.stdout.splitlines()]


def _kill_after(cmd: list[str], delay: float, env: dict[str, str]) -> str:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, **env})
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    return out.decode()


@pytest.mark.slow
def test_kill_minus_nine_never_loses_or_duplicates(server: ServerProcess, tmp_path: Path,
                                                   runtime_env: dict[str, str]) -> None:
    home = tmp_path / "crash"
    terminal_id = enrol(server, home, runtime_env)
    rng = random.Random(20261123)
    accepted: set[str] = set()
    loop = [sys.executable, "-m", "tests.drivers.checkin_loop", str(home), *CHILDREN]
    sync = [sys.executable, "-m", "qatys", "terminal", "sync", "--home", str(home), "--quiet"]
    for _ in range(12):
        out = _kill_after(loop, rng.uniform(0.6, 1.5), runtime_env)
        for line in out.splitlines():
            try:
                result = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line being written when the process died
            assert result["result"] == "accepted"
            accepted.add(result["event_id"])
        _kill_after(sync, rng.uniform(0.3, 1.2), runtime_env)
    cli("terminal", "sync", "--home", str(home), env=runtime_env)
    stored = [e["event_id"] for e in exported(server) if e["terminal_id"] == terminal_id]
    assert len(stored) == len(set(stored))
    assert accepted <= set(stored)
    assert len(accepted) > 20
    status = json.loads(cli("terminal", "status", "--home", str(home), "--json",
                            env=runtime_env).stdout)
    assert status["pending"] == 0
    assert len(stored) == status["acked_seq"]


@pytest.mark.slow
def test_exactly_once_through_a_faulty_link(server: ServerProcess, tmp_path: Path,
                                            runtime_env: dict[str, str]) -> None:
    proxy = FaultyProxy(server.url, seed=7)
    try:
        home = tmp_path / "proxy"
        terminal_id = enrol(server, home, runtime_env, via=proxy.url)
        config = home / "terminal.toml"
        config.write_text(config.read_text()
                          .replace("backoff_base_seconds = 1.0", "backoff_base_seconds = 0.02")
                          .replace("request_timeout_seconds = 30.0",
                                   "request_timeout_seconds = 5.0"))
        proxy.faults_on = True
        accepted: set[str] = set()
        loop = [sys.executable, "-m", "tests.drivers.checkin_loop", str(home), *CHILDREN]
        for _ in range(6):
            out = _kill_after(loop, 1.5, runtime_env)
            accepted |= {json.loads(x)["event_id"] for x in out.splitlines()
                         if x.endswith("}")}
            for _attempt in range(20):
                if cli("terminal", "sync", "--home", str(home), "--quiet", env=runtime_env,
                       check=False).returncode == 0:
                    break
        stored = [e["event_id"] for e in exported(server) if e["terminal_id"] == terminal_id]
        assert len(stored) == len(set(stored))
        assert accepted <= set(stored)
        assert min(proxy.seen[f] for f in FAULTS) > 0, proxy.seen
    finally:
        proxy.close()
