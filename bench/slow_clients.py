"""Slow clients beside the health probes, one worker class beside the other (issue 22;
docs/performance.md, "Slow clients").

For each candidate a fresh SQLite server (4 workers, as ``qatys server run`` picks on this
machine's 2 cores) takes 50 connections that send their headers one partial line every 3 s and
never finish, for 30 s, while a client asks ``/api/v1/health`` once a second on a new
connection: answered (a 200 within 2 s) of asked, and the p95 time. The candidates: gunicorn's
gthread worker with the 4 threads of the default settings (the server before issue 22), the
same with 64 threads, and gevent's worker (one greenlet per connection, what ``qatys server
run`` now uses). ``python -m bench slow`` runs this alone; ``python -m bench.slow_clients serve
DATA PORT CLASS THREADS`` is one candidate's server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers import ServerProcess, free_port, run, wait_until_up
from tests.slow_clients import probe_health, slow_clients

CANDIDATES = (("gthread", 4), ("gthread", 64), ("gevent", 4))
"""Worker class and threads per worker (gevent ignores threads)."""


def _start(data_dir: Path, worker_class: str, threads: int) -> ServerProcess:
    port = free_port()
    run("server", "init", "--data", str(data_dir), "--public-url", f"http://127.0.0.1:{port}")
    log = open(data_dir / "process.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen([sys.executable, "-m", "bench.slow_clients", "serve", str(data_dir),
                                str(port), worker_class, str(threads)],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return wait_until_up(ServerProcess(data_dir, port, process, log))


def bench_slow_clients(base: Path, connections: tuple[int, ...] = (50, 200, 600),
                       seconds: float = 30) -> None:
    print(f"slow clients: N connections sending headers one partial line every 3 s, {seconds:.0f}"
          " s, while /api/v1/health is asked once a second (answered = 200 within 2 s):")
    for worker_class, threads in CANDIDATES:
        label = f"{worker_class} 4 workers" + (f" x {threads} threads" if worker_class ==
                                               "gthread" else " x 1000 connections")
        for count in connections:
            server = _start(base / f"{worker_class}-{threads}-{count}", worker_class, threads)
            try:
                quiet = probe_health(server.url, 3)
                with slow_clients("127.0.0.1", server.port, count, seconds) as attack:
                    time.sleep(1)  # all connections open
                    probes = probe_health(server.url, seconds - 2)
                print(f"  {label:<32} {count:>4} slow: {probes.summary():<32} "
                      f"(quiet: {quiet.summary()}; slow connections closed by the server: "
                      f"{attack.closed_by_server})")
            finally:
                server.stop()


def _serve(data_dir: str, port: str, worker_class: str, threads: str) -> None:
    from server.serve import serve

    serve(Path(data_dir), "127.0.0.1", int(port), worker_class=worker_class,
          threads=int(threads))


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(*sys.argv[2:6])
    else:
        base = Path(tempfile.mkdtemp(prefix="qatys-bench-slow-"))
        try:
            bench_slow_clients(base)
        finally:
            shutil.rmtree(base, ignore_errors=True)
