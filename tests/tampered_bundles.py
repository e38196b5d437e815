"""Release bundles an attacker could hand to an installer, made from a genuine one.

Each holds a qatys wheel whose ``terminal/updater.py`` writes :data:`MARKER` the moment it is
imported: if any check lets it run, the marker says so. Used by tests/chroot_install.py, which
gives them to hardware/install-terminal.sh in the Debian chroot.

* ``untrusted``: the marker wheel, signed by a key the terminal does not trust;
* ``altered``: release.json changed after signing to list the marker wheel, the genuine
  release.sig kept;
* ``swapped``: the genuine, signed release.json and release.sig, the qatys wheel swapped;
* small ones, each wrong in one way only: ``no_manifest`` (no release.json), ``bad_header``
  (release.sig not in its format), ``unlisted`` (a wheel release.json does not list),
  ``missing`` (a listed wheel absent), ``dependency_swapped`` (another wheel than qatys's
  changed);
* ``signed_marker``: the marker wheel signed by the trusted key (the publisher's own bad
  release) at the installed version; an installed Qatys must apply it with its own updater,
  so the marker stays absent there too.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from protocol import releases

REPOSITORY = Path(__file__).resolve().parent.parent
MARKER = "/tmp/qatys-tampered-marker"
"""Where (in the chroot) a tampered updater leaves its trace when it is run."""
CODES = {"untrusted": "unknown_key", "altered": "bad_signature", "swapped": "digest_mismatch",
         "no_manifest": "malformed_release", "bad_header": "bad_signature",
         "unlisted": "unlisted_file", "missing": "missing_file",
         "dependency_swapped": "digest_mismatch"}
"""Each bundle the install script must refuse, and the code it must print."""
_UPDATER = "terminal/updater.py"


def payload() -> str:
    """Python that leaves MARKER when it runs."""
    return (f"\nfrom pathlib import Path as _Path\n\n_Path({MARKER!r}).write_text("
            "'code that was not verified ran\\n')\n")


def _members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        out = {}
        for member in tar.getmembers():
            stream = tar.extractfile(member)
            assert stream is not None, member.name
            out[member.name] = stream.read()
        return out


def _pack(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def marker_wheel(genuine: bytes) -> bytes:
    """The genuine qatys wheel with its updater writing MARKER at import (RECORD kept true)."""
    with zipfile.ZipFile(io.BytesIO(genuine)) as source:
        files = {name: source.read(name) for name in source.namelist()}
    text = files[_UPDATER].decode("utf-8")
    anchor = "from __future__ import annotations\n"
    assert anchor in text, "terminal/updater.py no longer starts as expected"
    files[_UPDATER] = text.replace(anchor, anchor + payload(), 1).encode("utf-8")
    record = next(name for name in files if name.endswith(".dist-info/RECORD"))
    lines = [_record_line(name, data) if name != record else f"{record},,"
             for name, data in files.items()]
    files[record] = ("\n".join(lines) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return out.getvalue()


def _signed_build(seed_file: Path, wheels: Path, out: Path, platform: str) -> Path:
    """A bundle of ``wheels`` signed with ``seed_file``, by tools/release.py itself."""
    done = subprocess.run([sys.executable, "-m", "tools.release", "build", "--key",
                           str(seed_file), "--wheels", str(wheels), "--out", str(out),
                           "--platform", platform], capture_output=True, text=True,
                          check=True, cwd=REPOSITORY)
    return Path(done.stdout.strip().splitlines()[-1])


def make(genuine: Path, trusted_seed: Path, work: Path, target: Path) -> dict[str, Path]:
    """The tampered bundles (case → path in ``target``) and ``marker.whl`` for a control run."""
    members = _members(genuine)
    manifest = json.loads(members[releases.MANIFEST_NAME])
    own = next(name for name in manifest["files"] if name.startswith("wheels/qatys-"))
    marked = marker_wheel(members[own])
    target.mkdir(parents=True, exist_ok=True)
    (target / "marker.whl").write_bytes(marked)
    wheels = work / "tampered-wheels"
    wheels.mkdir()
    for name, data in members.items():
        if name.startswith(releases.WHEEL_DIR):
            (wheels / name.removeprefix(releases.WHEEL_DIR)).write_bytes(
                marked if name == own else data)
    other_seed = work / "untrusted.seed"
    subprocess.run([sys.executable, "-m", "tools.release", "keygen", "--out", str(other_seed)],
                   capture_output=True, check=True, cwd=REPOSITORY)
    platform = manifest["platform"]
    bundles = {}
    for case, seed in (("untrusted", other_seed), ("signed_marker", trusted_seed)):
        built = _signed_build(seed, wheels, work / f"dist-{case}", platform)
        bundles[case] = built.rename(target / f"{case}-{built.name}")
    altered = dict(members)
    listed = dict(manifest["files"], **{own: hashlib.sha256(marked).hexdigest()})
    altered[releases.MANIFEST_NAME] = releases.manifest_bytes(releases.Manifest(
        version=manifest["version"], created=manifest["created"], platform=platform,
        files=listed))
    altered[own] = marked
    bundles["altered"] = _pack(target / f"altered-{genuine.name}", altered)
    swapped = dict(members, **{own: marked})
    bundles["swapped"] = _pack(target / f"swapped-{genuine.name}", swapped)
    for wheel in wheels.iterdir():
        wheel.unlink()
    wheels.rmdir()
    bundles.update(_small(members, own, marked, target))
    return bundles


def _small(members: dict[str, bytes], own: str, marked: bytes,
           target: Path) -> dict[str, Path]:
    """Bundles of a few members that are each wrong in one way only."""
    signed = {name: members[name] for name in (releases.MANIFEST_NAME, releases.SIGNATURE_NAME)}
    other = next(name for name in members
                 if name.startswith(releases.WHEEL_DIR) and name != own)
    changed = members[other][:-1] + bytes([members[other][-1] ^ 1])
    header = members[releases.SIGNATURE_NAME].replace(b"ed25519 ", b"ed448 ", 1)
    cases = {
        "no_manifest": {releases.SIGNATURE_NAME: signed[releases.SIGNATURE_NAME], own: marked},
        "bad_header": {releases.MANIFEST_NAME: signed[releases.MANIFEST_NAME],
                       releases.SIGNATURE_NAME: header, own: marked},
        "unlisted": {**signed, own: members[own], "wheels/extra-1.0-py3-none-any.whl": marked},
        "missing": {**signed, own: members[own]},
        "dependency_swapped": {**signed, own: members[own], other: changed},
    }
    return {case: _pack(target / f"{case}.tar", bundle) for case, bundle in cases.items()}
