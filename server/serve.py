"""Production serving through gunicorn, started from ``qatys server run``."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from server.config import load_config


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


def serve(data_dir: Path, host: str, port: int, workers: int | None = None) -> None:
    config = load_config(data_dir)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers or config.workers or 2 * (os.cpu_count() or 1),
        "threads": config.threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "qatys-server",
    }
    _Gunicorn(data_dir, options).run()
