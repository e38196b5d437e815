"""The server's typed configuration (server/config.py): every bad setting is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import BOUNDS, ServerConfig, load_config, write_config
from server.errors import SetupError


def _load(tmp_path: Path, body: str) -> ServerConfig:
    (tmp_path / "server.toml").write_text(body, encoding="utf-8")
    return load_config(tmp_path)


def _refused(tmp_path: Path, body: str) -> str:
    with pytest.raises(SetupError) as refused:
        _load(tmp_path, body)
    return str(refused.value)


def test_defaults_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for env in ("QATYS_DATABASE_URL", "QATYS_PUBLIC_URL", "QATYS_QUEUE_CORE_URL"):
        monkeypatch.delenv(env, raising=False)
    config = _load(tmp_path, "")
    assert config.database_url == f"sqlite:///{(tmp_path / 'qatys.db').resolve()}"
    assert (config.public_url, config.workers, config.threads, config.session_hours) == (
        "http://127.0.0.1:8080", 0, 4, 8)
    assert config.trusted_proxies == ()
    for key, (low, high) in BOUNDS.items():
        assert low <= getattr(config, key) <= high, key


def test_a_good_file_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QATYS_QUEUE_CORE_URL", raising=False)
    monkeypatch.delenv("QATYS_PUBLIC_URL", raising=False)
    monkeypatch.delenv("QATYS_DATABASE_URL", raising=False)
    config = _load(tmp_path, """
database_url = "postgresql://qatys@db.example/qatys"
public_url = "https://qatys.example:8443/"
queue_core_url = "https://core.example/"
max_body_bytes = 65536
workers = 0
threads = 64
session_hours = 168
queue_core_timeout_seconds = 1
fleet_silent_seconds = 3
allow_plain_http = false
trusted_proxies = ["127.0.0.1", "10.0.0.0/24", "::1"]
limit_finance_login_account = "5/minute"
""")
    assert config.threads == 64
    assert config.session_hours == 168
    assert config.trusted_proxies == ("127.0.0.1", "10.0.0.0/24", "::1")
    assert config.limit_finance_login_account == "5/minute"


@pytest.mark.parametrize(("line", "named"), [
    ("threads = true", "threads = true: must be a whole number within 1..64"),
    ("workers = false", "workers = false: must be a whole number within 0..256"),
    ('session_hours = "8"', 'session_hours = "8": must be a whole number within 1..168'),
    ("session_hours = 8.0", "session_hours = 8.0: must be a whole number"),
    ("allow_plain_http = 1", "allow_plain_http = 1: must be true or false"),
    ('allow_plain_http = "yes"', "allow_plain_http = \"yes\": must be true or false"),
    ("public_url = 8080", "public_url = 8080: must be text"),
    ('trusted_proxies = "127.0.0.1"', "trusted_proxies = \"127.0.0.1\": must be a list"),
    ("trusted_proxies = [1]", "trusted_proxies = [1]: must be a list"),
])
def test_a_wrong_type_is_refused(tmp_path: Path, line: str, named: str) -> None:
    assert named in _refused(tmp_path, line + "\n")


@pytest.mark.parametrize(("line", "named"), [
    ("threads = 0", "threads = 0: must be a whole number within 1..64"),
    ("threads = 65", "within 1..64"),
    ("workers = -1", "workers = -1: must be a whole number within 0..256"),
    ("session_hours = 0", "within 1..168"),
    ("session_hours = 169", "session_hours = 169"),
    ("queue_core_timeout_seconds = 0", "queue_core_timeout_seconds = 0"),
    ("fleet_silent_seconds = 0", "fleet_silent_seconds = 0"),
    ("token_ttl_seconds = -5", "token_ttl_seconds = -5"),
    ("max_body_bytes = 100", "max_body_bytes = 100: must be a whole number within 65536.."),
    ("queue_core_roster_minutes = 0", "queue_core_roster_minutes = 0"),
    ('public_url = "http://127.0.0.1:70000"', "port within 1..65535"),
    ('public_url = "http://127.0.0.1:0"', "port within 1..65535"),
    ('public_url = "ftp://example"', 'public_url = "ftp://example": must be an http(s)'),
    ('queue_core_url = "core.example"', "queue_core_url = \"core.example\": must be an http(s)"),
    ('queue_core_url = "http://10.0.0.9:8090"', "allow_plain_http"),
    ('database_url = "mysql://x/y"', 'database_url = "mysql://x/y": must be a database URL'),
    ('database_url = "qatys.db"', "must be a database URL"),
    ('database_read_url = "sqlite:///x.db"', "must be a PostgreSQL replica's URL"),
    ('database_read_url = "replica"', "must be a PostgreSQL replica's URL"),
    ("replica_wait_ms = -1", "replica_wait_ms = -1: must be a whole number within 0..60000"),
    ("replica_wait_ms = true", "replica_wait_ms = true"),
    ('trusted_proxies = ["10.0.0.300"]', "'10.0.0.300' is neither"),
    ('limit_parents_claim_code = "lots"', 'limit_parents_claim_code = "lots": must be one rate'),
    ('limit_parents_claim_code = "0 per minute"', "limit_parents_claim_code"),
    ('limit_parents_claim_code = "5 per 0 minutes"', "limit_parents_claim_code"),
    ('limit_parents_claim_code = "5 per minute; 9 per hour"', "limit_parents_claim_code"),
])
def test_a_value_out_of_range_is_refused(tmp_path: Path, line: str, named: str) -> None:
    message = _refused(tmp_path, line + "\n")
    assert named in message
    assert str(tmp_path / "server.toml") in message


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, "sesion_hours = 8\n")
    assert "unknown setting 'sesion_hours'" in message
    assert "did you mean 'session_hours'" in message
    assert "unknown setting 'data_dir'" in _refused(tmp_path, 'data_dir = "/tmp"\n')


def test_a_bad_environment_override_is_refused(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QATYS_PUBLIC_URL", "not a url")
    assert "environment QATYS_PUBLIC_URL: public_url = \"not a url\"" in _refused(tmp_path, "")
    monkeypatch.delenv("QATYS_PUBLIC_URL")
    monkeypatch.setenv("QATYS_DATABASE_URL", "oracle://x")
    assert "environment QATYS_DATABASE_URL: database_url" in _refused(tmp_path, "")
    monkeypatch.delenv("QATYS_DATABASE_URL")
    monkeypatch.setenv("QATYS_QUEUE_CORE_URL", "http://10.0.0.9:8090")
    message = _refused(tmp_path, "")
    assert message.startswith("environment QATYS_QUEUE_CORE_URL: queue_core_url")
    assert "allow_plain_http" in message
    monkeypatch.setenv("QATYS_QUEUE_CORE_URL", "https://core.example/")
    assert _load(tmp_path, "").queue_core_url == "https://core.example/"
    monkeypatch.setenv("QATYS_DATABASE_READ_URL", "sqlite:///replica.db")
    assert "environment QATYS_DATABASE_READ_URL: database_read_url" in _refused(tmp_path, "")
    monkeypatch.setenv("QATYS_DATABASE_READ_URL", "postgresql://qatys@replica.example/qatys")
    assert _load(tmp_path, "").database_read_url == "postgresql://qatys@replica.example/qatys"


def test_init_writes_nothing_that_would_not_load(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="public_url"):
        write_config(tmp_path / "data", None, "ftp://x")
    assert not (tmp_path / "data" / "server.toml").exists()
