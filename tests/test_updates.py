"""Signed terminal updates: install, update, prove, roll back; every bad bundle refused.

Real virtual environments, real pip (offline, from the bundle's wheels), real symlink
switches. The releases are tiny stand-in ``qatys`` wheels made here, so a test does not
install OpenCV five times; the install script test (test_install_script.py) installs the
real bundle.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from protocol import crypto, releases
from terminal import release_wheels
from tools import release as release_tool

UPDATER = [sys.executable, "-m", "terminal.updater"]
PYTHON = getattr(sys, "_base_executable", sys.executable)
ROOT = Path(__file__).resolve().parent.parent

_FAKE_CLI = '''import sys
VERSION = {version!r}
HEALTHY = {healthy!r}
def main():
    args = sys.argv[1:]
    if args == ["--version"]:
        print("qatys, version " + VERSION)
        return 0
    if args[:2] == ["terminal", "selfcheck"]:
        print('{{"result": "%s", "version": "%s"}}' % ("ok" if HEALTHY else "failed", VERSION))
        return 0 if HEALTHY else 1
    return 2
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def fake_wheel(folder: Path, version: str, healthy: bool = True) -> Path:
    """A minimal ``qatys`` wheel whose CLI answers --version and terminal selfcheck."""
    info = f"qatys-{version}.dist-info"
    files = {
        "qatys/__init__.py": f"__version__ = {version!r}\n".encode(),
        "qatys/cli.py": _FAKE_CLI.format(version=version, healthy=healthy).encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: qatys\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: qatys-tests\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
        f"{info}/entry_points.txt": b"[console_scripts]\nqatys = qatys.cli:main\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"qatys-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """The publisher's seed and a keys directory trusting it."""
    folder = tmp_path_factory.mktemp("keys")
    seed_file = folder / "release.seed"
    public = release_tool.keygen(seed_file)
    trusted = folder / "trusted"
    trusted.mkdir()
    (trusted / "qatys-release.pub").write_text(public + "\n")
    return base64.b64decode(seed_file.read_bytes()), trusted


def bundle(tmp: Path, seed: bytes, version: str, healthy: bool = True) -> Path:
    wheels = tmp / f"wheels-{version}-{healthy}"
    fake_wheel(wheels, version, healthy)
    return release_tool.build(seed, wheels, tmp / "dist" / f"{version}-{healthy}", "linux_x86_64")


