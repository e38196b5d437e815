"""The Raspberry Pi path: a Debian 12 arm64 system (mmdebstrap, run through qemu-user), the
release bundle built for ``linux_aarch64``, hardware/install-terminal.sh run in it, and the
installed terminal used there against a server on this machine (a chroot shares 127.0.0.1).

Started by conftest.py in the background when test_arm64_install.py is selected, as the
x86_64 chroot is (tests/chroot_install.py); everything that takes long happens here, and the
test only reads ``result.json`` and the root it leaves. Under emulation a Python start costs
some ten seconds of CPU, so what runs inside the arm64 system is few processes:
``qatys --version``, ``qatys terminal selfcheck``, one batch (tests/arm64_batch.py: the native
modules load and are aarch64 builds, enrolment, a card picture and a phone-code screenshot
scanned, a face enrolled and identified, sync), ``qatys-update apply`` of a newer bundle and
``qatys-update rollback``.

The Debian part (mmdebstrap with the Debian packages the install script names) is kept
between runs in ``$QATYS_ARM64_CACHE`` (default /var/cache/qatys-tests), keyed by the suite,
the architecture, that package list and the week (so security updates come in weekly); a
run mounts it read-only under an overlay, so nothing a run does reaches the cache, and
builds it under a lock, renaming it into place only when complete.

    python -m tests.arm64_install WORKDIR
"""

from __future__ import annotations

import base64
import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from tests import chroot_install

REPOSITORY = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = REPOSITORY / "hardware/install-terminal.sh"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
SUITE, ARCH = "bookworm", "arm64"
BUNDLE_DIR = "/root/qatys"
HOME = "/root/door"
"""The terminal home the batch enrols (as root); the installed, unenrolled
/var/lib/qatys/terminal is what qatys-update checks, as its service user."""
CHILD_CARD, CHILD_PHONE, CHILD_FACE = "child-00001-x7q", "child-00002-x7q", "child-00003-x7q"


def _binfmt_aarch64() -> str:
    """Empty when aarch64 programs run here (qemu-user registered with the fix-binary flag,
    so that it works inside a chroot without a copy of qemu there), else why not."""
    if not (BINFMT / "status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
                       capture_output=True, check=False)
    entry = BINFMT / "qemu-aarch64"
    if not entry.exists() and shutil.which("update-binfmts"):
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True,
                       check=False)
    if not entry.exists():
        return ("qemu-user is not registered for aarch64 programs (apt-get install "
                "qemu-user-static binfmt-support; make install-test installs them)")
    text = entry.read_text()
    if "enabled" not in text.splitlines()[0]:
        return "the qemu-aarch64 binfmt entry is disabled (update-binfmts --enable qemu-aarch64)"
    flags = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("flags:")), "")
    if "F" not in flags:
        return "the qemu-aarch64 binfmt entry lacks the fix-binary flag (F): use qemu-user-static"
    return ""


def possible() -> str:
    """Empty when the arm64 system can be built here, else why not."""
    if os.geteuid() != 0:
        return "building an arm64 chroot needs root"
    for tool in ("mmdebstrap", "arch-test"):  # each the Debian package of its name
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make install-test installs it)"
    return _binfmt_aarch64()


def debian_packages() -> list[str]:
    """The Debian packages hardware/install-terminal.sh installs (its ``debs=(...)``)."""
    found = re.search(r"^debs=\(([^)]*)\)", INSTALL_SCRIPT.read_text(), re.MULTILINE)
    assert found, "install-terminal.sh has no debs=(...) list"
    return found.group(1).split()


SCREEN_PACKAGES = ("chromium", "cage", "xwayland")
"""The kiosk screen's packages, with the graphics stack they pull in (three quarters of the
script's list unpacked): nothing in the arm64 system starts a screen (that is
tests/test_kiosk_screen.py's, on this machine), so they are resolved for arm64 with the rest
of the list but not unpacked under emulation."""


def installed_packages() -> list[str]:
    return [name for name in debian_packages() if name not in SCREEN_PACKAGES]


def cache_key() -> str:
    year, week, _ = datetime.date.today().isocalendar()
    text = json.dumps([SUITE, ARCH, "mmdebstrap-minbase", installed_packages(),
                       f"{year}-W{week:02d}"])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cache_dir() -> Path:
    return Path(os.environ.get("QATYS_ARM64_CACHE", "/var/cache/qatys-tests"))


