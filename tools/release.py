"""Building and signing terminal release bundles (a developer's and publisher's tool).

    python -m tools.release keygen --out release-key.seed        # prints the public key
    python -m tools.release build --key release-key.seed --out dist/ [--platform linux_aarch64]

``build`` makes the qatys wheel from this source tree and collects every dependency as
a wheel for the target platform (for a Raspberry Pi: ``--platform linux_aarch64``, which
asks for manylinux aarch64 wheels for CPython 3.11, Debian 12's Python), writes
``release.json`` listing each wheel's SHA-256, signs it, and packs one tar file. A
terminal installs it with no compiler and no network: see hardware/README.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from protocol import crypto, releases
from qatys.files import write_private

REPOSITORY = Path(__file__).resolve().parent.parent
_PLATFORM_TAGS = {"linux_aarch64": ["manylinux2014_aarch64", "manylinux_2_28_aarch64",
                                    "manylinux_2_17_aarch64", "linux_aarch64"],
                  "linux_x86_64": ["manylinux2014_x86_64", "manylinux_2_28_x86_64",
                                   "manylinux_2_17_x86_64", "linux_x86_64"]}


def host_platform() -> str:
    return f"linux_{os.uname().machine}"


def keygen(out: Path) -> str:
    """A new release signing seed (kept by the publisher) and its public key (shipped)."""
    if out.exists():
        raise SystemExit(f"{out} exists; refusing to overwrite a release key")
    seed = os.urandom(32)
    write_private(out, base64.b64encode(seed) + b"\n")
    return base64.b64encode(crypto.signing_public_key(seed)).decode("ascii")


def collect_wheels(target: Path, platform: str) -> None:
    """The qatys wheel from this tree plus its dependencies' wheels for ``platform``, and the
    wheels installed without their declared dependencies (requirements-nodeps.txt)."""
    pip = [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory() as scratch:
        sources = _sources(Path(scratch) / "qatys")
        subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(target),
                        str(sources)], check=True)
        _dependencies(pip, target, platform, sources)


_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".run", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
    ".hypothesis", "tests", "bench")


def _sources(into: Path) -> Path:
    """A copy of this tree's sources to build the wheel from. setuptools builds in the tree
    (``build/lib``) and packs whatever an earlier build left there, even packages no longer
    listed; and two builds of one tree at once (the tests' x86_64 and arm64 bundles) would
    race on that directory. A private copy gives each build this tree's sources only."""
    shutil.copytree(REPOSITORY, into, ignore=_NOT_SOURCES, symlinks=True)
    return into


def _dependencies(pip: list[str], target: Path, platform: str, sources: Path) -> None:
    """The dependencies' wheels for ``platform`` beside the qatys wheel in ``target``."""
    subprocess.run([*pip, "download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest",
                    str(target), "-r", str(REPOSITORY / "requirements-nodeps.txt")], check=True)
    if platform == host_platform():
        subprocess.run([*pip, "wheel", "--quiet", "--wheel-dir", str(target),
                        "--find-links", str(target), str(sources)], check=True)
        return
    own = next(target.glob("qatys-*.whl"))
    # some pure-Python dependencies publish only a source archive (face_recognition_models,
    # http-ece), which ``--only-binary`` with a foreign platform cannot use: resolve for this
    # machine, building those into wheels, and keep the pure ones (``none-any``: the same file
    # for every platform) for the target's resolution to find
    with tempfile.TemporaryDirectory() as host:
        subprocess.run([*pip, "wheel", "--quiet", "--wheel-dir", host, "--find-links",
                        str(target), str(own)], check=True)
        for wheel in Path(host).glob("*-none-any.whl"):
            if not (target / wheel.name).exists():
                shutil.copy(wheel, target / wheel.name)
    tags = [arg for tag in _PLATFORM_TAGS[platform] for arg in ("--platform", tag)]
    subprocess.run([*pip, "download", "--quiet", "--only-binary=:all:", "--python-version",
                    "3.11", "--implementation", "cp", *tags, "--dest", str(target),
                    "--find-links", str(target), str(own)], check=True)


def version_of(wheels: Path) -> str:
    own = sorted(wheels.glob("qatys-*.whl"))
    if len(own) != 1:
        raise SystemExit(f"expected exactly one qatys wheel in {wheels}, found {len(own)}")
    return own[0].name.split("-")[1]


def build(seed: bytes, wheels: Path, out_dir: Path, platform: str) -> Path:
    """Sign and pack the wheels in ``wheels`` into ``out_dir/qatys-<version>-<platform>.tar``."""
    files = {f"{releases.WHEEL_DIR}{wheel.name}": hashlib.sha256(wheel.read_bytes()).hexdigest()
             for wheel in sorted(wheels.glob("*.whl"))}
    manifest = releases.Manifest(
        version=version_of(wheels), platform=platform, files=files,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle = out_dir / f"qatys-{manifest.version}-{platform}.tar"
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / releases.MANIFEST_NAME).write_bytes(releases.manifest_bytes(manifest))
        (Path(scratch) / releases.SIGNATURE_NAME).write_text(
            releases.sign_manifest(seed, manifest))
        with tarfile.open(bundle, "w") as tar:
            for name in (releases.MANIFEST_NAME, releases.SIGNATURE_NAME):
                tar.add(Path(scratch) / name, arcname=name)
            for name in files:
                tar.add(wheels / name.removeprefix(releases.WHEEL_DIR), arcname=name)
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("keygen", help="make a release signing key; prints the public key")
    gen.add_argument("--out", type=Path, required=True)
    make = sub.add_parser("build", help="build, sign and pack a release bundle")
    make.add_argument("--key", type=Path, required=True, help="seed file from keygen")
    make.add_argument("--out", type=Path, required=True, help="directory for the bundle")
    make.add_argument("--platform", default=host_platform(), choices=sorted(_PLATFORM_TAGS))
    make.add_argument("--wheels", type=Path, default=None,
                      help="use these prebuilt wheels instead of building from this tree")
    args = parser.parse_args(argv)
    if args.command == "keygen":
        print(keygen(args.out))
        return 0
    seed = base64.b64decode(args.key.read_bytes().strip(), validate=True)
    if args.wheels is not None:
        print(build(seed, args.wheels, args.out, args.platform))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        collect_wheels(Path(scratch), args.platform)
        print(build(seed, Path(scratch), args.out, args.platform))
    return 0


if __name__ == "__main__":
    sys.exit(main())