def updater(*args: str | Path, command: list[str] = UPDATER,
            env: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    done = subprocess.run([*command, *map(str, args)], capture_output=True, text=True,
                          timeout=300, check=False, env=env)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    return done.returncode, json.loads(lines[-1])


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_install_update_rollback_and_a_release_that_does_not_start(
        tmp_path: Path, keys: tuple[bytes, Path]) -> None:
    seed, trusted = keys
    root, data = tmp_path / "opt", tmp_path / "var-lib-qatys"
    data.mkdir()
    (data / "terminal.db").write_bytes(os.urandom(4096))  # stands for the check-ins
    before = tree_digest(data)
    common = ["--root", root, "--keys", trusted]

    code, answer = updater(*common, "install", bundle(tmp_path, seed, "1.0.0"),
                           "--python", PYTHON)
    assert (code, answer) == (0, {"result": "installed", "version": "1.0.0"})
    said = subprocess.run([root / "current" / "bin" / "qatys", "--version"],
                          capture_output=True, text=True, check=True)
    assert said.stdout.strip() == "qatys, version 1.0.0"

    code, answer = updater(*common, "apply", bundle(tmp_path, seed, "1.1.0"), "--python",
                           PYTHON, "--home", data, "--restart-command", "", "--ready-seconds", 0)
    assert (code, answer) == (0, {"result": "updated", "version": "1.1.0", "previous": "1.0.0"})
    assert os.readlink(root / "current") == "releases/1.1.0"
    assert os.readlink(root / "previous") == "releases/1.0.0"

    code, answer = updater(*common, "rollback", "--restart-command", "")
    assert (code, answer["result"], answer["version"]) == (0, "rolled_back", "1.0.0")
    assert os.readlink(root / "current") == "releases/1.0.0"
    code, answer = updater(*common, "status")
    assert answer == {"current": "1.0.0", "previous": "1.1.0", "installed": ["1.0.0", "1.1.0"]}

    # 1.2.0 installs but fails its self-check once switched: the terminal goes back by itself.
    code, answer = updater(*common, "apply", bundle(tmp_path, seed, "1.2.0", healthy=False),
                           "--python", PYTHON, "--home", data, "--restart-command", "",
                           "--ready-seconds", 1)
    assert (code, answer) == (3, {"result": "rolled_back", "version": "1.0.0",
                                  "failed": "1.2.0"})
    assert os.readlink(root / "current") == "releases/1.0.0"
    assert os.readlink(root / "previous") == "releases/1.1.0"  # as before the failed update
    assert tree_digest(data) == before  # no update, good or bad, touched the data


def _tamper(source: Path, target: Path, change: str) -> Path:
    """Copy a bundle member by member, changing one thing."""
    with tarfile.open(source) as old, tarfile.open(target, "w") as new:
        for member in old.getmembers():
            data = old.extractfile(member).read()  # type: ignore[union-attr]
            if change == "wheel_byte" and member.name.endswith(".whl"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            if change == "manifest" and member.name == releases.MANIFEST_NAME:
                data = data.replace(b'"version":"2.0.0"', b'"version":"2.0.1"')
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
            if change == "extra" and member.name == releases.SIGNATURE_NAME:
                extra = tarfile.TarInfo("wheels/evil-1.0-py3-none-any.whl")
                extra.size = 3
                new.addfile(extra, io.BytesIO(b"bad"))
            if change == "traversal" and member.name == releases.SIGNATURE_NAME:
                extra = tarfile.TarInfo("wheels/../../etc/cron.d/x")
                extra.size = 1
                new.addfile(extra, io.BytesIO(b"x"))
    return target


@pytest.mark.parametrize(("change", "code"), [
    ("wheel_byte", "digest_mismatch"),
    ("manifest", "bad_signature"),
    ("extra", "unlisted_file"),
    ("traversal", "malformed_release"),
])
def test_a_changed_bundle_is_refused_and_nothing_changes(
        tmp_path: Path, keys: tuple[bytes, Path], change: str, code: str) -> None:
    seed, trusted = keys
    good = bundle(tmp_path, seed, "2.0.0")
    bad = _tamper(good, tmp_path / "bad.tar", change)
    root = tmp_path / "opt"
    exit_code, answer = updater("--root", root, "--keys", trusted, "install", bad,
                                "--python", PYTHON)
    assert (exit_code, answer["result"], answer["code"]) == (2, "refused", code)
    assert not (root / "current").exists()
    assert not list((root / "releases").glob("[0-9]*")) if (root / "releases").exists() else True


def test_untrusted_key_older_version_and_junk_are_refused(
        tmp_path: Path, keys: tuple[bytes, Path]) -> None:
    seed, trusted = keys
    root = tmp_path / "opt"
    common = ["--root", root, "--keys", trusted]
    stranger = bundle(tmp_path / "stranger", os.urandom(32), "9.0.0")
    assert updater(*common, "verify", stranger)[1]["code"] == "unknown_key"

    assert updater(*common, "install", bundle(tmp_path, seed, "3.1.0"), "--python",
                   PYTHON)[0] == 0
    old = bundle(tmp_path, seed, "3.0.0")  # genuinely signed, but older: a replay
    exit_code, answer = updater(*common, "apply", old, "--python", PYTHON, "--restart-command",
                                "", "--ready-seconds", 0)
    assert (exit_code, answer["code"]) == (2, "older_version")
    same = bundle(tmp_path / "again", seed, "3.1.0")
    assert updater(*common, "apply", same, "--python", PYTHON, "--restart-command", "",
                   "--ready-seconds", 0)[1]["code"] == "same_version"
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    assert updater(*common, "verify", junk)[1]["code"] == "malformed_release"
    assert updater(*common, "status")[1]["current"] == "3.1.0"


def test_manifest_signature_is_bound_to_the_manifest_bytes() -> None:
    seed = bytes(range(32))
    manifest = releases.Manifest("1.2.3", "2026-11-23T00:00:00Z", "linux_aarch64",
                                 {"wheels/a-1-py3-none-any.whl": "0" * 64})
    signature = releases.sign_manifest(seed, manifest)
    public = crypto.signing_public_key(seed)
    assert releases.verify_manifest(releases.manifest_bytes(manifest), signature,
                                    [public]) == manifest
    with pytest.raises(releases.ReleaseRefused) as refused:
        releases.verify_manifest(releases.manifest_bytes(manifest).replace(b"1.2.3", b"1.2.4"),
                                 signature, [public])
    assert refused.value.code == "bad_signature"
    assert releases.version_key("0.10.0") > releases.version_key("0.9.3")


def test_rollback_with_nothing_to_go_back_to_fails_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "opt"
    exit_code, answer = updater("--root", root, "rollback", "--restart-command", "")
    assert (exit_code, answer["result"]) == (1, "failed")
    assert "no previous release" in str(answer["message"])
    assert not root.exists()


def test_selfcheck_names_a_wrong_version(tmp_path: Path) -> None:
    """What `apply` asks the switched release: here the running code is not the one named."""
    done = subprocess.run([sys.executable, "-m", "qatys", "terminal", "selfcheck", "--home",
                           str(tmp_path / "home"), "--expect-version", "9.9.9"],
                          capture_output=True, text=True, timeout=120, check=False)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 1
    assert answer["result"] == "failed"
    assert answer["enrolled"] is False
    assert answer["problems"] == [f"this is version {answer['version']}, not 9.9.9"]
    assert not (tmp_path / "home").exists()


def test_a_readiness_check_that_outruns_its_time_is_not_ready(tmp_path: Path) -> None:
    """A check slower than its limit (a Pi's selfcheck under load) counts as not ready, so
    apply switches back, instead of ending in a traceback with the new release current."""
    from terminal import updater

    done = updater._run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.5)
    assert done.returncode == updater.TIMED_OUT
    assert "timed out" in done.stderr


def installed_as_wheel(distribution: str, folder: Path) -> Path:
    """A wheel of ``distribution`` made from its installed files (this test environment's), for
    a bundle that must carry it."""
    found = importlib.metadata.distribution(distribution)
    info = next(f for f in found.files or [] if str(f).endswith(".dist-info/RECORD")).parent
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{distribution}-{found.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name in found.files or []:
            text = str(name)
            if "__pycache__" in text or text.startswith("..") or text.endswith(".pyc"):
                continue
            if text.startswith(str(info)) and name.name in ("INSTALLER", "REQUESTED",
                                                             "direct_url.json"):
                continue
            wheel.write(Path(str(name.locate())), text)
    return path


def first_install(root: Path, trusted: Path, bundle_path: Path) -> tuple[int, dict[str, object]]:
    """``install`` as hardware/install-terminal.sh runs it on a fresh terminal: Debian's python3,
    which has no ``installer``, with Qatys' sources on its path (there: the qatys wheel)."""
    return updater("--root", root, "--keys", trusted, "install", bundle_path, "--python",
                   "/usr/bin/python3",
                   command=["/usr/bin/python3", "-P", "-s", "-m", "terminal.updater"],
                   env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no Debian python3")
def test_a_first_installation_unpacks_with_the_bundles_own_installer(
        tmp_path: Path, keys: tuple[bytes, Path]) -> None:
    seed, trusted = keys
    wheels = tmp_path / "wheels"
    fake_wheel(wheels, "4.0.0")
    without = release_tool.build(seed, wheels, tmp_path / "without", "linux_x86_64")
    code, answer = first_install(tmp_path / "opt", trusted, without)
    assert (code, answer["result"]) == (1, "failed"), answer
    assert "no installer wheel" in str(answer["message"])
    assert not (tmp_path / "opt" / "current").exists()
    assert not list((tmp_path / "opt" / "releases").glob("[0-9]*"))

    installed_as_wheel("installer", wheels)
    carried = release_tool.build(seed, wheels, tmp_path / "with", "linux_x86_64")
    code, answer = first_install(tmp_path / "opt", trusted, carried)
    assert (code, answer) == (0, {"result": "installed", "version": "4.0.0"})
    release = tmp_path / "opt" / "releases" / "4.0.0"
    said = subprocess.run([release / "bin" / "qatys", "--version"], capture_output=True,
                          text=True, check=True)
    assert said.stdout.strip() == "qatys, version 4.0.0"
    site = next(release.glob("lib/python3*/site-packages"))
    assert (site / "installer").is_dir()  # the bundle's wheels, all of them
    assert not (site / "pip").exists()  # and no pip: a terminal never runs it
    assert list((site / "qatys" / "__pycache__").glob("cli.cpython-*.pyc"))  # compiled


def test_a_signed_file_that_is_not_a_wheel_fails_the_install_and_switches_nothing(
        tmp_path: Path, keys: tuple[bytes, Path]) -> None:
    seed, trusted = keys
    wheels = tmp_path / "wheels"
    fake_wheel(wheels, "5.0.0")
    (wheels / "junk-1.0-py3-none-any.whl").write_bytes(b"signed by the publisher, not a zip")
    root = tmp_path / "opt"
    code, answer = updater("--root", root, "--keys", trusted, "install",
                           release_tool.build(seed, wheels, tmp_path / "dist", "linux_x86_64"),
                           "--python", PYTHON)
    assert (code, answer["result"]) == (1, "failed"), answer
    assert "junk-1.0-py3-none-any.whl" in str(answer["message"])
    assert not (root / "current").exists()
    assert not list((root / "releases").glob("[0-9]*"))


def test_an_environment_of_another_python_or_none_is_not_filled(tmp_path: Path) -> None:
    """The updater byte-compiles for its own interpreter, so the new environment must be of the
    same Python, as ``venv`` wrote it down."""
    with pytest.raises(release_wheels.WheelsNotInstalled, match=r"no pyvenv\.cfg"):
        release_wheels.scheme_of(tmp_path)
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 2.7.18\n")
    with pytest.raises(release_wheels.WheelsNotInstalled, match=r"runs Python 2\.7,"):
        release_wheels.scheme_of(tmp_path)
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    (tmp_path / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {ours}.1\n")
    scheme = release_wheels.scheme_of(tmp_path)
    assert scheme["purelib"] == str(tmp_path / "lib" / f"python{ours}" / "site-packages")
    assert scheme["scripts"] == str(tmp_path / "bin")
