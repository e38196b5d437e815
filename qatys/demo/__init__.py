"""``qatys demo run``: the whole system on embedded defaults, for a newcomer's first look.

Starts a server on 127.0.0.1 with a demo kindergarten and a generated roster
(invented names, valid IIN checksums), enrols a local terminal against it,
prints cards for a few children and runs the terminal's kiosk: on the camera
when the machine has one, otherwise on a simulated camera, a clip of those
cards held up at the door in varied conditions. Ctrl-C stops everything.

A fresh demo directory also gets the previous calendar month of attendance (qatys/demo/
month.py plans it, qatys/demo/seed.py records it through the terminal and a sync), with its
absences, a closure and the month's totals, so the finance, office and parents' pages show
real content; today stays for the live clip.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import requests
from sqlalchemy import select

from provisioning.card_print import save_qr_png, write_card
from provisioning.iin import generated as generated_iins
from qatys.demo.seed import seed_previous_month
from qatys.timeutil import local_date, now_us
from server.datadir import DataDir, with_data_dir
from server.registry.cards import issue_card
from server.registry.kindergartens import add_kindergarten
from server.registry.roster import import_roster
from server.registry.terminals import issue_token
from server.registry.unlock_cards import issue_card as issue_unlock_card
from server.staff.accounts import Role, add_user
from server.storage import db

SOURCE_TREE = Path(__file__).resolve().parents[2]
"""The checkout this package is installed from (editable), where tools/ lives."""
DEMO_CODE = "DEMO-001"
DEMO_PIN = "1234"
DEMO_CARD_CHILDREN = ("DEMO-001", "DEMO-002", "DEMO-003", "DEMO-004", "DEMO-005", "DEMO-006")
DEMO_NAME = "«Балапан» балабақшасы / детский сад «Балапан»"
DEMO_DISTRICT = "Алмалы"
DEMO_USERS = (("finance", Role.FINANCE, "demo-finance-1"),
              ("director", Role.DIRECTOR, "demo-director-1"),
              ("teacher", Role.TEACHER, "demo-teacher-1"),
              ("operator", Role.OPERATOR, "demo-operator-1"),
              ("auditor", Role.AUDITOR, "demo-auditor-1"))
"""Staff accounts of the demo (username, role, password): for a local look only. The teacher
has the group Ботақан, the operator the demo's district."""
_FIRST = ["Айару", "Нұрлан", "Алихан", "Томирис", "Дамир", "Амина", "Арсен", "Сафия",
          "Ерасыл", "Аружан", "Мирас", "Айлин"]
_LAST = ["Демоұлы", "Тестова", "Үлгіұлы", "Мысалова"]


DEMO_CHILDREN = 24


def demo_children(count: int = DEMO_CHILDREN) -> list[str]:
    return [f"DEMO-{i + 1:03d}" for i in range(count)]


def demo_roster(count: int = DEMO_CHILDREN) -> str:
    lines = ["child_id,iin,last_name,first_name,birth_date,group,funding_category,"
             "enrolled_on,withdrawn_on"]
    for i, (child, iin) in enumerate(zip(demo_children(count), generated_iins("2104105"),
                                         strict=False)):
        lines.append(f"{child},{iin},{_LAST[i % 4]},{_FIRST[i % 12]},2021-04-10,"
                     f"{'Ботақан' if i % 2 else 'Күншуақ'},age3-full-state,2025-09-01,")
    return "\n".join(lines) + "\n"


def _qatys(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qatys", *args], capture_output=True,
                          text=True, check=True, input=stdin)


@click.group("demo")
def demo_group() -> None:
    """Developer tools: run the whole system locally."""


@demo_group.command("run")
@click.option("--dir", "base", default=".run", type=click.Path(path_type=Path),
              show_default=True, help="Where the demo keeps its server and terminal data.")
@click.option("--port", default=8080, show_default=True)
@click.option("--kiosk-port", default=8765, show_default=True)
@click.option("--core-port", default=8090, show_default=True,
              help="Port of the queue-core stand-in.")
