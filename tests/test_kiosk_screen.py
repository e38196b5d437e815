"""The kiosk unit's real screen stack, started headless: ``cage`` (wlroots' headless backend)
running Chromium exactly as hardware/systemd/qatys-kiosk.service starts it — its ExecStart,
EnvironmentFile, User (an unprivileged stand-in), RuntimeDirectory in /run and the managed
Chromium policy — against a running ``qatys terminal run`` started as its own unit would. A
screenshot taken inside that Wayland session (``grim``) shows the door screen; the terminal
process is killed, restarted after the unit's RestartSec (Restart=always), and the page comes
back by itself, with the same Chromium, and ``qatys terminal selfcheck --kiosk`` passes. The
screenshots stay in tests/artefacts/.

Everything runs in a private network and mount namespace: the page is on 127.0.0.1:8765 as the
unit and the policy's allowlist say, without taking the machine's port 8765, and the policy
and /run are the namespace's own, not the machine's."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from terminal.capture import simulated
from terminal.capture.sources import write_clip
from tests.browser import artefact, chromium
from tests.helpers import QATYS, ServerProcess, enrol

HARDWARE = Path(__file__).resolve().parent.parent / "hardware"
KIOSK_UNIT = HARDWARE / "systemd/qatys-kiosk.service"
TERMINAL_UNIT = HARDWARE / "systemd/qatys-terminal.service"
STAND_IN_USER = 65534
"""``nobody``: the unprivileged stand-in for the unit's User=qatys-kiosk."""

HEADLESS = {"WLR_BACKENDS": "headless", "WLR_LIBINPUT_NO_DEVICES": "1",
            "WLR_RENDERER": "pixman", "WLR_HEADLESS_OUTPUTS": "2"}
"""What a machine without a screen adds to the unit's environment: wlroots' headless backend,
no input devices, the software renderer (no GPU here). Two headless outputs: with one, cage
0.1.4 hands Chromium's full-screen buffer straight to the headless output, whose test refuses
it ("Basic output test failed"), and the screen stays on Chromium's first, small frame;
across two outputs the window is composited and every frame shows."""

DOOR_BACKGROUND = (244, 244, 240)  # terminal/kiosk/templates/kiosk.html: body
HEADER = (31, 59, 87)  # the door screen's header; the enrolment screen is all this colour
PREVIEW_EMPTY = (34, 34, 34)  # the camera preview's box with no picture in it


def unit_service(path: Path) -> dict[str, list[str]]:
    """The [Service] settings of a unit file, each key's values in order."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def environment_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def needs(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    why = f"{', '.join(missing)} not installed (make install-test installs them)" if missing \
        else "" if os.geteuid() == 0 else "namespaces and a stand-in user need root"
    if why:
        if os.environ.get("QATYS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the headless kiosk screen is required here but {why}")
        pytest.skip(why)


class Namespace:
    """A private network (its own 127.0.0.1) and mount namespace held open by a process;
    commands enter it with nsenter."""

    def __init__(self, policies: Path) -> None:
        setup = ("ip link set lo up && mount -t tmpfs -o mode=0755 tmpfs /run && "
                 f"mount --bind {shlex.quote(str(policies))} /etc/chromium && "
                 "echo ready && exec sleep 3600")
        self.anchor = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", setup],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.anchor.stdout is not None
        if self.anchor.stdout.readline().strip() != "ready":
            self.anchor.kill()
            raise AssertionError(f"no namespace: {self.anchor.communicate()[1]}")

    def argv(self, *argv: str) -> list[str]:
        return ["nsenter", "-t", str(self.anchor.pid), "-n", "-m", "--", *argv]

    def run(self, *argv: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.argv(*argv), capture_output=True, timeout=60, check=False)

    def close(self) -> None:
        self.anchor.kill()
        self.anchor.communicate()


class TerminalUnit:
    """``qatys terminal run`` as qatys-terminal.service runs it (Type=notify, Restart=always,
    RestartSec): started again after the unit's pause whenever it exits."""

    def __init__(self, namespace: Namespace, argv: list[str], env: dict[str, str],
                 restart_seconds: float, log: Path) -> None:
        self.namespace, self.argv, self.env = namespace, argv, env
        self.restart_seconds, self.log = restart_seconds, log
        self.starts: list[int] = []
        self.ready = threading.Event()
        self.stopping = False
        self.process: subprocess.Popen[bytes] | None = None
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(env["NOTIFY_SOCKET"])
        self.notify.settimeout(0.2)
        self.thread = threading.Thread(target=self._supervise, daemon=True)
        self.thread.start()

    def _supervise(self) -> None:
        with self.log.open("ab") as out:
            while not self.stopping:
                self.ready.clear()
                self.process = subprocess.Popen(self.namespace.argv(*self.argv), env=self.env,
                                                stdout=out, stderr=out)
                self.starts.append(self.process.pid)
                while self.process.poll() is None:
                    try:
                        if self.notify.recv(4096).startswith(b"READY=1"):
                            self.ready.set()
                    except TimeoutError:
                        continue
                if not self.stopping:
                    time.sleep(self.restart_seconds)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    def stop(self) -> None:
        self.stopping = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
        self.thread.join(timeout=30)
        self.notify.close()


