"""Every low-level cryptographic operation of Qatys lives in this module.

Choices (see docs/protocol.md for the reasons):

* signatures: Ed25519 (terminal batches, server acknowledgements, enrolment proofs);
* sealing to a recipient: X25519 key agreement, HKDF-SHA256, ChaCha20-Poly1305
  (an ECIES construction in the style of HPKE base mode);
* at-rest encryption on the terminal: ChaCha20-Poly1305 under a 32-byte key;
* hashing: SHA-256; keyed tags: HMAC-SHA256.

Failures surface as :class:`~protocol.errors.SignatureError` or
:class:`~protocol.errors.SealError`, one opaque type each, so callers cannot
branch on which internal step failed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import MutableMapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from protocol.errors import SealError, SignatureError

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
SEAL_SUITE = 1
"""Suite byte at the start of a sealed envelope: X25519 + HKDF-SHA256 + ChaCha20-Poly1305."""
SEAL_OVERHEAD = 1 + KEY_SIZE + NONCE_SIZE + TAG_SIZE


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_tag(key: bytes, data: bytes) -> bytes:
    """A keyed pseudonym: lets the terminal find today's row for a child without naming it."""
    return hmac.new(key, data, hashlib.sha256).digest()


def fingerprint(public_key: bytes) -> str:
    """A short, human-comparable name for a public key (16 base32 characters, 80 bits)."""
    return base64.b32encode(sha256(public_key)[:10]).decode("ascii")


# --- Ed25519 -----------------------------------------------------------------


def signing_key_from_seed(seed: bytes) -> bytes:
    """Validate a 32-byte Ed25519 private seed (the stored form of a signing key)."""
    Ed25519PrivateKey.from_private_bytes(seed)
    return seed


def signing_public_key(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def sign(seed: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is valid for ``message``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("signature does not verify under the expected key") from exc


def verifies(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """:func:`verify` as a yes/no, for trying each of several trusted keys."""
    try:
        verify(public_key, message, signature)
    except SignatureError:
        return False
    return True


# --- X25519 sealing ----------------------------------------------------------


def box_public_key(private_key: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()


@dataclass(frozen=True)
class SealingKey:
    """A symmetric key agreed between one ephemeral key pair and a recipient.

    The terminal keeps one in memory for a short epoch and seals many bodies
    with it; only the ephemeral public half travels, so the disk never holds
    anything that opens a sealed body.
    """

    ephemeral_public: bytes
    key: bytes


OpenCache = MutableMapping[bytes, ChaCha20Poly1305]
"""Ciphers already agreed, by ephemeral public key (see :func:`open_sealed`)."""


def _derive(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_SIZE,
        salt=ephemeral_public + recipient_public,
        info=b"qatys/v1/seal",
    ).derive(shared)


def sealing_key(ephemeral_private: bytes, recipient_public: bytes) -> SealingKey:
    """Agree a sealing key from a fresh ephemeral private key and the recipient's public key."""
    eph = X25519PrivateKey.from_private_bytes(ephemeral_private)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    eph_pub = eph.public_key().public_bytes_raw()
    return SealingKey(eph_pub, _derive(shared, eph_pub, recipient_public))


def seal_with(skey: SealingKey, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Envelope = suite byte ‖ ephemeral public key ‖ nonce ‖ ciphertext with tag."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError("nonce must be 12 bytes")
    ct = ChaCha20Poly1305(skey.key).encrypt(nonce, plaintext, aad)
    return bytes([SEAL_SUITE]) + skey.ephemeral_public + nonce + ct


def seal_to(recipient_public: bytes, plaintext: bytes, aad: bytes, ephemeral_private: bytes,
            nonce: bytes) -> bytes:
    """One message sealed to one recipient under a fresh ephemeral key (roster, face keys,
    withdrawal notices): :func:`sealing_key` then :func:`seal_with`."""
    return seal_with(sealing_key(ephemeral_private, recipient_public), nonce, plaintext, aad)


def open_sealed(
    recipient_private: bytes,
    envelope: bytes,
    aad: bytes,
    cache: OpenCache | None = None,
) -> bytes:
    """Open an envelope sealed to ``recipient_private``.

    ``cache`` (owned by the caller) maps ephemeral public keys to ready ciphers,
    so that a batch of bodies from one sealing epoch costs one key agreement.
    """
    if len(envelope) < SEAL_OVERHEAD or envelope[0] != SEAL_SUITE:
        raise SealError("sealed body has an unknown suite or is too short")
    eph_pub = envelope[1 : 1 + KEY_SIZE]
    nonce = envelope[1 + KEY_SIZE : 1 + KEY_SIZE + NONCE_SIZE]
    cipher = cache.get(eph_pub) if cache is not None else None
    if cipher is None:
        try:
            priv = X25519PrivateKey.from_private_bytes(recipient_private)
            shared = priv.exchange(X25519PublicKey.from_public_bytes(eph_pub))
        except ValueError as exc:
            raise SealError("sealed body names an invalid ephemeral key") from exc
        cipher = ChaCha20Poly1305(_derive(shared, eph_pub, priv.public_key().public_bytes_raw()))
        if cache is not None:
            cache[eph_pub] = cipher
    try:
        return cipher.decrypt(nonce, envelope[1 + KEY_SIZE + NONCE_SIZE :], aad)
    except InvalidTag as exc:
        raise SealError("sealed body does not open with this key") from exc


# --- at-rest symmetric encryption ---------------------------------------------


def derive_key(secret: bytes, info: bytes) -> bytes:
    """A 32-byte key for one purpose (``info``) from a high-entropy secret (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(secret)


def encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce ‖ ciphertext with tag, under a 32-byte key."""
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return ChaCha20Poly1305(key).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
    except (InvalidTag, ValueError) as exc:
        raise SealError("encrypted record does not open with this key") from exc
