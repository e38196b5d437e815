"""``qatys demo run``: the whole system on embedded defaults, for a newcomer's first look.

Starts a server on 127.0.0.1 with a demo kindergarten and a generated roster
(invented names, valid IIN checksums), enrols a local terminal against it,
records a few manual check-ins, syncs them, and keeps syncing until Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import requests

from provisioning.iin import generated as generated_iins

DEMO_CODE = "DEMO-001"
DEMO_NAME = "«Балапан» балабақшасы / детский сад «Балапан»"
_FIRST = ["Айару", "Нұрлан", "Алихан", "Томирис", "Дамир", "Амина", "Арсен", "Сафия",
          "Ерасыл", "Аружан", "Мирас", "Айлин"]
_LAST = ["Демоұлы", "Тестова", "Үлгіұлы", "Мысалова"]


def demo_roster(count: int = 24) -> str:
    lines = ["child_id,iin,last_name,first_name,birth_date,group,funding_category,"
             "enrolled_on,withdrawn_on"]
    for i, iin in zip(range(count), generated_iins("2104105"), strict=False):
        lines.append(f"DEMO-{i + 1:03d},{iin},{_LAST[i % 4]},{_FIRST[i % 12]},2021-04-10,"
                     f"{'Ботақан' if i % 2 else 'Күншуақ'},age3-full-state,2025-09-01,")
    return "\n".join(lines) + "\n"


def _qatys(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qatys", *args], capture_output=True,
                          text=True, check=True)


@click.group("demo")
def demo_group() -> None:
    """Developer tools: run the whole system locally."""


@demo_group.command("run")
@click.option("--dir", "base", default=".run", type=click.Path(path_type=Path),
              show_default=True, help="Where the demo keeps its server and terminal data.")
@click.option("--port", default=8080, show_default=True)
def demo_run(base: Path, port: int) -> None:
    """Server + demo kindergarten + an enrolled terminal, until Ctrl-C."""
    base = base.resolve()
    data, home = base / "server", base / "terminal"
    os.environ.setdefault("QATYS_RUNTIME_DIR", str(base / "runtime"))
    fresh = not (data / "server.toml").exists()
    _qatys("server", "init", "--data", str(data), "--public-url", f"http://127.0.0.1:{port}")
    if fresh:
        _qatys("kindergarten", "add", "--data", str(data), "--code", DEMO_CODE,
               "--name", DEMO_NAME)
        (base / "roster.csv").write_text(demo_roster(), encoding="utf-8")
        _qatys("roster", "import", "--data", str(data), "--kindergarten", DEMO_CODE,
               str(base / "roster.csv"))
        card = _qatys("unlock-card", "issue", "--data", str(data), "--kindergarten", DEMO_CODE,
                      "--qr", str(base / "unlock-card.png")).stdout.strip().splitlines()[-1]
        (base / "unlock-card.txt").write_text(card + "\n", encoding="utf-8")  # demo only
    server = subprocess.Popen([sys.executable, "-m", "qatys", "server", "run", "--data",
                               str(data), "--port", str(port)])
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/health")
        if not (home / "terminal.toml").exists():
            token = _qatys("terminal", "token", "--data", str(data), "--kindergarten",
                           DEMO_CODE).stdout.strip().splitlines()[-1]
            _qatys("terminal", "enroll", "--home", str(home), "--server",
                   f"http://127.0.0.1:{port}", "--token", token)
            for child in ("DEMO-001", "DEMO-002", "DEMO-003"):
                _qatys("terminal", "checkin", "--home", str(home), "--child", child,
                       "--manual", "--reason", "demo")
        click.echo(f"\nQatys is running.\n  server pages:  http://127.0.0.1:{port}/\n"
                   f"  API document:  http://127.0.0.1:{port}/api/v1/openapi.json\n"
                   f"  terminal home: {home}\n"
                   f"  try: .venv/bin/qatys terminal checkin --home {home} --child DEMO-004 "
                   "--manual --reason 'forgot card'\n"
                   f"  director's unlock card (after a reboot without network): "
                   f"{base / 'unlock-card.png'}\n"
                   f"  try: .venv/bin/qatys terminal unlock --home {home} "
                   f"--card \"$(cat {base / 'unlock-card.txt'})\"\n"
                   "Ctrl-C stops everything.\n")
        while True:
            subprocess.run([sys.executable, "-m", "qatys", "terminal", "sync", "--home",
                            str(home), "--quiet"], capture_output=True, check=False)
            time.sleep(10)
    except KeyboardInterrupt:
        click.echo("stopping…")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def _wait_for(url: str) -> None:
    for _ in range(100):
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise click.ClickException(f"server did not answer at {url}")