def screenshot(namespace: Namespace, runtime: str) -> Image.Image:
    done = namespace.run("setpriv", f"--reuid={STAND_IN_USER}", f"--regid={STAND_IN_USER}",
                         "--clear-groups", "env", f"XDG_RUNTIME_DIR={runtime}",
                         "WAYLAND_DISPLAY=wayland-0", "grim", "-")
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return Image.open(io.BytesIO(done.stdout)).convert("RGB")


def door_screen(image: Image.Image) -> bool:
    """The door screen: its header band on top, its light background over most of the rest
    (the enrolment screen is dark all over; Chromium's error page is white)."""
    pixels = np.asarray(image)
    header = (pixels[5] == HEADER).all(axis=1).mean()
    background = (pixels == DOOR_BACKGROUND).all(axis=2).mean()
    return bool(header > 0.5 and background > 0.2)


def empty_preview(image: Image.Image) -> float:
    """The share of the screen that is the camera preview's box without a picture."""
    return float((np.asarray(image) == PREVIEW_EMPTY).all(axis=2).mean())


def wait_for_door_screen(namespace: Namespace, runtime: str, seconds: float,
                         kiosk: subprocess.Popen[bytes]) -> Image.Image:
    deadline = time.monotonic() + seconds
    image = None
    while time.monotonic() < deadline:
        assert kiosk.poll() is None, "cage exited"
        if namespace.run("test", "-S", f"{runtime}/wayland-0").returncode != 0:
            time.sleep(0.5)
            continue
        image = screenshot(namespace, runtime)
        if door_screen(image):
            return image
        time.sleep(1)
    if image is not None:
        image.save(artefact("kiosk-screen-timeout.png"))
    raise AssertionError("the door screen did not appear (tests/artefacts/"
                         "kiosk-screen-timeout.png shows what did)")


@pytest.fixture
def namespace(tmp_path: Path) -> Iterator[Namespace]:
    """The namespace, with /etc/chromium holding the machine's files and the kiosk's managed
    policy as hardware/install-terminal.sh installs it."""
    needs("cage", "grim", "Xwayland", "unshare", "nsenter", "setpriv", "ip")
    chromium()
    policies = tmp_path / "etc-chromium"
    shutil.copytree("/etc/chromium", policies) if Path("/etc/chromium").is_dir() \
        else policies.mkdir()
    (policies / "policies/managed").mkdir(parents=True, exist_ok=True)
    shutil.copy(HARDWARE / "etc/chromium-policy.json", policies / "policies/managed/qatys.json")
    held = Namespace(policies)
    yield held
    held.close()


