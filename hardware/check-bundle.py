"""Checks a release bundle's files against its verified release.json (for install-terminal.sh).

hardware/install-terminal.sh runs this with Debian's python3 and its standard library only
(``python3 -I``), after openssl has verified release.json's signature: nothing here comes
from the bundle, and nothing from the bundle runs before it passed. Every member must be
listed with its SHA-256 (protocol/releases.py), every listed file present, each once, and
release.json must name exactly one qatys wheel, which is written to OUT_DIR as it is hashed
(the file that runs is the file that was checked).

    python3 -I hardware/check-bundle.py BUNDLE RELEASE_JSON OUT_DIR

Prints ``ok VERSION WHEEL`` and exits 0, or prints ``CODE MESSAGE`` and exits 2 (CODE one of
malformed_release, unlisted_file, missing_file, digest_mismatch).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sys
import tarfile
from enum import StrEnum
from pathlib import Path
from typing import IO

FORMAT = "qatys-release-1"
SIGNED = ("release.json", "release.sig")
_FILE = re.compile(r"wheels/[A-Za-z0-9_.+-]{1,200}\.whl")
_OWN = re.compile(r"wheels/qatys-[0-9][0-9.]*-py3-none-any\.whl")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"\d{1,4}(\.\d{1,4}){1,3}")


class Refusal(StrEnum):
    """The CODE printed for a bundle refused (protocol.errors.ReleaseRefusal's values: this
    file imports nothing of Qatys)."""
    MALFORMED_RELEASE = "malformed_release"
    UNLISTED_FILE = "unlisted_file"
    MISSING_FILE = "missing_file"
    DIGEST_MISMATCH = "digest_mismatch"


class Refused(Exception):
    def __init__(self, code: Refusal, message: str) -> None:
        super().__init__(f"{code} {message}")


def listed_files(manifest_path: Path) -> tuple[str, str, dict[str, str]]:
    """(version, the qatys wheel's name, name → SHA-256) from the verified release.json."""
    try:
        manifest = json.loads(manifest_path.read_bytes().decode("utf-8"))
    except ValueError as exc:
        raise Refused(Refusal.MALFORMED_RELEASE, "release.json is not JSON") from exc
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or manifest.get("format") != FORMAT:
        raise Refused(Refusal.MALFORMED_RELEASE, f"release.json is not a {FORMAT} manifest")
    for name, digest in files.items():
        if not _FILE.fullmatch(name) or not _DIGEST.fullmatch(str(digest)):
            raise Refused(Refusal.MALFORMED_RELEASE, f"release.json: bad entry {name!r}")
    version = str(manifest.get("version"))
    if not _VERSION.fullmatch(version):
        raise Refused(Refusal.MALFORMED_RELEASE, f"version {version!r} is not dotted numbers")
    own = [name for name in files if _OWN.fullmatch(name)]
    if len(own) != 1:
        raise Refused(Refusal.MALFORMED_RELEASE,
                      "release.json does not list exactly one qatys wheel")
    return version, own[0], files


def check(bundle: Path, manifest_path: Path, out_dir: Path) -> str:
    version, own, files = listed_files(manifest_path)
    seen: set[str] = set()
    try:
        with tarfile.open(bundle, "r:") as tar:
            for member in tar:
                name = member.name
                if name in seen:
                    raise Refused(Refusal.MALFORMED_RELEASE, f"the bundle holds {name} twice")
                seen.add(name)
                if name in SIGNED and member.isfile():
                    continue
                if name not in files:
                    raise Refused(Refusal.UNLISTED_FILE, f"the bundle holds unlisted {name}")
                stream = tar.extractfile(member) if member.isfile() else None
                if stream is None:
                    raise Refused(Refusal.MALFORMED_RELEASE, f"{name} is not a regular file")
                copy_to = out_dir / Path(own).name if name == own else None
                if _sha256(stream, copy_to) != files[name]:
                    raise Refused(Refusal.DIGEST_MISMATCH,
                                  f"{name} is not the file the release signed")
    except tarfile.TarError as exc:
        raise Refused(Refusal.MALFORMED_RELEASE, f"the bundle is not a tar file: {exc}") from exc
    missing = sorted(set(files) - seen)
    if missing:
        raise Refused(Refusal.MISSING_FILE, f"the bundle lacks {missing[0]}")
    return f"ok {version} {own}"


def _sha256(stream: IO[bytes], copy_to: Path | None) -> str:
    """SHA-256 of a member, read once; with ``copy_to``, written there on the way (as
    terminal/updater.py does: this file imports nothing of Qatys, it checks Qatys)."""
    digest = hashlib.sha256()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(copy_to.open("wb")) if copy_to is not None else None
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    bundle, manifest, out_dir = (Path(a) for a in argv)
    try:
        print(check(bundle, manifest, out_dir))
    except Refused as refused:
        print(refused)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