def demo_run(base: Path, port: int, kiosk_port: int, core_port: int) -> None:
    """Server + demo kindergarten + an enrolled terminal, until Ctrl-C."""
    base = base.resolve()
    signal.signal(signal.SIGTERM, _interrupt)  # stop as cleanly as on Ctrl-C
    data, home = base / "server", base / "terminal"
    os.environ.setdefault("QATYS_RUNTIME_DIR", str(base / "runtime"))
    _prepare_server(data, base, port, core_port)
    door = ThreadPoolExecutor(1).submit(_camera_or_clip, data, base)  # while the rest starts
    core = _start_core(data, base, core_port)
    server = subprocess.Popen([sys.executable, "-m", "qatys", "server", "run", "--data",
                               str(data), "--port", str(port)])
    children = [core, server]
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/health")
        _wait_for(f"http://127.0.0.1:{core_port}/stand-in/health")
        # The server's own worker (run_worker) exchanges with the core and sends the
        # guardians' push messages.
        _enrol_terminal(data, home, port)
        seeded = seed_previous_month(base, data, home, demo_children(), DEMO_CODE,
                                     local_date(now_us()))
        if seeded is not None:
            click.echo(f"demo: {len(seeded.scans)} check-ins of {seeded.label} recorded and "
                       "synced; absences, a closure and the month's totals added")
        source = door.result()
        kiosk = subprocess.Popen([sys.executable, "-m", "qatys", "terminal", "run", "--home",
                                  str(home), *source, "--port", str(kiosk_port)])
        children.append(kiosk)
        click.echo(_addresses(base, data, home, source, port, kiosk_port, core_port))
        while kiosk.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        click.echo("stopping…")
    finally:
        for process in reversed(children):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


def _prepare_server(data: Path, base: Path, port: int, core_port: int) -> None:
    """The server's data directory, the demo kindergarten and its roster (made once), and the
    demo accounts. What follows `qatys server init` runs here, through the same services as
    the commands (a process each would cost the demo's start seconds apiece)."""
    fresh = not (data / "server.toml").exists()
    _qatys("server", "init", "--data", str(data), "--public-url", f"http://127.0.0.1:{port}",
           "--queue-core-url", f"http://127.0.0.1:{core_port}")
    _demo_kindergarten(data, base, fresh)


@with_data_dir
def _demo_kindergarten(server: DataDir, base: Path, fresh: bool) -> None:
    if fresh:
        (base / "roster.csv").write_text(demo_roster(), encoding="utf-8")
        with server.transaction() as conn:
            add_kindergarten(conn, DEMO_CODE, DEMO_NAME, False, DEMO_DISTRICT)
            import_roster(conn, DEMO_CODE, (base / "roster.csv").read_bytes(), "roster.csv",
                          local_date(now_us()))
            card = str(issue_unlock_card(conn, DEMO_CODE, now_us()))
        save_qr_png(card, base / "unlock-card.png")
        (base / "unlock-card.txt").write_text(card + "\n", encoding="utf-8")  # demo only
    _demo_users(server)


def _enrol_terminal(data: Path, home: Path, port: int) -> None:
    """The demo's door terminal, enrolled against the running server once."""
    if (home / "terminal.toml").exists():
        return
    token = _enrolment_token(data)
    _qatys("terminal", "enroll", "--home", str(home), "--server",
           f"http://127.0.0.1:{port}", "--token", token)
    _qatys("terminal", "set-pin", "--home", str(home), "--pin", DEMO_PIN)


@with_data_dir
def _enrolment_token(server: DataDir) -> str:
    with server.transaction() as conn:
        return str(issue_token(conn, DEMO_CODE, server.keys.sign_public, now_us(),
                               server.config.token_ttl_seconds))


