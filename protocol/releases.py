"""Signed software releases for terminals: the manifest, its signature and the checks.

A release bundle carries ``release.json`` (this manifest), ``release.sig`` and the
wheels it lists. The signature covers the manifest's exact bytes; the manifest names
the SHA-256 of every other file, so one signature vouches for the whole bundle. A
terminal trusts only the release keys installed on it (``/etc/qatys/release-keys``)
and never installs a version older than, or equal to, the one it runs (a replayed old
bundle is refused; going back is the separate, local ``rollback``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from protocol import crypto
from protocol.errors import ReleaseRefusal, ReleaseRefused, SignatureError

FORMAT = "qatys-release-1"
MANIFEST_NAME = "release.json"
SIGNATURE_NAME = "release.sig"
WHEEL_DIR = "wheels/"
_DOMAIN = b"qatys-release-v1\n"
_VERSION = re.compile(r"^\d{1,4}(\.\d{1,4}){1,3}$")
_FILE = re.compile(r"^wheels/[A-Za-z0-9_.+-]{1,200}\.whl$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_HEADER = re.compile(r"^ed25519 keyid=([A-Z2-7]{16}) sig=([A-Za-z0-9+/=]{88})$")


@dataclass(frozen=True)
class Manifest:
    version: str
    created: str
    """UTC, ISO 8601: when the release was built (for people; not trusted for ordering)."""
    platform: str
    """The wheel platform of its compiled dependencies, e.g. linux_aarch64."""
    files: dict[str, str]
    """Bundle member name → SHA-256 (hex) of its bytes."""


def version_key(version: str) -> tuple[int, ...]:
    """Dotted numbers compared as numbers: 0.10.0 is newer than 0.9.3."""
    if not _VERSION.match(version):
        raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE,
                             f"version {version!r} is not dotted numbers")
    return tuple(int(part) for part in version.split("."))


def manifest_bytes(manifest: Manifest) -> bytes:
    """The exact bytes that are signed and shipped as release.json."""
    return json.dumps({"format": FORMAT, "version": manifest.version,
                       "created": manifest.created, "platform": manifest.platform,
                       "files": dict(sorted(manifest.files.items()))},
                      sort_keys=True, separators=(",", ":")).encode("utf-8")


def parse_manifest(data: bytes) -> Manifest:
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE,
                             f"{MANIFEST_NAME} is not JSON") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE,
                             f"{MANIFEST_NAME} is not a {FORMAT} manifest")
    files = raw.get("files")
    if not isinstance(files, dict) or not files:
        raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE, f"{MANIFEST_NAME} lists no files")
    for name, digest in files.items():
        if not _FILE.match(str(name)) or not _DIGEST.match(str(digest)):
            raise ReleaseRefused(ReleaseRefusal.MALFORMED_RELEASE,
                                 f"{MANIFEST_NAME}: bad entry {name!r}")
    version = str(raw.get("version", ""))
    version_key(version)
    return Manifest(version=version, created=str(raw.get("created", "")),
                    platform=str(raw.get("platform", "")), files=dict(files))


def sign_manifest(seed: bytes, manifest: Manifest) -> str:
    """The release.sig text for this manifest."""
    signature = crypto.sign(seed, _DOMAIN + manifest_bytes(manifest))
    keyid = crypto.fingerprint(crypto.signing_public_key(seed))
    return f"ed25519 keyid={keyid} sig={base64.b64encode(signature).decode('ascii')}\n"


def verify_manifest(data: bytes, signature_text: str,
                    trusted_keys: list[bytes]) -> Manifest:
    """The manifest, if signed by one of ``trusted_keys``; :class:`ReleaseRefused` if not."""
    found = _HEADER.match(signature_text.strip())
    if found is None:
        raise ReleaseRefused(ReleaseRefusal.BAD_SIGNATURE,
                             f"{SIGNATURE_NAME} is not 'ed25519 keyid=… sig=…'")
    key = next((k for k in trusted_keys if crypto.fingerprint(k) == found.group(1)), None)
    if key is None:
        raise ReleaseRefused(ReleaseRefusal.UNKNOWN_KEY,
                             f"signed by key {found.group(1)}, which this terminal does not trust")
    try:
        crypto.verify(key, _DOMAIN + data, base64.b64decode(found.group(2), validate=True))
    except (SignatureError, binascii.Error) as exc:
        raise ReleaseRefused(ReleaseRefusal.BAD_SIGNATURE,
                             f"{SIGNATURE_NAME} does not verify over {MANIFEST_NAME}") from exc
    return parse_manifest(data)


def check_members(manifest: Manifest, digests: dict[str, str]) -> None:
    """Every listed file present with its digest and nothing else besides manifest and sig."""
    extra = set(digests) - set(manifest.files)
    if extra:
        raise ReleaseRefused(ReleaseRefusal.UNLISTED_FILE,
                             f"the bundle holds unlisted {sorted(extra)[0]}")
    for name, digest in manifest.files.items():
        if name not in digests:
            raise ReleaseRefused(ReleaseRefusal.MISSING_FILE, f"the bundle lacks {name}")
        if digests[name] != digest:
            raise ReleaseRefused(ReleaseRefusal.DIGEST_MISMATCH,
                                 f"{name} is not the file the release signed")


def check_upgrade(current: str | None, offered: str) -> None:
    """Only forward: a replayed older (or the same) release is refused."""
    if current is None:
        return
    if version_key(offered) == version_key(current):
        raise ReleaseRefused(ReleaseRefusal.SAME_VERSION, f"version {offered} is already installed")
    if version_key(offered) < version_key(current):
        raise ReleaseRefused(ReleaseRefusal.OLDER_VERSION,
                             f"version {offered} is older than the running {current}; "
                             "use rollback to go back to the previous release")
