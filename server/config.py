"""The server's typed configuration, in one place: defaults, then ``DATA/server.toml``, then env.

Every setting is checked on load with its type (a bool is not a number, a number is not a
bool) and its range; an unknown key is refused, so a typo never silently falls back to a
default. A refusal is a :class:`SetupError` naming the key, the value and what is allowed
(the CLI exits 2). The keys and ranges are listed in docs/cli.md ("Server settings").

Environment variables (``QATYS_DATABASE_URL``, ``QATYS_PUBLIC_URL``,
``QATYS_QUEUE_CORE_URL``, ``QATYS_DATABASE_READ_URL``) override the
file, so a container or systemd unit can point at another database without
editing the data directory; they are checked as strictly as the file.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

import limits
import tomli_w
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from qatys.sentences import Sentence
from qatys.urls import transport_problem
from server.errors import SetupError

CONFIG_FILE = "server.toml"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    database_url: str
    database_read_url: str = ""
    """A PostgreSQL streaming replica of ``database_url`` for reports, exports and the month
    computation (server/storage/replica.py); empty: everything reads the primary."""
    replica_wait_ms: int = 500
    """How long a report waits for the replica to replay what the primary had committed
    before it reads the primary instead."""
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
    run_worker: bool = True
    """`qatys server run` also runs one `qatys server worker` beside gunicorn (jobs, queue-core
    exchange). Set false where workers run as their own units (docs/deployment.md)."""
    job_stale_seconds: int = 30
    """A running job whose worker has not beaten its heart for this long is taken over."""
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

    push_subject: str = ""
    """Who sends the Web Push messages (VAPID ``sub``): ``mailto:…`` or an https address;
    empty: the server's ``public_url`` when it is https, else ``mailto:qatys@localhost``
    (docs/notifications.md)."""
    push_max_attempts: int = 8
    """A push message is given up (``failed``) after this many failed sends."""
    push_allow_loopback: bool = False
    """Take push subscriptions whose endpoint is plain http on this machine (127.0.0.1,
    localhost): the tests' stand-in push service. Off, every endpoint must be https to a
    host that is not an address of a private, loopback or link-local network."""

    @property
    def vapid_key_file(self) -> Path:
        """The application server's VAPID key (P-256, PEM): made by `qatys server init`."""
        return self.data_dir / "keys" / "vapid-private.pem"

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

BOUNDS: dict[str, tuple[int, int]] = {
    "max_body_bytes": (64 * 1024, 1024 * 1024 * 1024),
    "token_ttl_seconds": (60, 30 * 24 * 3600),
    "workers": (0, 256),
    "threads": (1, 64),
    "queue_core_roster_minutes": (1, 7 * 24 * 60),
    "queue_core_timeout_seconds": (1, 600),
    "job_stale_seconds": (5, 3600),
    "session_hours": (1, 168),
    "fleet_silent_seconds": (1, 30 * 24 * 3600),
    "push_max_attempts": (1, 100),
    "replica_wait_ms": (0, 60_000),
}
"""Whole-number settings and their inclusive ranges."""
_FLAGS = ("allow_plain_http", "run_worker", "push_allow_loopback")
ENV_OVERRIDES = {"database_url": "QATYS_DATABASE_URL", "public_url": "QATYS_PUBLIC_URL",
                 "queue_core_url": "QATYS_QUEUE_CORE_URL",
                 "database_read_url": "QATYS_DATABASE_READ_URL"}
_KEYS = tuple(item.name for item in fields(ServerConfig) if item.name != "data_dir")
_DATABASE_DIALECTS = ("sqlite", "postgresql", "postgres")


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'qatys.db').resolve()}"


def write_config(data_dir: Path, database_url: str | None, public_url: str | None,
                 queue_core_url: str | None = None) -> ServerConfig:
    """Write ``server.toml``, keeping settings already there that are not given now. Nothing
    is written when the result would not load."""
    path = data_dir / CONFIG_FILE
    body = _planned_body(data_dir, database_url, public_url, queue_core_url)
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(body), encoding="utf-8")
    return load_config(data_dir)


def planned_config(data_dir: Path, database_url: str | None, public_url: str | None,
                   queue_core_url: str | None = None) -> ServerConfig:
    """The configuration :func:`write_config` would write (and the environment override),
    checked the same way, with nothing written."""
    body = _planned_body(data_dir, database_url, public_url, queue_core_url)
    overrides = {key: os.environ[env] for key, env in ENV_OVERRIDES.items()
                 if os.environ.get(env)}
    return validate(body, data_dir, str(data_dir / CONFIG_FILE), overrides)


def _planned_body(data_dir: Path, database_url: str | None, public_url: str | None,
                  queue_core_url: str | None) -> dict[str, object]:
    path = data_dir / CONFIG_FILE
    body: dict[str, object] = {}
    if path.exists():
        body = tomllib.loads(path.read_text(encoding="utf-8"))
    given = {"database_url": database_url, "public_url": public_url,
             "queue_core_url": queue_core_url}
    body.update({key: value for key, value in given.items() if value is not None})
    problem = transport_problem(str(body["queue_core_url"]), body.get("allow_plain_http") is True) \
        if body.get("queue_core_url") else None
    if problem:
        raise SetupError(Sentence("--queue-core-url: %(problem)s; nothing written",
                                  problem=problem))
    body.setdefault("database_url", default_database_url(data_dir))
    body.setdefault("public_url", ServerConfig.public_url)
    validate(body, data_dir, f"{path} (nothing written)")
    return body


