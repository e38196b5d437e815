"""Production serving through gunicorn, started from ``qatys server run``.

The default worker is gevent's (docs/deployment.md): a connection holds a greenlet while its
client sends, so slow clients cannot take every worker's few threads; gunicorn's own
refusals answer JSON (server/web/gunicorn_workers.py).
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from server import run_lock
from server.config import ServerConfig, load_config

WORKER_CLASSES = {
    "gevent": "server.web.gunicorn_workers.GeventWorker",
    "gthread": "server.web.gunicorn_workers.ThreadWorker",
}
"""gunicorn worker classes by name: gevent is what ``qatys server run`` uses; gthread the
thread pool before it (the bench measures both, bench/slow_clients.py)."""

CONNECTIONS = 1000
"""Connections one gevent worker holds at once (gunicorn's default ``worker_connections``)."""


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, data_dir: Path, options: dict[str, Any]) -> None:
        self._data_dir = data_dir
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from server.app import create_app  # each worker builds its own engine after fork

        app = create_app(self._data_dir)
        # Everything loaded so far lives as long as the worker: keep the cyclic
        # garbage collector from walking it again on every full collection.
        gc.freeze()
        return app


def options(config: ServerConfig, host: str, port: int, workers: int | None = None,
            worker_class: str = "gevent") -> dict[str, Any]:
    """gunicorn's settings for ``qatys server run``."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers or config.workers or 2 * (os.cpu_count() or 1),
        "threads": config.threads,
        "worker_class": WORKER_CLASSES[worker_class],
        "worker_connections": CONNECTIONS,
        "timeout": 120,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "qatys-server",
    }


def serve(data_dir: Path, host: str, port: int, workers: int | None = None,
          worker_class: str = "gevent", **overrides: Any) -> None:
    """gunicorn until stopped, with one ``qatys server worker`` beside it unless the settings
    say ``run_worker = false``; the worker ends with the server, however the server ends."""
    config = load_config(data_dir)
    run_lock.hold_shared(data_dir)  # `qatys server restore` refuses while it is held
    sidecar = _start_worker(data_dir) if config.run_worker else None
    try:
        _Gunicorn(data_dir, {**options(config, host, port, workers, worker_class),
                             **overrides}).run()
    finally:
        if sidecar is not None:
            sidecar.terminate()
            try:
                sidecar.wait(timeout=15)
            except subprocess.TimeoutExpired:
                sidecar.kill()


def _start_worker(data_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "qatys", "server", "worker", "--data",
                             str(data_dir)], preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    """In the worker before it starts: the kernel sends SIGTERM when the server process
    ends, even by SIGKILL, so no worker outlives its server (Linux's PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