def _step(log: Path, name: str, argv: list[str], timings: dict[str, float],
          timeout: float = 1800, **kwargs: Any) -> int:
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n=== {name}: {' '.join(argv)}\n")
        out.flush()
        code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False,
                              timeout=timeout, **kwargs).returncode
    timings[name] = round(time.monotonic() - started, 1)
    return code


MMDEBSTRAP = ["mmdebstrap", "--mode=root", f"--arch={ARCH}", "--variant=minbase",
              "--aptopt=Acquire::Languages \"none\"", "--dpkgopt=force-unsafe-io",
              *(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "info",
                                                                      "locale")),
              "--dpkgopt=path-include=/usr/share/doc/*/copyright"]
"""mmdebstrap, not debootstrap: the packages are chosen and fetched by this machine's own apt,
and only dpkg and the packages' scripts run emulated (debootstrap's second stage runs its
perl helpers under qemu as well). Beside a running make test, mmdebstrap made this root in
8.4 to 11 minutes; debootstrap, asked for the same packages, was still in its second stage after 13
(and its resolver cannot pick a virtual package: python3-cryptography's cffi API). Documentation,
manuals and translations are left out; the terminal reads none of them."""


def _debian_root(log: Path, timings: dict[str, float]) -> tuple[Path | None, bool]:
    """The cached Debian 12 arm64 root with the script's packages (built if missing), and
    whether it came from the cache. The whole list, the screen's packages too, is first
    resolved for arm64 (``--simulate``), so a package missing there is found here."""
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    ready = cache / f"debian12-arm64-{cache_key()}"
    with (cache / "arm64.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another checkout may be building the same
        if (ready / "etc/debian_version").exists():
            return ready, True
        if _step(log, "debian_resolve", [*MMDEBSTRAP, "--simulate",
                                         f"--include={','.join(debian_packages())}", SUITE,
                                         "/dev/null"], timings):
            return None, False
        building = cache / f".building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        for old in cache.glob("debian12-arm64-*"):  # last week's, or another list's
            shutil.rmtree(old, ignore_errors=True)
        if _step(log, "debian", [*MMDEBSTRAP, f"--include={','.join(installed_packages())}",
                                 SUITE, str(building)], timings):
            shutil.rmtree(building, ignore_errors=True)
            return None, False
        building.rename(ready)
        return ready, False


def _work_root(lower: Path, work: Path) -> Path:
    """A root of this run's own over the cached one: an overlay (nothing written reaches the
    cache), or a copy where overlays cannot be mounted."""
    root, upper, scratch = work / "root", work / "upper", work / "overlay-work"
    for folder in (root, upper, scratch):
        folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                              f"lowerdir={lower},upperdir={upper},workdir={scratch}",
                              str(root)], capture_output=True, check=False)
    if mounted.returncode != 0:
        subprocess.run(["cp", "-a", f"{lower}/.", str(root)], check=True)
    return root


def _bundles(work: Path, log: Path, timings: dict[str, float]) -> tuple[Path, Path] | None:
    """The aarch64 bundle of this tree, and the same wheels with a qatys wheel of version
    0.1.1 (the update), both signed by a key of this run."""
    python = sys.executable
    release = [python, "-m", "tools.release"]
    with (work / "qatys-release.pub").open("w") as public:
        subprocess.run([*release, "keygen", "--out", str(work / "release.seed")],
                       stdout=public, check=True, cwd=REPOSITORY)
    if _step(log, "bundle", [*release, "build", "--key", str(work / "release.seed"), "--out",
                             str(work / "dist"), "--platform", "linux_aarch64"], timings,
             cwd=REPOSITORY):
        return None
    bundle = next((work / "dist").glob("qatys-*-linux_aarch64.tar"))
    started = time.monotonic()
    wheels, source = work / "wheels-0.1.1", work / "source-0.1.1"
    wheels.mkdir()
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("wheels/")
            if member.name.startswith("wheels/") and not name.startswith("qatys-"):
                stream = tar.extractfile(member)
                assert stream is not None
                (wheels / name).write_bytes(stream.read())
    shutil.copytree(REPOSITORY, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "artefacts", ".run", "__pycache__", ".*_cache"))
    project = source / "pyproject.toml"
    text = project.read_text()
    version = re.search(r'^version = "([^"]+)"', text, re.MULTILINE)
    assert version, "pyproject.toml has no version"
    project.write_text(text.replace(version.group(0), 'version = "0.1.1"', 1))
    package = source / "qatys/__init__.py"  # what `qatys --version` says
    package.write_text(package.read_text().replace(
        f'__version__ = "{version.group(1)}"', '__version__ = "0.1.1"', 1))
    subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                    str(wheels), str(source)], check=True, capture_output=True)
    newer = subprocess.run([*release, "build", "--key", str(work / "release.seed"), "--out",
                            str(work / "dist-0.1.1"), "--platform", "linux_aarch64",
                            "--wheels", str(wheels)], check=True, capture_output=True,
                           text=True, cwd=REPOSITORY).stdout.strip().splitlines()[-1]
    timings["bundle_0.1.1"] = round(time.monotonic() - started, 1)
    return bundle, Path(newer)


