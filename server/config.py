"""The server's configuration, in one place: defaults, then ``DATA/server.toml``, then env.

Environment variables (``QATYS_DATABASE_URL``, ``QATYS_PUBLIC_URL``,
``QATYS_QUEUE_CORE_URL``) override the
file, so a container or systemd unit can point at another database without
editing the data directory.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import limits
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
    trusted_proxies: tuple[str, ...] = ()
    """Addresses (or networks) of reverse proxies in front of the server: only a request whose
    socket peer is one of them is taken to come from the address its X-Forwarded-For names."""
    limit_finance_login_address: str = "30 per 10 minutes"
    """Failed finance sign-ins from one client address (limits' notation)."""
    limit_finance_login_account: str = "10 per 15 minutes"
    """Failed finance sign-ins for one username."""
    limit_parents_claim_address: str = "30 per 10 minutes"
    """Failed invitation claims from one client address."""
    limit_parents_claim_code: str = "5 per 10 minutes"
    """Failed claims of one invitation code."""
    limit_parents_challenge_address: str = "300 per 10 minutes"
    """Sign-in challenges handed to one client address (every one counts: each is a row)."""
    limit_parents_login_address: str = "60 per 10 minutes"
    """Failed phone sign-ins from one client address."""
    limit_parents_login_key: str = "10 per 10 minutes"
    """Failed phone sign-ins naming one phone key id."""

    @property
    def keys_file(self) -> Path:
        return self.data_dir / "keys" / "server-keys.json"

    @property
    def session_secret_file(self) -> Path:
        return self.data_dir / "keys" / "session-secret"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "server.log"


RATE_LIMITS = ("limit_finance_login_address", "limit_finance_login_account",
               "limit_parents_claim_address", "limit_parents_claim_code",
               "limit_parents_challenge_address", "limit_parents_login_address",
               "limit_parents_login_key")

_FIELDS: dict[str, type] = {"database_url": str, "public_url": str, "max_body_bytes": int,
           "token_ttl_seconds": int, "workers": int, "threads": int, "queue_core_url": str,
           "queue_core_roster_minutes": int, "queue_core_timeout_seconds": int,
           "session_hours": int, "fleet_silent_seconds": int, "trusted_proxies": list,
           "allow_plain_http": bool, **{name: str for name in RATE_LIMITS}}


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
    _check_limits(path, values)
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


def _check_limits(path: Path, values: dict[str, object]) -> None:
    """Rate limits parse, trusted proxies are addresses or networks; a list becomes a tuple."""
    for key in RATE_LIMITS:
        if key in values:
            try:
                limits.parse(str(values[key]))
            except ValueError as exc:
                raise SetupError(f"{path}: {key} is not a rate limit such as "
                                 f"'10 per 15 minutes'") from exc
    if "trusted_proxies" in values:
        proxies = values["trusted_proxies"]
        assert isinstance(proxies, list)
        for entry in proxies:
            try:
                ipaddress.ip_network(str(entry), strict=False)
            except ValueError as exc:
                raise SetupError(f"{path}: trusted_proxies: {entry!r} is not an address "
                                 f"or network") from exc
        values["trusted_proxies"] = tuple(str(entry) for entry in proxies)
