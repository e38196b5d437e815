from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.datadir import open_data_dir
from server.storage import db
from tests import arm64_install, chroot_install
from tests.helpers import (
    _MODULE_WORKERS,
    Command,
    LastLine,
    QatysWorker,
    ServerProcess,
    checkin_at,
    enrol,
    free_port,
    qatys_batch,
    roster_csv,
    start_node,
    write_settings,
)
from tests.postgres import Cluster, find_bin_dir, start_cluster, start_replica

os.environ["QATYS_LANG"] = "en"
"""The commands speak the reader's language (qatys/sentences.py): tests read their English,
whatever the machine's locale, unless a test chooses one (tests/test_cli_language.py)."""

CHROOT_WORK = "QATYS_CHROOT_WORK"
"""Where the background chroot build writes; set by the main pytest process for its workers."""
CHROOT_BUILD = pytest.StashKey[tuple[subprocess.Popen[bytes], Path]]()


ARM64_WORK = "QATYS_ARM64_WORK"
"""Where the background arm64 build writes (tests/arm64_install.py)."""
ARM64_BUILD = pytest.StashKey[tuple[subprocess.Popen[bytes], Path]]()
SLOW_LAST = ("test_install_script.py", "test_arm64_install.py")
"""The tests of the background builds, run last to give them the most time."""


def _install_test_selected(config: pytest.Config, module: str = "test_install_script.py"
                           ) -> bool:
    wanted = Path(__file__).with_name(module).resolve()
    args = [a.split("::")[0] for a in config.args] or ["tests"]
    return any(wanted == Path(a).resolve() or wanted.is_relative_to(Path(a).resolve())
               for a in args)