def _in_arm64(root: Path, log: Path, name: str, argv: list[str],
              timings: dict[str, float], timeout: float = 1200) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True,
                          timeout=timeout, check=False)
    timings[name] = round(time.monotonic() - started, 1)
    with log.open("a") as out:
        out.write(f"\n=== {name}: {' '.join(argv)}\n{done.stdout}{done.stderr}")
    return {"exit": done.returncode, "stdout": done.stdout[-5000:],
            "stderr": done.stderr[-3000:]}


def _server(work: Path) -> Any:
    """A seeded server on this machine (KG1 and its roster), as the tests' servers are."""
    from tests.helpers import (
        Command,
        free_port,
        qatys_batch,
        roster_csv,
        start_node,
        write_settings,
    )

    data = work / "server"
    data.mkdir()
    text, _ = roster_csv(20)
    (data / "roster.csv").write_text(text, encoding="utf-8")
    port = free_port()
    qatys_batch(
        Command(["server", "init", "--data", str(data), "--public-url",
                 f"http://127.0.0.1:{port}"]),
        Command(["kindergarten", "add", "--data", str(data), "--code", "KG1", "--name",
                 "Балабақша 1"]),
        Command(["roster", "import", "--data", str(data), "--kindergarten", "KG1",
                 str(data / "roster.csv")]))
    write_settings(data, {"run_worker": False})
    return start_node(data, port=port)


def _door_steps(server: Any, root: Path, work: Path) -> list[dict[str, Any]]:
    """What the arm64 terminal is asked, with what the host prepares for it: the token, a
    card, a claimed phone (its key handed over to sign its code in there), consent for the
    face, the pictures."""
    from cryptography.hazmat.primitives import serialization
    from sqlalchemy import select

    from server.datadir import open_data_dir
    from server.storage import db
    from tests.face_pictures import FR
    from tests.helpers import Command, guardian_client, qatys_batch

    data = str(server.data_dir)
    inside = root / BUNDLE_DIR.lstrip("/")
    done = qatys_batch(
        Command(["terminal", "token", "--data", data, "--kindergarten", "KG1"]),
        Command(["card", "issue", "--data", data, "--child", CHILD_CARD, "--out",
                 str(inside / "card.png")]),
        Command(["consent", "grant", "--data", data, "--child", CHILD_FACE, "--paper",
                 "form-arm64"]))
    token = done[0].stdout.strip().splitlines()[-1]
    guardian = guardian_client(server, CHILD_PHONE)
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        row = conn.execute(select(db.guardian_children.c.serial, db.guardian_children.c.binding)
                           .where(db.guardian_children.c.child_id == CHILD_PHONE)).one()
    engine.dispose()
    shutil.copy(FR / "tests__test_images__obama.jpg", inside / "face-enrol.jpg")
    shutil.copy(FR / "examples__obama-720p.jpg", inside / "face-door.jpg")
    env = {"QATYS_RUNTIME_DIR": "/root/door-run", "QATYS_LANG": "en"}
    pem = guardian.phone.private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()

    def qatys(*args: str) -> dict[str, Any]:
        return {"qatys": list(args), "env": env}

    return [{"machine": True},
            qatys("terminal", "enroll", "--home", HOME, "--server", server.url, "--token",
                  token),
            qatys("terminal", "sync", "--home", HOME, "--quiet"),
            qatys("terminal", "selfcheck", "--home", HOME),
            qatys("face", "enroll", "--home", HOME, "--child", CHILD_FACE,
                  f"{BUNDLE_DIR}/face-enrol.jpg"),
            qatys("face", "identify", "--home", HOME, f"{BUNDLE_DIR}/face-door.jpg"),
            {"phone_picture": {"private_key": pem, "key_id": guardian.phone.key_id,
                               "child": CHILD_PHONE, "serial": str(row.serial),
                               "binding": base64.b64encode(bytes(row.binding)).decode(),
                               "out": f"{BUNDLE_DIR}/phone.png"}},
            qatys("terminal", "scan", "--home", HOME, f"{BUNDLE_DIR}/card.png",
                  f"{BUNDLE_DIR}/phone.png"),
            qatys("terminal", "sync", "--home", HOME, "--quiet")]