def _addresses(base: Path, data: Path, home: Path, source: list[str], port: int,
               kiosk_port: int, core_port: int) -> str:
    """What the newcomer can open and try, once everything runs."""
    return (f"\nQatys is running.\n  server pages:  http://127.0.0.1:{port}/\n"
            f"  API document:  http://127.0.0.1:{port}/api/v1/openapi.json\n"
            f"  finance pages: http://127.0.0.1:{port}/finance/  (demo accounts: "
            + ", ".join(f"{u} / {pw}" for u, _, pw in DEMO_USERS) + ")\n"
            f"  office:        http://127.0.0.1:{port}/office/  (director, teacher, operator: "
            "today's list, absences, cards, roster, terminals)\n"
            f"  queue core:    http://127.0.0.1:{core_port}/ (a STAND-IN, "
            "tools/queue_core_standin.py)\n"
            f"  parents:       .venv/bin/qatys guardian invite --data {data} --child "
            f"{DEMO_CARD_CHILDREN[0]}  (open the printed URL; a phone needs https)\n"
            f"  kiosk screen:  http://127.0.0.1:{kiosk_port}/  ({' '.join(source)}; "
            f"staff PIN {DEMO_PIN})\n"
            f"  cards:         {base / 'cards'}\n"
            f"  terminal home: {home}\n"
            f"  try: .venv/bin/qatys terminal scan --home {home} {base / 'cards'}/*.png\n"
            f"  face (only with consent): .venv/bin/qatys consent grant --data {data} "
            f"--child {DEMO_CARD_CHILDREN[1]} --paper FORM-1, then .venv/bin/qatys "
            f"terminal sync --home {home} and .venv/bin/qatys face enroll --home {home} "
            f"--child {DEMO_CARD_CHILDREN[1]} PHOTO.jpg (docs/faces.md)\n"
            f"  director's unlock card (after a reboot without network): "
            f"{base / 'unlock-card.png'}\n"
            "Ctrl-C stops everything.\n")


def _demo_users(server: DataDir) -> None:
    """The demo's staff accounts, made once each (an older demo directory gets the ones it
    lacks)."""
    with server.transaction() as conn:
        known = set(conn.execute(select(db.users.c.username)).scalars())
        for username, role, password in DEMO_USERS:
            if username in known:
                continue
            add_user(conn, username, password, role,
                     DEMO_CODE if role in (Role.DIRECTOR, Role.TEACHER) else None, now_us(),
                     district=DEMO_DISTRICT if role == Role.OPERATOR else None,
                     groups=("Ботақан",) if role == Role.TEACHER else ())


def _start_core(data: Path, base: Path, port: int) -> subprocess.Popen[bytes]:
    """The queue-core stand-in, trusting this server's key, serving the demo roster."""
    rosters = base / "core" / "rosters"
    rosters.mkdir(parents=True, exist_ok=True)
    (rosters / f"{DEMO_CODE}.csv").write_text(demo_roster(), encoding="utf-8")
    key = _public_key(data)
    if not (SOURCE_TREE / "tools" / "queue_core_standin.py").is_file():
        raise click.ClickException("the demo runs from a source checkout: its queue-core "
                                   "stand-in (tools/) is not part of the installed package")
    log = open(base / "core" / "stand-in.log", "ab")  # noqa: SIM115 - the process keeps it
    # tools/ is not in the package: the stand-in is found by running in the source tree
    return subprocess.Popen([sys.executable, "-m", "tools.queue_core_standin", "--data",
                             str(base / "core"), "--trust-key", key, "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=SOURCE_TREE)


def _camera_or_clip(data: Path, base: Path) -> list[str]:
    """The real camera if there is one; otherwise a clip of the demo cards (made once)."""
    cards = base / "cards"
    if not cards.exists():
        cards.mkdir()
        _demo_cards(data, cards)
    if Path("/dev/video0").exists():
        return ["--camera", "0"]
    clip = base / "door-clip.avi"
    if not clip.exists():
        import numpy as np

        from terminal.capture import simulated
        from terminal.capture.decoders import read_image
        from terminal.capture.sources import write_clip

        pictures = [read_image(str(cards / f"{child}.png")) for child in DEMO_CARD_CHILDREN]
        write_clip(simulated.door_clip(pictures, np.random.default_rng(2026), idle_frames=30),
                   clip)
    return ["--clip", str(clip)]


@with_data_dir
def _public_key(server: DataDir) -> str:
    return base64.b64encode(server.keys.sign_public).decode("ascii")


@with_data_dir
def _demo_cards(server: DataDir, cards: Path) -> None:
    now = now_us()
    with server.transaction() as conn:
        for child in DEMO_CARD_CHILDREN:
            write_card(issue_card(conn, child, local_date(now), now), cards / f"{child}.png")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _wait_for(url: str) -> None:
    for _ in range(100):
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise click.ClickException(f"server did not answer at {url}")
