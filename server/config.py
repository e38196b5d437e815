"""The server's configuration, in one place: defaults, then ``DATA/server.toml``, then env.

Environment variables (``QATYS_DATABASE_URL``, ``QATYS_PUBLIC_URL``,
``QATYS_QUEUE_CORE_URL``) override the
file, so a container or systemd unit can point at another database without
editing the data directory.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from qatys.urls import transport_problem
from server.errors import SetupError

CONFIG_FILE = "server.toml"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    database_url: str
    public_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    max_body_bytes: int = 4 * 1024 * 1024
    token_ttl_seconds: int = 3600
    workers: int = 0
    """gunicorn worker processes; 0 = two per CPU core."""
    threads: int = 4
    queue_core_url: str = ""
    """The regional queue core (docs/queue-core.md); empty: statements wait in the outbox."""
    queue_core_roster_minutes: int = 60
    """How often `qatys queue-core run` pulls every kindergarten's roster."""
    queue_core_timeout_seconds: int = 20
    session_hours: int = 8
    """How long a finance page sign-in lasts."""
    fleet_silent_seconds: int = 7200
    """The fleet page raises an alert for a terminal silent longer than this."""
    allow_plain_http: bool = False
    """Let ``queue_core_url`` be plain http:// to another machine. For labs only: the
    statements it carries are money (qatys/urls.py). Loopback is always allowed."""

    @property
    def keys_file(self) -> Path:
        return self.data_dir / "keys" / "server-keys.json"

    @property
    def session_secret_file(self) -> Path:
        return self.data_dir / "keys" / "session-secret"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "server.log"


_FIELDS = {"database_url": str, "public_url": str, "max_body_bytes": int,
           "token_ttl_seconds": int, "workers": int, "threads": int, "queue_core_url": str,
           "queue_core_roster_minutes": int, "queue_core_timeout_seconds": int,
           "session_hours": int, "fleet_silent_seconds": int, "allow_plain_http": bool}


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'qatys.db').resolve()}"


def write_config(data_dir: Path, database_url: str | None, public_url: str | None,
                 queue_core_url: str | None = None) -> ServerConfig:
    """Write ``server.toml``, keeping settings already there that are not given now."""
    path = data_dir / CONFIG_FILE
    body: dict[str, object] = {}
    if path.exists():
        body = tomllib.loads(path.read_text(encoding="utf-8"))
    given = {"database_url": database_url, "public_url": public_url,
             "queue_core_url": queue_core_url}
    body.update({key: value for key, value in given.items() if value is not None})
    problem = body.get("queue_core_url") and transport_problem(
        str(body["queue_core_url"]), body.get("allow_plain_http") is True)
    if problem:
        raise SetupError(f"--queue-core-url: {problem}; nothing written")
    data_dir.mkdir(parents=True, exist_ok=True)
    body.setdefault("database_url", default_database_url(data_dir))
    body.setdefault("public_url", ServerConfig.public_url)
    path.write_text(tomli_w.dumps(body), encoding="utf-8")
    return load_config(data_dir)


def load_config(data_dir: Path) -> ServerConfig:
    path = data_dir / CONFIG_FILE
    if not path.exists():
        raise SetupError(f"{data_dir} is not a Qatys server data directory: "
                         f"run `qatys server init --data {data_dir}` first")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"{path}: {exc}") from exc
    values: dict[str, object] = {}
    for key, value in raw.items():
        expected = _FIELDS.get(key)
        if expected is None:
            raise SetupError(f"{path}: unknown setting {key!r}")
        if not isinstance(value, expected):
            raise SetupError(f"{path}: {key} must be {expected.__name__}")
        values[key] = value
    for key in ("database_url", "public_url", "queue_core_url"):
        env = os.environ.get(f"QATYS_{key.upper()}")
        if env:
            values[key] = env
    if "database_url" not in values:
        values["database_url"] = default_database_url(data_dir)
    config = ServerConfig(data_dir=data_dir, **values)  # type: ignore[arg-type]
    problem = config.queue_core_url and transport_problem(config.queue_core_url,
                                                         config.allow_plain_http)
    if problem:
        raise SetupError(f"{path}: queue_core_url: {problem}")
    return config
