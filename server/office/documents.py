"""Documents the office keeps: a medical certificate behind an absence, the scan of a paper
consent form. Sealed at rest to the server's own box key (the key that opens the terminals'
event bodies), so a copy of the database alone shows no child's certificate; opened only for
a person who may see that child, and each showing is written in the audit trail.

The type is read from the content (a JPEG, PNG or PDF begins with its own signature),
never from the file's name or the browser's word for it; at most 10 MB.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, select

from protocol import crypto
from qatys.sentences import Sentence
from server.errors import OfficeError
from server.keys import ServerKeys
from server.staff.accounts import User
from server.staff.audit import Action, record
from server.storage import db

MAX_BYTES = 10 * 1024 * 1024
SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
              (b"%PDF-", "application/pdf"))
"""The first bytes of each type the office takes, and its media type."""
SUFFIX = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


class Purpose(StrEnum):
    """Why a document is kept (``documents.purpose``)."""
    CERTIFICATE = "certificate"
    """Behind an absence: a medical certificate, a sanatorium's voucher, an order."""
    CONSENT_FORM = "consent_form"
    """The scan of a paper consent form (a grant or a withdrawal)."""


@dataclass(frozen=True)
class Document:
    id: int
    kindergarten: str
    child_id: str
    purpose: Purpose
    media_type: str
    size: int
    content: bytes


def media_type_of(content: bytes) -> str:
    """The type the content says it is; refused unless a photo (JPEG, PNG) or a PDF."""
    if not content:
        raise OfficeError("document_missing", Sentence("the document is empty"), "document")
    if len(content) > MAX_BYTES:
        raise OfficeError("document_too_large", Sentence(
            "the document has %(size)s bytes; at most %(limit)s are kept", size=len(content),
            limit=MAX_BYTES), "document")
    for signature, media_type in SIGNATURES:
        if content.startswith(signature):
            return media_type
    raise OfficeError("document_type", Sentence("the document is not a JPEG, PNG or PDF file"),
                      "document")


def _aad(document_id_hint: str, child_id: str, purpose: Purpose) -> bytes:
    return f"qatys-document:{document_id_hint}:{child_id}:{purpose}".encode()


def store(conn: Connection, keys: ServerKeys, kindergarten: str, child_id: str,
          purpose: Purpose, content: bytes, by: User | str, now_us: int) -> int:
    """Seal and keep ``content``; returns the document's id. Bound to its child and purpose
    (the seal's associated data), so a sealed copy moved to another child does not open.
    ``by``: the staff member who uploaded it, or a text naming who else did (a guardian's
    report: ``guardian:<id>``)."""
    media_type = media_type_of(content)
    sealed = crypto.seal_to(keys.box_public, content, _aad("v1", child_id, purpose),
                            os.urandom(32), os.urandom(crypto.NONCE_SIZE))
    result = conn.execute(db.documents.insert().values(
        kindergarten=kindergarten, child_id=child_id, purpose=purpose, media_type=media_type,
        size=len(content), sha256=crypto.sha256(content), sealed=sealed,
        uploaded_at_us=now_us, uploaded_by=by if isinstance(by, str) else by.username))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def show(conn: Connection, keys: ServerKeys, document_id: int, viewer: User,
         group_of: dict[str, str], now_us: int) -> Document:
    """The document opened for ``viewer``, who must see its child (``group_of``: the child's
    group, for a teacher's check); the showing goes into the audit trail."""
    row = conn.execute(select(db.documents).where(db.documents.c.id == document_id)).first()
    if row is None or not viewer.may_see_group(row.kindergarten, group_of.get(row.child_id, "")):
        raise OfficeError("unknown_record", Sentence("no document %(document_id)s you may see",
                                                     document_id=document_id))
    content = crypto.open_sealed(keys.box_private, bytes(row.sealed),
                                 _aad("v1", row.child_id, Purpose(row.purpose)))
    record(conn, viewer, Action.DOCUMENT_SHOWN, row.kindergarten, f"DOC-{row.id}", now_us,
           child_id=row.child_id)
    return Document(row.id, row.kindergarten, row.child_id, Purpose(row.purpose),
                    row.media_type, row.size, content)
