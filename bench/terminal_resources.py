"""The terminal process on its own machine: start-up time to a ready kiosk, memory and CPU at
idle and during a morning peak (a scan every 3 seconds for 90 minutes, compressed in time).

The real ``qatys terminal run`` process reads a paced clip (as from a camera), decodes,
records, shows and syncs to a real server; it is measured from /proc (CPU = user + system
time of the process, memory = resident set). Start-up is timed to READY=1 on a real
systemd notify socket, as systemd sees it, and to the kiosk page's first answer.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import requests
from sqlalchemy import func, select

from server.datadir import open_data_dir
from server.storage import db
from terminal.capture import simulated
from terminal.capture.decoders import read_image
from terminal.capture.sources import write_clip
from tests.browser import Page
from tests.helpers import QATYS, ServerProcess, free_port, roster_csv, run, stop_process

PEAK_SCANS = int(os.environ.get("QATYS_BENCH_PEAK_SCANS", "1800"))
"""90 minutes at one scan every 3 seconds."""
CARDS = 40
CLIP_FPS = 30.0
HELD_FRAMES = 4
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _memory_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


class KioskProcess:
    """``qatys terminal run`` with a notify socket, as systemd would start it."""

    def __init__(self, home: Path, clip: Path, base: Path) -> None:
        self.port = free_port()
        self._notify_path = base / f"notify-{self.port}.sock"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self._notify_path))
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*QATYS, "terminal", "run", "--home", str(home), "--clip", str(clip),
             "--port", str(self.port)],
            env={**os.environ, "NOTIFY_SOCKET": str(self._notify_path),
                 "QATYS_RUNTIME_DIR": str(base / "run")},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self) -> tuple[float, float]:
        """Seconds to READY=1 and to the kiosk page's first 200."""
        self._sock.settimeout(60)
        while not self._sock.recv(4096).startswith(b"READY=1"):
            pass
        ready = time.monotonic() - self.started
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/", timeout=5).ok:
                    return ready, time.monotonic() - self.started
            except requests.ConnectionError:
                time.sleep(0.01)

    def status(self) -> dict[str, object]:
        answer: dict[str, object] = requests.get(f"http://127.0.0.1:{self.port}/status",
                                                 timeout=5).json()
        return answer

    def stop(self) -> None:
        took = stop_process(self.process, timeout=60)
        if took > 30:  # systemd would have killed it (TimeoutStopSec)
            print(f"  note: the kiosk took {took:.0f} s to stop")
        self._sock.close()
        self._notify_path.unlink(missing_ok=True)


def _prepare(server: ServerProcess, base: Path, home: Path) -> tuple[Path, Path]:
    """A terminal of a kindergarten with CARDS children, and clips: the idle door, the peak."""
    text, people = roster_csv(CARDS, prefix="peak")
    (base / "peak.csv").write_text(text, encoding="utf-8")
    run("kindergarten", "add", "--data", str(server.data_dir), "--code", "KGP",
        "--name", "Peak")
    run("roster", "import", "--data", str(server.data_dir), "--kindergarten", "KGP",
        str(base / "peak.csv"))
    token = run("terminal", "token", "--data", str(server.data_dir), "--kindergarten",
                "KGP").stdout.strip().splitlines()[-1]
    run("terminal", "enroll", "--home", str(home), "--server", server.url, "--token", token)
    run("terminal", "sync", "--home", str(home), "--quiet", env={
        "QATYS_RUNTIME_DIR": str(base / "run")})
    # Compressed time: every scan is recorded (no dedupe, departures allowed at once), and
    # the kiosk syncs every 10 s instead of every minute.
    run("terminal", "config", "--home", str(home), "--set", "dedupe_window_seconds=0",
        "--set", "departure_gap_minutes=0", "--set", "sync_interval_seconds=10")
    children = [person["child_id"] for person in people]
    pictures = []
    for i, child in enumerate(children):
        out = base / f"peak-card-{i}.png"
        run("card", "issue", "--data", str(server.data_dir), "--child", child, "--out", str(out))
        pictures.append(read_image(str(out)))
    rng = np.random.default_rng(3)
    idle = write_clip([simulated.empty_frame(rng) for _ in range(90)], base / "idle.avi",
                      fps=15.0)
    peak = write_clip(simulated.door_clip(pictures, rng, idle_frames=1,
                                          held_frames=HELD_FRAMES),
                      base / "peak.avi", fps=CLIP_FPS)
    return idle, peak


