"""The server's data directory is for its owner only: `qatys server init` makes it 0700 and
its files 0600 (an older, wider one too), and what the running server adds stays so."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers import login_form, post_login, run, start_node

PRIVATE = ["server.toml", "qatys.db", "keys/server-keys.json", "keys/session-secret"]


@pytest.fixture
def wide_umask() -> Iterator[None]:
    """What a shell usually has: files 0644, folders 0755."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _open_to_others(data: Path) -> list[str]:
    """Everything the server made that group or others may read (the tests' own process
    logs excepted)."""
    return sorted(f"{p.relative_to(data)} {oct(_mode(p))}" for p in [data, *data.rglob("*")]
                  if _mode(p) & 0o077 and not p.name.startswith("process-"))


def test_server_init_makes_the_data_directory_private(tmp_path: Path,
                                                      wide_umask: None) -> None:
    data = tmp_path / "srv"
    run("server", "init", "--data", str(data))
    assert _mode(data) == 0o700
    for name in PRIVATE:
        assert _mode(data / name) == 0o600, name
    assert _mode(data / "keys") == 0o700
    assert _open_to_others(data) == []
    # A data directory made before (or chmod-ed by hand) is made private again.
    data.chmod(0o755)
    (data / "qatys.db").chmod(0o644)
    (data / "server.toml").chmod(0o644)
    run("server", "init", "--data", str(data))
    assert _open_to_others(data) == []


def test_what_the_running_server_writes_stays_private(tmp_path: Path,
                                                      wide_umask: None) -> None:
    data = tmp_path / "srv"
    run("server", "init", "--data", str(data))
    server = start_node(data)
    try:
        browser = requests.Session()  # a write: a failed sign-in is counted
        answer = post_login(browser, server.url, "nobody", "wrong-password",
                            login_form(browser, server.url))
        assert answer.status_code == 401
        assert (data / "qatys.db-wal").exists()
        for name in ("qatys.db-wal", "qatys.db-shm", "qatys.db.writers", "logs/server.log"):
            assert _mode(data / name) == 0o600, name
        assert _mode(data / "logs") == 0o700
        assert _open_to_others(data) == []
    finally:
        server.stop()
    assert _open_to_others(data) == []
