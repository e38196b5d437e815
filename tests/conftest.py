from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ServerProcess, roster_csv, run, start_server


@pytest.fixture
def runtime_env(tmp_path: Path) -> dict[str, str]:
    """RAM-held secrets go outside the terminal home, as /run would be on a kiosk."""
    return {"QATYS_RUNTIME_DIR": str(tmp_path / "run")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("server")
    proc = start_server(data)
    run("kindergarten", "add", "--data", str(data), "--code", "KG1", "--name", "Балабақша 1")
    run("kindergarten", "add", "--data", str(data), "--code", "KG2", "--name", "Балабақша 2")
    text, _ = roster_csv(20)
    (data / "roster.csv").write_text(text, encoding="utf-8")
    run("roster", "import", "--data", str(data), "--kindergarten", "KG1",
        str(data / "roster.csv"))
    yield proc
    proc.stop()