def _native_files(root: Path) -> dict[str, str]:
    """``file``'s word on every compiled module of the installed release."""
    site = root / "opt/qatys/current/lib"
    objects = sorted(str(p) for p in site.rglob("*.so*") if p.is_file())
    described: dict[str, str] = {}
    for start in range(0, len(objects), 200):
        out = subprocess.run(["file", "-b", "-L", *objects[start:start + 200]],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        described.update({str(Path(p).relative_to(site)): d
                          for p, d in zip(objects[start:start + 200], out, strict=True)})
    return described


def build(work: Path) -> dict[str, Any]:
    log, timings = work / "log.txt", {}
    started = time.monotonic()
    bundles = _bundles(work, log, timings)
    if bundles is None:
        return {"failed": "bundle", "timings": timings}
    bundle, newer = bundles
    lower, cached = _debian_root(log, timings)
    if lower is None:
        return {"failed": "debian", "timings": timings}
    root = _work_root(lower, work)
    inside = root / BUNDLE_DIR.lstrip("/")
    inside.mkdir(parents=True, exist_ok=True)
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    shutil.copytree(REPOSITORY / "hardware", inside / "hardware")
    for file in (bundle, newer, work / "qatys-release.pub", Path(__file__).with_name(
            "arm64_batch.py")):
        shutil.copy(file, inside / file.name)
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    # the script's Debian packages are in the cached root (installed there with the same
    # apt-get command, from the list parsed out of the script, which keys the cache): its
    # apt step would only download the package lists again, under emulation
    code = _step(log, "install", [
        "chroot", str(root), f"{BUNDLE_DIR}/hardware/install-terminal.sh", "--bundle",
        f"{BUNDLE_DIR}/{bundle.name}", "--release-key", f"{BUNDLE_DIR}/qatys-release.pub",
        "--no-apt"], timings)
    result: dict[str, Any] = {"install_exit": code, "cached_debian": cached,
                              "bundle": str(bundle), "timings": timings}
    if code:
        return result
    arm64_started = time.monotonic()
    result["version"] = _in_arm64(root, log, "version", ["/usr/local/bin/qatys", "--version"],
                                  timings)
    result["selfcheck"] = _in_arm64(root, log, "selfcheck", [
        "/usr/local/bin/qatys", "terminal", "selfcheck", "--home", "/var/lib/qatys/terminal"],
        timings)
    result["native_files"] = _native_files(root)
    server = _server(work)
    try:
        (work / "steps.json").write_text(json.dumps(_door_steps(server, root, work)))
        shutil.copy(work / "steps.json", inside / "steps.json")
        result["batch"] = _in_arm64(root, log, "door_batch", [
            "/opt/qatys/current/bin/python", f"{BUNDLE_DIR}/arm64_batch.py",
            f"{BUNDLE_DIR}/steps.json", f"{BUNDLE_DIR}/answers.json"], timings)
        answers = inside / "answers.json"
        result["answers"] = json.loads(answers.read_text()) if answers.exists() else []
        from tests.helpers import exported
        result["server_events"] = exported(server)
    finally:
        server.stop()
    result["apply"] = _in_arm64(root, log, "update_apply", [
        "/usr/local/bin/qatys-update", "apply", f"{BUNDLE_DIR}/{newer.name}",
        "--ready-seconds", "600"], timings, timeout=3600)
    result["status_after_apply"] = _in_arm64(root, log, "status_after_apply", [
        "/usr/local/bin/qatys-update", "status"], timings)
    result["rollback"] = _in_arm64(root, log, "update_rollback", [
        "/usr/local/bin/qatys-update", "rollback"], timings)
    result["status_after_rollback"] = _in_arm64(root, log, "status_after_rollback", [
        "/usr/local/bin/qatys-update", "status"], timings)
    timings["in_arm64_total"] = round(time.monotonic() - arm64_started, 1)
    timings["total"] = round(time.monotonic() - started, 1)
    return result


def cleanup(work: Path) -> None:
    """Unmount what a build mounted (its /proc, its overlay) and remove its folder."""
    for mounted in (work / "root/proc", work / "root"):
        subprocess.run(["umount", "--lazy", str(mounted)], check=False, capture_output=True)
    shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    return chroot_install.run_build(build)


if __name__ == "__main__":
    sys.exit(main())
