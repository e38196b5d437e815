"""A flood of wrong passwords does not hold up check-ins: 16 clients post wrong passwords to
the finance sign-in for 20 s while a terminal syncs 50 events (the real `qatys terminal
sync`); the flood gets 429s with Retry-After and every event is stored (SQLite and
PostgreSQL). How long the sync takes with and without a flood is measured by `make bench`
(docs/performance.md), not asserted here."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import QATYS, ServerProcess, enrol, exported, flood_sign_in, make_checkins

CHILDREN = [f"child-{i:05d}-x7q" for i in range(20)]


def test_a_sign_in_flood_does_not_hold_up_a_sync(server: ServerProcess, tmp_path: Path,
                                                 runtime_env: dict[str, str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in runtime_env.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "door"
    terminal_id = enrol(server, home, runtime_env)
    make_checkins(home, 50)
    statuses: Counter[int] = Counter()
    flood = threading.Thread(target=lambda: statuses.update(flood_sign_in(server.url, 20)))
    flood.start()
    time.sleep(2)  # the flood is under way
    sync = subprocess.run([*QATYS, "terminal", "sync", "--home", str(home)],
                          capture_output=True, text=True, timeout=300)
    flood.join(120)
    assert sync.returncode == 0, sync.stderr
    assert json.loads(sync.stdout)["acked_seq"] == 50
    stored = [e for e in exported(server) if e["terminal_id"] == terminal_id]
    assert len(stored) == 50
    assert statuses[429] > 0
    assert statuses[401] > 0  # the first wrong passwords were checked, then limited
    assert set(statuses) <= {401, 429}, statuses  # every 429 had its Retry-After, no 5xx