def _sample(pid: int, seconds: float) -> tuple[float, list[int]]:
    """CPU share of one core over ``seconds`` and the resident set sampled each second."""
    cpu0, t0, rss = _cpu_seconds(pid), time.monotonic(), []
    while time.monotonic() - t0 < seconds:
        time.sleep(1.0)
        rss.append(_memory_kib(pid)["VmRSS"])
    return (_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0), rss


def bench_terminal_resources(server: ServerProcess, base: Path) -> None:
    home = base / "resources"
    idle_clip, peak_clip = _prepare(server, base, home)

    starts, pages = [], []
    for _ in range(5):
        kiosk = KioskProcess(home, idle_clip, base)
        ready, page = kiosk.wait_ready()
        starts.append(ready)
        pages.append(page)
        kiosk.stop()
    print(f"terminal start-up (`qatys terminal run`, enrolled, 5 runs): READY=1 median "
          f"{statistics.median(starts):.2f} s (min {min(starts):.2f}, max {max(starts):.2f}); "
          f"kiosk page answering median {statistics.median(pages):.2f} s")

    screens = []
    for i in range(3):
        kiosk = KioskProcess(home, idle_clip, base)
        screen = Page(base / f"screen-{i}")  # started together, as the two units are
        kiosk.wait_ready()
        screen.goto(f"http://127.0.0.1:{kiosk.port}/")
        screen.wait_for("(document.getElementById('net') || {}).textContent", timeout=60)
        screens.append(time.monotonic() - kiosk.started)
        screen.close()
        kiosk.stop()
    print(f"cold start to a live door screen (terminal process and headless Chromium started "
          f"together, 3 runs): median {statistics.median(screens):.2f} s "
          f"(max {max(screens):.2f})")

    kiosk = KioskProcess(home, idle_clip, base)
    kiosk.wait_ready()
    time.sleep(5)
    idle_cpu, idle_rss = _sample(kiosk.process.pid, 30)
    kiosk.stop()
    print(f"terminal idle (camera at 15 fps, no code, 30 s): CPU {idle_cpu * 100:.1f} % of one "
          f"core; resident memory median {statistics.median(idle_rss) / 1024:.0f} MiB")

    kiosk = KioskProcess(home, peak_clip, base)
    kiosk.wait_ready()
    pending0 = int(str(kiosk.status()["pending"]))
    seconds_per_scan = (HELD_FRAMES + 1) / CLIP_FPS
    duration = PEAK_SCANS * seconds_per_scan
    peak_cpu, peak_rss = _sample(kiosk.process.pid, duration)
    hwm = _memory_kib(kiosk.process.pid)["VmHWM"]
    status = kiosk.status()
    kiosk.stop()
    run("terminal", "sync", "--home", str(home), "--quiet",
        env={"QATYS_RUNTIME_DIR": str(base / "run")})  # what was still pending
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        recorded = conn.execute(select(func.count()).select_from(db.events).where(
            db.events.c.kindergarten == "KGP",
            db.events.c.kind.in_(["arrival", "departure"]))).scalar_one()
    engine.dispose()
    third = max(1, len(peak_rss) // 3)
    print(f"terminal morning peak: {PEAK_SCANS} cards shown ({PEAK_SCANS * 3 / 60:.0f} min at "
          f"one per 3 s) compressed {3 / seconds_per_scan:.0f}x into {duration:.0f} s, clip at "
          f"{CLIP_FPS:.0f} fps; check-ins recorded {recorded} "
          f"(pending at the end {status['pending']}, at the start {pending0}); "
          f"CPU {peak_cpu * 100:.1f} % of one core; resident "
          f"memory first third median {statistics.median(peak_rss[:third]) / 1024:.0f} MiB, "
          f"last third {statistics.median(peak_rss[-third:]) / 1024:.0f} MiB, "
          f"peak {hwm / 1024:.0f} MiB")
