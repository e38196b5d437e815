"""Plain http:// only to this machine unless allow_plain_http is set (labs only): the
terminal's settings, enrolment, the queue-core client, and the address rules themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qatys.urls import is_loopback, transport_problem
from server.config import load_config
from server.errors import QueueCoreError
from server.errors import SetupError as ServerSetupError
from server.queue_core.client import QueueCoreClient
from terminal.config import validate
from terminal.errors import SetupError
from tests.helpers import ServerProcess, enrol, run


@pytest.mark.parametrize(("url", "allowed", "loopback"), [
    ("https://qatys.example.kz", True, False),
    ("http://127.0.0.1:8080", True, True),
    ("http://127.8.9.10", True, True),
    ("http://localhost:8080/", True, True),
    ("http://[::1]:8080", True, True),
    ("http://10.0.0.5:8080", False, False),
    ("http://qatys.example.kz", False, False),
    ("http://127.0.0.1.example.kz", False, False),
    ("ftp://127.0.0.1", False, True),
    ("https://", False, False),
])
def test_only_https_or_loopback_http(url: str, allowed: bool, loopback: bool) -> None:
    assert (transport_problem(url, False) is None) is allowed
    assert is_loopback(url) is loopback
    if url.startswith("http://"):
        assert transport_problem(url, True) is None


def test_terminal_settings_refuse_plain_http_to_another_machine() -> None:
    base = {"server_url": "http://10.0.0.5:8080", "terminal_id": "T-X", "kindergarten": "KG1"}
    with pytest.raises(SetupError, match="allow_plain_http"):
        validate(base, "terminal.toml")
    assert validate({**base, "allow_plain_http": True}, "terminal.toml").allow_plain_http
    with pytest.raises(SetupError, match="true or false"):
        validate({**base, "allow_plain_http": "yes"}, "terminal.toml")


def test_enrol_refuses_plain_http_before_any_request(tmp_path: Path,
                                                    runtime_env: dict[str, str]) -> None:
    home = tmp_path / "t"
    out = run("terminal", "enroll", "--home", str(home), "--server", "http://192.0.2.10:8080",
              "--token", "QTK1-" + "A" * 32 + "-" + "B" * 16, env=runtime_env, check=False)
    assert out.returncode == 2
    assert "plain http" in out.stderr
    assert not home.exists()


def test_a_setting_cannot_turn_an_enrolled_terminal_to_plain_http(
        sqlite_server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str]) -> None:
    home = tmp_path / "c"
    enrol(sqlite_server, home, runtime_env)
    before = (home / "terminal.toml").read_bytes()
    out = run("terminal", "config", "--home", str(home), "--set",
              'server_url="http://10.0.0.5:8080"', env=runtime_env, check=False)
    assert out.returncode == 2
    assert "allow_plain_http" in out.stderr
    assert (home / "terminal.toml").read_bytes() == before
    lab = run("terminal", "config", "--home", str(home), "--set",
              'server_url="http://10.0.0.5:8080"', "--set", "allow_plain_http=true",
              env=runtime_env)
    assert json.loads(lab.stdout)["allow_plain_http"] is True


def test_the_queue_core_address_follows_the_same_rule(tmp_path: Path) -> None:
    data = tmp_path / "server"
    out = run("server", "init", "--data", str(data), "--queue-core-url",
              "http://10.0.0.9:8090", check=False)
    assert out.returncode == 2, out.stderr
    assert "allow_plain_http" in out.stderr
    assert not (data / "server.toml").exists()
    assert not (data / "keys").exists()
    with pytest.raises(QueueCoreError) as refused:
        QueueCoreClient("http://10.0.0.9:8090")
    assert refused.value.retry is False
    assert QueueCoreClient("http://10.0.0.9:8090", allow_plain_http=True).base_url
    data.mkdir(exist_ok=True)
    (data / "server.toml").write_text('queue_core_url = "http://10.0.0.9:8090"\n')
    with pytest.raises(ServerSetupError, match="allow_plain_http"):
        load_config(data)
    (data / "server.toml").write_text('queue_core_url = "http://10.0.0.9:8090"\n'
                                      "allow_plain_http = true\n")
    assert load_config(data).allow_plain_http is True