def test_the_kiosk_unit_shows_the_door_screen_and_gets_it_back_after_a_terminal_restart(
        sqlite_server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str],
        namespace: Namespace) -> None:
    kiosk, terminal = unit_service(KIOSK_UNIT), unit_service(TERMINAL_UNIT)
    argv = shlex.split(kiosk["ExecStart"][0])
    url = argv[-1]
    assert argv[0] == "/usr/bin/cage", argv
    assert url.startswith("http://127.0.0.1:"), argv
    port = urlsplit(url).port
    assert port is not None

    # the terminal, enrolled, as its unit runs it (a clip of an empty door for the camera)
    home = tmp_path / "terminal"
    enrol(sqlite_server, home, runtime_env)
    rng = np.random.default_rng(3)
    clip = write_clip([simulated.empty_frame(rng) for _ in range(30)], tmp_path / "door.avi")
    run = shlex.split(terminal["ExecStart"][0])
    assert run[1:4] == ["terminal", "run", "--home"], run
    unit = TerminalUnit(
        namespace, [*QATYS, "terminal", "run", "--home", str(home), "--clip", str(clip),
                    "--port", str(port)],
        {**os.environ, **runtime_env, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")},
        float(terminal["RestartSec"][0]), tmp_path / "terminal.log")
    assert terminal["Restart"] == ["always"]
    kiosk_process: subprocess.Popen[bytes] | None = None
    try:
        assert unit.ready.wait(120), (tmp_path / "terminal.log").read_text()

        # the kiosk as its unit starts it: the unit's RuntimeDirectory in /run, its
        # EnvironmentFile, its User (a stand-in), the login session's XDG_RUNTIME_DIR
        runtime = f"/run/user/{STAND_IN_USER}"
        for directory, mode in ((f"/run/{kiosk['RuntimeDirectory'][0]}",
                                 kiosk["RuntimeDirectoryMode"][0]), (runtime, "0700")):
            made = namespace.run("install", "-d", "-o", str(STAND_IN_USER), "-g",
                                 str(STAND_IN_USER), "-m", mode, directory)
            assert made.returncode == 0, made.stderr
        env = {"PATH": "/usr/bin:/bin", "HOME": f"/run/{kiosk['RuntimeDirectory'][0]}",
               "XDG_RUNTIME_DIR": runtime, **HEADLESS}
        for file in kiosk.get("EnvironmentFile", []):
            env.update(environment_file(HARDWARE / "etc" / Path(file.lstrip("-")).name))
        for setting in kiosk.get("Environment", []):
            env.update(dict(shlex.split(word)[0].split("=", 1) for word in setting.split()))
        assert kiosk["User"] == ["qatys-kiosk"]
        with (tmp_path / "kiosk.log").open("wb") as kiosk_log:
            kiosk_process = subprocess.Popen(
                namespace.argv("setpriv", f"--reuid={STAND_IN_USER}",
                               f"--regid={STAND_IN_USER}", "--clear-groups", "env", "-i",
                               *[f"{k}={v}" for k, v in env.items()], *argv),
                stdout=kiosk_log, stderr=kiosk_log)

        first = wait_for_door_screen(namespace, runtime, 120, kiosk_process)
        first.save(artefact("kiosk-screen-door.png"))
        assert first.size[1] >= 480

        # the terminal dies; its unit starts it again; the page comes back by itself
        killed = unit.starts[-1]
        unit.kill()
        deadline = time.monotonic() + 60
        while len(unit.starts) < 2 or not unit.ready.is_set():
            assert time.monotonic() < deadline, (tmp_path / "terminal.log").read_text()
            time.sleep(0.2)
        assert unit.starts[-1] != killed
        second = wait_for_door_screen(namespace, runtime, 60, kiosk_process)
        # and the camera's picture with it (the preview is asked again once the page's
        # event stream is back)
        deadline = time.monotonic() + 30
        while empty_preview(second) > empty_preview(first) + 0.05:
            assert time.monotonic() < deadline, "the camera preview did not come back"
            time.sleep(1)
            second = screenshot(namespace, runtime)
        second.save(artefact("kiosk-screen-door-after-restart.png"))
        assert kiosk_process.poll() is None  # the same cage and Chromium all along

        # the installer's check on the first unit (hardware/README.md) passes here
        check = subprocess.run(namespace.argv(*QATYS, "terminal", "selfcheck", "--home",
                                              str(home), "--kiosk"),
                               env={**os.environ, **runtime_env}, capture_output=True,
                               text=True, timeout=120, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        if kiosk_process is not None:
            kiosk_process.terminate()
            try:
                kiosk_process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kiosk_process.kill()
        unit.stop()