def load_config(data_dir: Path) -> ServerConfig:
    path = data_dir / CONFIG_FILE
    if not path.exists():
        raise SetupError(Sentence("%(data_dir)s is not a Qatys server data directory: run `qatys "
                                  "server init --data %(data_dir)s` first", data_dir=data_dir))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(Sentence("%(path)s: %(exc)s", path=path, exc=exc)) from exc
    overrides = {key: os.environ[env] for key, env in ENV_OVERRIDES.items()
                 if os.environ.get(env)}
    return validate(raw, data_dir, str(path), overrides)


def validate(values: Mapping[str, object], data_dir: Path, source: str,
             overrides: Mapping[str, str] | None = None) -> ServerConfig:
    """The configuration from the file's ``values`` and the environment's ``overrides``
    (of the keys in :data:`ENV_OVERRIDES`), each setting checked; ``source`` names the file
    in every refusal (an override is named by its variable)."""
    checked: dict[str, object] = {}
    for key, value in values.items():
        if key not in _KEYS:
            near = difflib.get_close_matches(key, _KEYS, n=1)
            if near:
                raise SetupError(Sentence("%(source)s: unknown setting '%(key)s' (did you mean "
                                          "'%(near)s'?); the settings are listed in docs/cli.md",
                                          source=source, key=key, near=near[0]))
            raise SetupError(Sentence("%(source)s: unknown setting '%(key)s'; the settings are "
                                      'listed in docs/cli.md', source=source, key=key))
        checked[key] = _check(key, value, source)
    for key, value in (overrides or {}).items():
        checked[key] = _check(key, value, f"environment {ENV_OVERRIDES[key]}")
    checked.setdefault("database_url", default_database_url(data_dir))
    config = ServerConfig(data_dir=data_dir, **checked)  # type: ignore[arg-type]
    problem = transport_problem(config.queue_core_url, config.allow_plain_http) \
        if config.queue_core_url else None
    if problem:
        where = (f"environment {ENV_OVERRIDES['queue_core_url']}"
                 if "queue_core_url" in (overrides or {}) else source)
        raise SetupError(Sentence("%(where)s: queue_core_url: %(problem)s", where=where,
                                  problem=problem))
    return config


def _shown(value: object) -> str:
    """A value as the file would spell it: true, 3, "text", [...]."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _check(key: str, value: object, source: str) -> object:
    """The value of one setting, checked (a list of proxies becomes a tuple)."""
    def refuse(allowed: Sentence) -> SetupError:
        return SetupError(Sentence("%(source)s: %(key)s = %(value)s: must be %(allowed)s",
                                   source=source, key=key, value=_shown(value), allowed=allowed))

    if key in BOUNDS:
        low, high = BOUNDS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise refuse(Sentence("a whole number within %(low)s..%(high)s", low=low, high=high))
        return value
    if key in _FLAGS:
        if not isinstance(value, bool):
            raise refuse(Sentence("true or false"))
        return value
    if key == "trusted_proxies":
        if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
            raise refuse(Sentence('a list of addresses or networks, e.g. ["127.0.0.1", '
                                  '"10.0.0.0/24"]'))
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise refuse(Sentence('a list of addresses or networks, e.g. ["127.0.0.1", '
                                      '"10.0.0.0/24"] (\'%(entry)s\' is neither)',
                                      entry=entry)) from exc
        return tuple(value)
    if not isinstance(value, str):
        raise refuse(Sentence("text"))
    if key in RATE_LIMITS and not _is_rate_limit(value):
        raise refuse(Sentence('one rate limit such as "10 per 15 minutes" (at least 1 per at '
                              'least 1 second, minute, hour or day)'))
    if key == "push_subject" and value and not (
            re.fullmatch(r"mailto:[^@\s]+@[^@\s]+", value)
            or (value.startswith("https://") and _is_http_url(value))):
        raise refuse(Sentence("mailto:ADDRESS, an https address, or empty"))
    if key == "database_url" and not _is_database_url(value):
        raise refuse(Sentence("a database URL: sqlite:///PATH or postgresql://…"))
    if key == "database_read_url" and value and not _is_database_url(value, ("postgresql",
                                                                            "postgres")):
        raise refuse(Sentence("a PostgreSQL replica's URL (postgresql://…), or empty"))
    if key in ("public_url", "queue_core_url") and not _is_http_url(value) and (
            value or key == "public_url"):
        if key == "queue_core_url":
            raise refuse(Sentence("an http(s) address with a host (port within 1..65535), or "
                                  "empty"))
        raise refuse(Sentence("an http(s) address with a host (port within 1..65535)"))
    return value


def _is_rate_limit(text: str) -> bool:
    try:
        items = limits.parse_many(text)
    except ValueError:
        return False
    # limits reads "5 per 0 minutes" as 5 per minute: a zero window is refused here.
    windows = re.findall(r"(?:per|/)\s*(\d+)", text)
    return len(items) == 1 and items[0].amount >= 1 and all(int(n) >= 1 for n in windows)


def _is_database_url(text: str, dialects: tuple[str, ...] = _DATABASE_DIALECTS) -> bool:
    try:
        url = make_url(text)
    except ArgumentError:
        return False
    return url.get_backend_name() in dialects


def _is_http_url(text: str) -> bool:
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and (
        port is None or 1 <= port <= 65535)
