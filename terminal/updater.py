"""Installing, updating and rolling back the terminal software from signed release bundles.

Layout (``--root``, default /opt/qatys)::

    releases/<version>/   one virtual environment per release (never edited after install)
    current  -> releases/<version>    what the systemd units start
    previous -> releases/<version>    what ``rollback`` goes back to

The terminal's data (``/var/lib/qatys``) is outside the root and never touched: an
update changes code only. A bundle is verified before anything is written (signature by
a trusted release key, every wheel's digest, only forward); the new release is installed
beside the running one, checked, and only then ``current`` is switched with one atomic
rename. If the restarted terminal does not report ready with the new version within
``--ready-seconds``, ``current`` is switched back and the old release restarted.

This module imports only the standard library, ``cryptography`` and :mod:`protocol` (and the
bundle's own ``installer`` wheel where it is not installed, terminal/release_wheels.py), so the
install script can run it with Debian's python3 straight from the release's own wheel.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
import pwd
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from protocol import releases
from protocol.errors import ReleaseRefusal, ReleaseRefused
from qatys.logs import configure, log
from terminal import release_wheels

logger = logging.getLogger("qatys.terminal.updater")

DEFAULT_ROOT = Path("/opt/qatys")
DEFAULT_KEYS = Path("/etc/qatys/release-keys")
DEFAULT_HOME = Path("/var/lib/qatys/terminal")
MAX_BUNDLE_BYTES = 1 << 30
MAX_MANIFEST_BYTES = 1 << 16
KEEP_RELEASES = 3
SERVICE_USER = "qatys"
EXIT_REFUSED = 2
EXIT_ROLLED_BACK = 3


class UpdateResult(StrEnum):
    """The ``result`` of the one JSON line ``qatys-update`` prints (docs/cli.md)."""
    VERIFIED = "verified"
    """``verify``: the bundle is signed by a trusted key and whole; nothing was written."""
    INSTALLED = "installed"
    UPDATED = "updated"
    """``apply``: the new release runs and proved itself."""
    ROLLED_BACK = "rolled_back"
    """``apply``: the new release did not prove itself (exit 3), or ``rollback`` was asked."""
    REFUSED = "refused"
    """The bundle must not be installed (``code``, exit 2)."""
    FAILED = "failed"
    """The installation failed; nothing was switched (exit 1)."""


class UpdateFailed(Exception):
    """A verified release that could not be installed or did not start; nothing switched."""


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def previous(self) -> Path:
        return self.root / "previous"

    def release_dir(self, version: str) -> Path:
        return self.releases / version

    def complete(self, version: str) -> bool:
        return (self.release_dir(version) / releases.MANIFEST_NAME).is_file()

    def installed(self) -> list[str]:
        """Complete releases, oldest first (anything else in releases/ is ignored)."""
        if not self.releases.is_dir():
            return []
        names = [p.name for p in self.releases.iterdir()
                 if re.fullmatch(r"\d+(\.\d+)+", p.name) and self.complete(p.name)]
        return sorted(names, key=releases.version_key)

    def version_of(self, link: Path) -> str | None:
        return os.readlink(link).rsplit("/", 1)[-1] if link.is_symlink() else None


def trusted_keys(keys_dir: Path) -> list[bytes]:
    """The release public keys this terminal trusts: one base64 Ed25519 key per ``*.pub``."""
    keys = []
    for path in sorted(keys_dir.glob("*.pub")):
        try:
            key = base64.b64decode(path.read_text().strip(), validate=True)
        except (binascii.Error, ValueError):
            log(logger, "update.bad_key_file", level=logging.WARNING, file=path.name)
            continue
        if len(key) == 32:
            keys.append(key)
    return keys


def _member_name(member: tarfile.TarInfo) -> str:
    name = member.name.removeprefix("./")
    allowed = name in (releases.MANIFEST_NAME, releases.SIGNATURE_NAME) or (
        name.startswith(releases.WHEEL_DIR) and "/" not in name[len(releases.WHEEL_DIR):]
        and ".." not in name)
    if not allowed or not member.isfile():
        raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE,
                             f"the bundle holds an unexpected entry {name!r}")
    return name


def _read_small(bundle: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    if member.size > MAX_MANIFEST_BYTES:
        raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE, f"{member.name} is too large")
    stream = bundle.extractfile(member)
    assert stream is not None  # a regular file, checked by _member_name
    return stream.read()


def _digest(source: IO[bytes], copy_to: Path | None) -> str:
    """SHA-256 of a member, read once; with ``copy_to``, written there on the way."""
    digest = hashlib.sha256()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(copy_to.open("wb")) if copy_to is not None else None
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
    return digest.hexdigest()


def verify_bundle(bundle_path: Path, keys: list[bytes], unpack_to: Path | None = None,
                  running: str | None = None) -> releases.Manifest:
    """Check a bundle without installing it; with ``unpack_to``, leave its wheels there. With
    ``running``, an older or equal version is refused before any wheel is read."""
    if not bundle_path.is_file():
        raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE, f"{bundle_path} is not a file")
    if bundle_path.stat().st_size > MAX_BUNDLE_BYTES:
        raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE, "the bundle is larger than 1 GiB")
    try:
        with tarfile.open(bundle_path, "r:") as bundle:
            members = {_member_name(m): m for m in bundle.getmembers() if not m.isdir()}
            if releases.MANIFEST_NAME not in members or releases.SIGNATURE_NAME not in members:
                raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE,
                                     "the bundle has no signed manifest")
            manifest = releases.verify_manifest(
                _read_small(bundle, members[releases.MANIFEST_NAME]),
                _read_small(bundle, members[releases.SIGNATURE_NAME]).decode("ascii", "replace"),
                keys)
            releases.check_upgrade(running, manifest.version)
            digests = {}
            for name, member in members.items():
                if name.startswith(releases.WHEEL_DIR):
                    stream = bundle.extractfile(member)
                    assert stream is not None
                    digests[name] = _digest(stream, unpack_to / name.rsplit("/", 1)[-1]
                                            if unpack_to is not None else None)
    except tarfile.TarError as exc:
        raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE,
                             f"the bundle is not a tar file: {exc}") from exc
    releases.check_members(manifest, digests)
    return manifest


TIMED_OUT = 124
"""The exit code a step that ran out of time is given (timeout(1)'s): a failed step, never a
traceback halfway through a switch (a slow board's selfcheck once outran its 60 s)."""


def _run(argv: list[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``argv`` without the updater's own PYTHONPATH: on a first installation that path holds
    the bundle's qatys wheel, which would otherwise answer for the new release's checks."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False, env=env)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, TIMED_OUT, "", f"timed out after {timeout} s")


def _install_release(layout: Layout, bundle_path: Path, keys: list[bytes],
                     python: str) -> releases.Manifest:
    """Verify, then build ``releases/<version>`` beside the running release."""
    layout.releases.mkdir(parents=True, exist_ok=True)
    staging = layout.releases / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        manifest = verify_bundle(bundle_path, keys, unpack_to=staging,
                                 running=layout.version_of(layout.current))
        # Built in place (a virtual environment cannot move); release.json, written last,
        # marks it complete, so a build cut short by a power cut is never switched to.
        target = layout.release_dir(manifest.version)
        shutil.rmtree(target, ignore_errors=True)
        # no pip in it: the bundle's wheels are the whole set, unpacked as they are
        # (terminal/release_wheels.py); face_recognition's declared dlib is dlib-bin's
        done = _run([python, "-m", "venv", "--without-pip", str(target)])
        try:
            if done.returncode != 0:
                raise release_wheels.WheelsNotInstalled(
                    f"venv failed: {done.stderr.strip()[-400:]}")
            release_wheels.install_wheels(target, sorted(staging.glob("*.whl")), staging)
        except (release_wheels.WheelsNotInstalled, OSError, ValueError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise UpdateFailed(str(exc)) from exc
        said = _run([str(target / "bin" / "qatys"), "--version"], timeout=120)
        if manifest.version not in said.stdout:
            shutil.rmtree(target, ignore_errors=True)
            raise UpdateFailed(f"the new release does not start: {said.stderr.strip()[-400:]}")
        (target / releases.MANIFEST_NAME).write_bytes(releases.manifest_bytes(manifest))
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _point(link: Path, target: Path) -> None:
    """Make ``link`` point at ``target`` with one atomic rename (no moment without a link)."""
    temporary = link.with_name(f".{link.name}.new")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(os.path.relpath(target, link.parent))
    os.replace(temporary, link)


def _switch(layout: Layout, version: str) -> None:
    running = layout.version_of(layout.current)
    if running is not None and running != version:
        _point(layout.previous, layout.release_dir(running))
    _point(layout.current, layout.release_dir(version))


def _prune(layout: Layout) -> None:
    """Keep the current, the previous and the newest others up to KEEP_RELEASES."""
    keep = {layout.version_of(layout.current), layout.version_of(layout.previous)}
    others = [name for name in reversed(layout.installed()) if name not in keep]
    for old in others[max(0, KEEP_RELEASES - len(keep - {None})):]:
        shutil.rmtree(layout.release_dir(old), ignore_errors=True)


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


@dataclass(frozen=True)
class Checks:
    """How an applied release is proven to work: restart it, then ask it until it is ready."""

    restart: list[str] | None
    ready: Callable[[Layout, str], bool]
    ready_seconds: float


def as_service_user(argv: list[str]) -> list[str]:
    """Run as the terminal service's user when updating as root, so the check never leaves
    files in the terminal's home that the service could not open."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return argv
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return argv
    return ["runuser", "-u", SERVICE_USER, "--", *argv]


def selfcheck_ready(home: Path, kiosk: bool) -> Callable[[Layout, str], bool]:
    """Ready when ``current/bin/qatys terminal selfcheck`` passes and names the version."""
    def ready(layout: Layout, version: str) -> bool:
        argv = [str(layout.current / "bin" / "qatys"), "terminal", "selfcheck",
                "--home", str(home), "--expect-version", version]
        done = _run(as_service_user(argv + (["--kiosk"] if kiosk else [])), timeout=180)
        return done.returncode == 0
    return ready


def _proven(layout: Layout, version: str, checks: Checks) -> bool:
    if checks.restart:
        _run(checks.restart, timeout=120)
    deadline = time.monotonic() + checks.ready_seconds
    while True:
        if checks.ready(layout, version):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(1.0)


def install(root: Path, bundle_path: Path, keys: list[bytes], python: str) -> dict[str, Any]:
    """First installation (or a re-install with no service to restart): verify, build, switch."""
    layout = Layout(root)
    manifest = _install_release(layout, bundle_path, keys, python)
    _switch(layout, manifest.version)
    _prune(layout)
    log(logger, "update.installed", version=manifest.version)
    return {"result": UpdateResult.INSTALLED, "version": manifest.version}


def apply(root: Path, bundle_path: Path, keys: list[bytes], python: str,
          checks: Checks) -> dict[str, Any]:
    """Update: install beside, switch, prove it works, or switch back and say so."""
    layout = Layout(root)
    before = layout.version_of(layout.current)
    previous_before = layout.version_of(layout.previous)
    manifest = _install_release(layout, bundle_path, keys, python)
    _switch(layout, manifest.version)
    if _proven(layout, manifest.version, checks):
        _prune(layout)
        log(logger, "update.applied", version=manifest.version, previous=before)
        return {"result": UpdateResult.UPDATED, "version": manifest.version, "previous": before}
    if before is not None:
        _point(layout.current, layout.release_dir(before))
        if previous_before is not None:
            _point(layout.previous, layout.release_dir(previous_before))
        if checks.restart:
            _run(checks.restart, timeout=120)
    log(logger, "update.rolled_back", level=logging.WARNING, version=manifest.version,
        running=before)
    return {"result": UpdateResult.ROLLED_BACK, "version": before, "failed": manifest.version}


def rollback(root: Path, restart: list[str] | None) -> dict[str, Any]:
    """Go back to the previous release (kept until the next successful update)."""
    layout = Layout(root)
    running, previous = layout.version_of(layout.current), layout.version_of(layout.previous)
    if previous is None or not layout.complete(previous):
        raise UpdateFailed("there is no previous release to go back to")
    _point(layout.current, layout.release_dir(previous))
    if running is not None:
        _point(layout.previous, layout.release_dir(running))
    if restart:
        _run(restart, timeout=120)
    log(logger, "update.rollback", version=previous, from_version=running)
    return {"result": UpdateResult.ROLLED_BACK, "version": previous, "previous": running}


def status(root: Path) -> dict[str, Any]:
    layout = Layout(root)
    return {"current": layout.version_of(layout.current),
            "previous": layout.version_of(layout.previous), "installed": layout.installed()}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qatys-update", description=(
        "Install, update or roll back the terminal software from signed release bundles."))
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--keys", type=Path, default=DEFAULT_KEYS,
                        help="directory of trusted release keys (*.pub)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="installed releases, current and previous")
    for name in ("verify", "install", "apply"):
        one = sub.add_parser(name)
        one.add_argument("bundle", type=Path)
        one.add_argument("--python", default=sys.executable if name == "verify" else "python3",
                         help="interpreter for the release's virtual environment")
    apply_parser = sub.choices["apply"]
    apply_parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    apply_parser.add_argument("--ready-seconds", type=float, default=90.0)
    back = sub.add_parser("rollback", help="switch back to the previous release")
    for one in (apply_parser, back):
        one.add_argument("--restart-command", default=None, help=(
            "command that restarts the terminal (default under systemd: "
            "systemctl restart qatys-terminal.service qatys-kiosk.service; else none)"))
    return parser


def _restart_argv(text: str | None) -> list[str] | None:
    if text is not None:
        return text.split() or None
    if systemd_running():
        return ["systemctl", "restart", "qatys-terminal.service", "qatys-kiosk.service"]
    return None


def main(argv: list[str] | None = None) -> int:
    configure()
    args = _parser().parse_args(argv)
    answer: dict[str, Any]
    code = 0
    try:
        if args.command == "status":
            answer = status(args.root)
        elif args.command == "rollback":
            answer = rollback(args.root, _restart_argv(args.restart_command))
        else:
            keys = trusted_keys(args.keys)
            if args.command == "verify":
                manifest = verify_bundle(args.bundle, keys)
                answer = {"result": UpdateResult.VERIFIED, "version": manifest.version,
                          "platform": manifest.platform, "created": manifest.created}
            elif args.command == "install":
                answer = install(args.root, args.bundle, keys, args.python)
            else:
                restart = _restart_argv(args.restart_command)
                checks = Checks(restart, selfcheck_ready(args.home, kiosk=restart is not None),
                                args.ready_seconds)
                answer = apply(args.root, args.bundle, keys, args.python, checks)
                code = EXIT_ROLLED_BACK if answer["result"] == UpdateResult.ROLLED_BACK else 0
    except ReleaseRefused as exc:
        log(logger, "update.refused", level=logging.WARNING, code=exc.code)
        answer, code = {"result": UpdateResult.REFUSED, "code": exc.code, "message": exc.message}, \
            EXIT_REFUSED
    except UpdateFailed as exc:
        log(logger, "update.failed", level=logging.ERROR)
        answer, code = {"result": UpdateResult.FAILED, "message": str(exc)}, 1
    sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
