"""Production serving through gunicorn, started from ``qatys server run``.

The default worker is gevent's (docs/deployment.md): a connection holds a greenlet while its
client sends, so slow clients cannot take every worker's few threads; gunicorn's own
refusals answer JSON (server/web/gunicorn_workers.py).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

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
    config = load_config(data_dir)
    _Gunicorn(data_dir, {**options(config, host, port, workers, worker_class),
                         **overrides}).run()