def pytest_configure(config: pytest.Config) -> None:
    """The install-script test needs a Debian chroot that takes minutes to build, mostly
    waiting on downloads: the main process starts building it now, in the background, while
    the tests (and pytest-xdist's workers) run; the test itself runs last."""
    if hasattr(config, "workerinput"):
        return
    if _install_test_selected(config, "test_arm64_install.py") and not \
            arm64_install.possible():
        work = Path(tempfile.mkdtemp(prefix="qatys-arm64-"))
        process = subprocess.Popen([sys.executable, "-m", "tests.arm64_install", str(work)],
                                   cwd=Path(__file__).resolve().parent.parent,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.environ[ARM64_WORK] = str(work)
        config.stash[ARM64_BUILD] = (process, work)
    if not _install_test_selected(config) or chroot_install.possible():
        return
    work = Path(tempfile.mkdtemp(prefix="qatys-chroot-"))
    process = subprocess.Popen([sys.executable, "-m", "tests.chroot_install", str(work)],
                               cwd=Path(__file__).resolve().parent.parent,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ[CHROOT_WORK] = str(work)
    config.stash[CHROOT_BUILD] = (process, work)


def pytest_unconfigure(config: pytest.Config) -> None:
    if ARM64_BUILD in config.stash:
        process, work = config.stash[ARM64_BUILD]
        if process.poll() is None:
            process.kill()
            process.wait()
        arm64_install.cleanup(work)
    if CHROOT_BUILD not in config.stash:
        return
    process, work = config.stash[CHROOT_BUILD]
    if process.poll() is None:
        process.kill()
        process.wait()
    subprocess.run(["umount", "--lazy", str(work / "root" / "proc")], check=False,
                   capture_output=True)
    shutil.rmtree(work, ignore_errors=True)


TEST_ORDER = "QATYS_TEST_ORDER"
"""``reverse``: run the tests of each module in reverse order (the modules in their usual
order), to show that no test depends on one before it having run (see tests/run_alone.py)."""


def _reversed_within_modules(items: list[pytest.Item]) -> list[pytest.Item]:
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    return [item for module in modules.values() for item in reversed(module)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the install-script and arm64 tests last, to give their background builds the most
    time; with QATYS_TEST_ORDER=reverse, each module's tests from its last to its first."""
    order = os.environ.get(TEST_ORDER, "")
    if order not in ("", "reverse"):
        raise pytest.UsageError(f"{TEST_ORDER} is 'reverse' or unset, not {order!r}")
    if order == "reverse":
        items[:] = _reversed_within_modules(items)
    chosen = [item for item in items if item.nodeid.split("::")[0].endswith(SLOW_LAST)]
    items[:] = [item for item in items if item not in chosen] + chosen


@pytest.fixture(scope="session")
def chroot_build() -> Path:
    """The chroot with Qatys installed by hardware/install-terminal.sh (see
    tests/chroot_install.py), once its background build has finished."""
    return _background_result(chroot_install.possible(), CHROOT_WORK, "QATYS_REQUIRE_CHROOT",
                              "the install-script test", minutes=20)


def _background_result(why_not: str, work_variable: str, require_variable: str, what: str,
                       minutes: int) -> Path:
    """The work directory of a background build once its result.json is there; a skip with
    ``why_not`` (a failure where ``require_variable`` is 1) when it cannot be built here."""
    if not why_not and not os.environ.get(work_variable):
        why_not = "its background build was not started"
    if why_not:
        if os.environ.get(require_variable) == "1":
            pytest.fail(f"{what} is required here but {why_not}")
        pytest.skip(why_not)
    result = Path(os.environ[work_variable]) / "result.json"
    deadline = time.monotonic() + minutes * 60
    while not result.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the background build for {what} did not finish in {minutes} minutes")
        time.sleep(1)
    return result.parent


@pytest.fixture(scope="session")
def arm64_build() -> Path:
    """The arm64 Debian system with Qatys installed and used (tests/arm64_install.py), once
    its background build has finished."""
    return _background_result(arm64_install.possible(), ARM64_WORK, "QATYS_REQUIRE_ARM64",
                              "the arm64 install test", minutes=40)


@pytest.fixture
def runtime_env(tmp_path: Path) -> dict[str, str]:
    """RAM-held secrets go outside the terminal home, as /run would be on a kiosk."""
    return {"QATYS_RUNTIME_DIR": str(tmp_path / "run")}


def _seed_commands(data: Path) -> list[Command]:
    """KG1 and KG2, and KG1's roster of 20 (written to ``data``/roster.csv)."""
    text, _ = roster_csv(20)
    (data / "roster.csv").write_text(text, encoding="utf-8")
    return [Command(["kindergarten", "add", "--data", str(data), "--code", "KG1", "--name",
                     "Балабақша 1"]),
            Command(["kindergarten", "add", "--data", str(data), "--code", "KG2", "--name",
                     "Балабақша 2"]),
            Command(["roster", "import", "--data", str(data), "--kindergarten", "KG1",
                     str(data / "roster.csv")])]


def _seed(data: Path) -> None:
    qatys_batch(*_seed_commands(data))


def _seeded_server(data: Path, database_url: str | None = None) -> ServerProcess:
    """As `start_server` then `_seed`, the commands before `qatys server run` in one process
    (not one each: every module's server costs three process starts less)."""
    port = free_port()
    init = ["server", "init", "--data", str(data), "--public-url", f"http://127.0.0.1:{port}"]
    if database_url:
        init += ["--database-url", database_url]
    qatys_batch(Command(init), *_seed_commands(data))
    write_settings(data, {"run_worker": False})  # see tests.helpers.start_server
    return start_node(data, port=port)


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


@pytest.fixture(scope="session")
def pg_replica(pg_cluster: Cluster) -> Iterator[Cluster]:
    """A streaming replica of :func:`pg_cluster` (``pg_basebackup -R``, a hot standby on its
    own port): slow to make, so one for the session. It logs every statement (tests read
    which reports it served); a test that pauses its replay resumes it."""
    directory = Path(tempfile.mkdtemp(prefix="qatys-pg-replica-"))
    directory.chmod(0o755)
    replica = start_replica(pg_cluster, directory)
    yield replica
    replica.stop()
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
    proc = _seeded_server(data, url)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The seeded server on SQLite only: for browser tests of pages whose storage the
    two-database tests already cover (keeps `make test` within its time)."""
    data = tmp_path_factory.mktemp("server-sqlite")
    proc = _seeded_server(data)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def qatys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QatysWorker]:
    """One process that runs a module's short `qatys` commands (`QatysWorker.run`), instead
    of a process start and the imports for each."""
    worker = QatysWorker(tmp_path_factory.mktemp("qatys-worker") / "worker.log")
    yield worker
    worker.close()


@pytest.fixture(scope="module")
def commands_in_one_process(qatys: QatysWorker) -> Iterator[None]:
    """The module's short `qatys` commands (``tests.helpers.cli``) run in its worker."""
    _MODULE_WORKERS.append(qatys)
    yield
    _MODULE_WORKERS.remove(qatys)


def table_counts(server: ServerProcess) -> tuple[int, ...]:
    """Rows in the tables a refused request must not change, through the server's own engine."""
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        result = tuple(int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                       for t in (db.events, db.batches, db.terminals, db.equivocations))
    engine.dispose()
    return result


@pytest.fixture(scope="module")
def march(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    """March 2026 in KG1: check-ins, absences (one corrected), a closure; synced."""
    base = tmp_path_factory.mktemp("march")
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    home = base / "door"
    enrol(server, home, env)
    # In time order: a terminal never records an event earlier than its previous one.
    for moment, child in [("2026-03-02 03:00:00", "child-00001-x7q"),
                          ("2026-03-02 03:05:00", "child-00002-x7q"),
                          ("2026-03-03 03:00:00", "child-00001-x7q"),
                          ("2026-03-04 03:00:00", "child-00001-x7q"),
                          ("2026-03-08 04:00:00", "child-00002-x7q"),  # a Sunday: not paid
                          ("2026-03-10 03:00:00", "child-00003-x7q"),
                          ("2026-03-30 03:00:00", "child-00005-x7q")]:  # closed: not paid
        assert checkin_at(moment, home, env, child)["result"] == "accepted"
    data = str(server.data_dir)
    qatys_batch(  # one process for all
        Command(["terminal", "sync", "--home", str(home)], env),
        Command(["absence", "add", "--data", data, "--child", "child-00003-x7q", "--from",
                 "2026-03-11", "--to", "2026-03-13", "--reason", "illness", "--document",
                 "cert-0311"]),
        Command(["absence", "add", "--data", data, "--child", "child-00004-x7q", "--from",
                 "2026-03-02", "--to", "2026-03-04", "--reason", "illness"]),  # unpaid
        Command(["absence", "add", "--data", data, "--child", "child-00004-x7q", "--from",
                 "2026-03-16", "--to", "2026-03-20", "--reason", "leave"]),
        Command(["absence", "add", "--data", data, "--child", "child-00004-x7q", "--from",
                 "2026-03-16", "--to", "2026-03-17", "--reason", "leave", "--replaces",
                 LastLine(3)]),  # corrected: two days
        Command(["closure", "add", "--data", data, "--kindergarten", "KG1", "--from",
                 "2026-03-30", "--to", "2026-03-31", "--reason", "repairs"]))
    return server
