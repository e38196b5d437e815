"""Director's unlock cards: open a terminal's roster offline, after a reboot without network.

A terminal keeps the roster (first names for the greeting) encrypted under a
key held only in RAM, which a reboot wipes. Normally the server hands the key
over again at the next sync. When the network is down, a director shows an
unlock card instead: a QR holding a card serial and a 256-bit secret. With
every roster the server sends, per valid card of the kindergarten, the roster
key wrapped under that card's secret; the terminal keeps those wraps on disk,
where they are useless without a card. Revoking a card drops its wrap from the
next roster; the terminal also learns the revoked serials, to say so.

Card text: ``QUL1-<serial, 8 base32>-<secret, 52 base32>``, all characters of
the QR alphanumeric mode, so the code stays small.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from protocol import canonical, crypto, fields
from protocol.errors import EncodingError, SealError

CARD_PREFIX = "QUL1"
SECRET_BYTES = 32
SERIAL_BYTES = 5
_CARD_RE = re.compile(r"^QUL1-([A-Z2-7]{8})-([A-Z2-7]{52})$")
_AAD = b"qatys/v1/unlock\x00"


@dataclass(frozen=True)
class UnlockCard:
    serial: str
    secret: bytes

    def __str__(self) -> str:
        secret = base64.b32encode(self.secret).decode("ascii").rstrip("=")
        return f"{CARD_PREFIX}-{self.serial}-{secret}"


@dataclass(frozen=True)
class UnlockWrap:
    """The roster key wrapped under one card's secret (nonce ‖ ciphertext ‖ tag)."""

    serial: str
    wrapped: bytes


@dataclass(frozen=True)
class UnlockSet:
    """What a terminal keeps beside its roster: wraps for valid cards, serials of revoked ones."""

    wraps: tuple[UnlockWrap, ...] = ()
    revoked: tuple[str, ...] = ()

    def wrap_for(self, serial: str) -> UnlockWrap | None:
        return next((w for w in self.wraps if w.serial == serial), None)


def new_serial(random_bytes: bytes) -> str:
    if len(random_bytes) != SERIAL_BYTES:
        raise ValueError(f"a serial is made of {SERIAL_BYTES} random bytes")
    return base64.b32encode(random_bytes).decode("ascii")


def looks_like_card(text: str) -> bool:
    """True for anything that claims to be an unlock card, valid or not."""
    return text.strip().upper().startswith(CARD_PREFIX + "-")


def parse_card(text: str) -> UnlockCard:
    match = _CARD_RE.match(text.strip().upper())
    if match is None:
        raise EncodingError("not a Qatys unlock card (expected QUL1-<serial>-<secret>)")
    card = UnlockCard(match.group(1), base64.b32decode(match.group(2) + "===="))
    if str(card) != match.group(0):  # the last character's unused bits must be zero
        raise EncodingError("not a valid unlock card code (damaged)")
    return card


def _aad(kindergarten: str, serial: str, roster_version: str) -> bytes:
    return _AAD + canonical.encode([kindergarten, serial, roster_version])


def _card_key(secret: bytes) -> bytes:
    return crypto.derive_key(secret, b"qatys/v1/unlock-key")


def wrap_key(card: UnlockCard, roster_key: bytes, kindergarten: str, roster_version: str,
             nonce: bytes) -> UnlockWrap:
    """Wrap a roster key so that only this card opens it, for this roster version only."""
    wrapped = crypto.encrypt(_card_key(card.secret), nonce, roster_key,
                             _aad(kindergarten, card.serial, roster_version))
    return UnlockWrap(card.serial, wrapped)


def unwrap_key(card: UnlockCard, wrap: UnlockWrap, kindergarten: str,
               roster_version: str) -> bytes:
    """The roster key; :class:`SealError` when the card's secret does not open the wrap."""
    key = crypto.decrypt(_card_key(card.secret), wrap.wrapped,
                         _aad(kindergarten, card.serial, roster_version))
    if len(key) != crypto.KEY_SIZE:
        raise SealError("unlock wrap holds no roster key")
    return key


def encode_set(unlock: UnlockSet) -> bytes:
    return canonical.encode({
        "wraps": [{"serial": w.serial, "wrapped": w.wrapped} for w in unlock.wraps],
        "revoked": list(unlock.revoked),
    })


def decode_set(raw: bytes) -> UnlockSet:
    data = canonical.decode_map(raw, "unlock set")
    fields.require_keys(data, {"wraps", "revoked"}, set(), "unlock set")
    wraps, revoked = data["wraps"], data["revoked"]
    if not isinstance(wraps, list) or not isinstance(revoked, list):
        raise EncodingError("unlock set holds lists of wraps and revoked serials")
    out = []
    for item in wraps:
        if not isinstance(item, dict):
            raise EncodingError("unlock wrap must be a map")
        fields.require_keys(item, {"serial", "wrapped"}, set(), "unlock wrap")
        out.append(UnlockWrap(fields.text(item, "serial", max_len=16),
                              fields.blob(item, "wrapped", max_len=128)))
    if not all(isinstance(s, str) and 0 < len(s) <= 16 for s in revoked):
        raise EncodingError("revoked serials must be short text")
    return UnlockSet(tuple(out), tuple(revoked))
