from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server import db
from server.admin import open_data_dir
from tests import chroot_install
from tests.helpers import ServerProcess, roster_csv, run, start_server
from tests.postgres import Cluster, find_bin_dir, start_cluster

CHROOT_BUILD = pytest.StashKey[tuple[subprocess.Popen[bytes], Path]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The install-script test waits for a Debian chroot built in the background while the
    other tests run: start the build now and run that test last."""
    chosen = [item for item in items if "test_install_script.py" in item.nodeid]
    if not chosen or chroot_install.possible():
        return
    items[:] = [item for item in items if item not in chosen] + chosen
    work = Path(tempfile.mkdtemp(prefix="qatys-chroot-"))
    process = subprocess.Popen([sys.executable, "-m", "tests.chroot_install", str(work)],
                               cwd=Path(__file__).resolve().parent.parent,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config.stash[CHROOT_BUILD] = (process, work)


@pytest.fixture(scope="session")
def chroot_build(pytestconfig: pytest.Config) -> Iterator[Path]:
    """The chroot with Qatys installed by hardware/install-terminal.sh (see
    tests/chroot_install.py); unmounted and removed afterwards."""
    why_not = chroot_install.possible()
    if why_not:
        if os.environ.get("QATYS_REQUIRE_CHROOT") == "1":
            pytest.fail(f"the install-script test is required here but {why_not}")
        pytest.skip(why_not)
    process, work = pytestconfig.stash[CHROOT_BUILD]
    process.wait(timeout=1200)
    yield work
    subprocess.run(["umount", "--lazy", str(work / "root" / "proc")], check=False)
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def runtime_env(tmp_path: Path) -> dict[str, str]:
    """RAM-held secrets go outside the terminal home, as /run would be on a kiosk."""
    return {"QATYS_RUNTIME_DIR": str(tmp_path / "run")}


def _seed(data: Path) -> None:
    run("kindergarten", "add", "--data", str(data), "--code", "KG1", "--name", "Балабақша 1")
    run("kindergarten", "add", "--data", str(data), "--code", "KG2", "--name", "Балабақша 2")
    text, _ = roster_csv(20)
    (data / "roster.csv").write_text(text, encoding="utf-8")
    run("roster", "import", "--data", str(data), "--kindergarten", "KG1",
        str(data / "roster.csv"))


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if find_bin_dir() is None:
        if os.environ.get("QATYS_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required here (make test installs it) but is missing")
        pytest.skip("PostgreSQL server binaries not installed")
    # Outside pytest's 0700 temp root: the cluster runs as the postgres user.
    directory = Path(tempfile.mkdtemp(prefix="qatys-pg-"))
    directory.chmod(0o755)
    cluster = start_cluster(directory)
    yield cluster
    cluster.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The same server on SQLite and on a real PostgreSQL."""
    data = tmp_path_factory.mktemp(f"server-{request.param}")
    url = None
    if request.param == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database(data.name.replace("-", "_").lower())
    proc = start_server(data, url)
    _seed(data)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The seeded server on SQLite only: for browser tests of pages whose storage the
    two-database tests already cover (keeps `make test` within its time)."""
    data = tmp_path_factory.mktemp("server-sqlite")
    proc = start_server(data)
    _seed(data)
    yield proc
    proc.stop()


def table_counts(server: ServerProcess) -> tuple[int, ...]:
    """Rows in the tables a refused request must not change, through the server's own engine."""
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        result = tuple(int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                       for t in (db.events, db.batches, db.terminals, db.equivocations))
    engine.dispose()
    return result
