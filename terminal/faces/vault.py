"""This terminal's face templates: kept encrypted, opened only in RAM, erased for good.

Rows on disk hold the template encrypted under a kindergarten face key (itself wrapped under
the RAM-only roster key, :mod:`terminal.faces.keyring`), the consent record it depends on,
and a keyed tag of the child so that a withdrawal can erase at once even while the roster is
locked. An erasure deletes the rows (``secure_delete`` zeroes them), records a receipt for
the server, then vacuums the file and truncates the WAL so no copy stays in free pages.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import date

import numpy as np

from protocol import crypto, faces
from protocol.errors import ProtocolError
from protocol.faces import EraseReason
from protocol.roster import ConsentStatus, RosterEntry
from qatys.logs import log
from qatys.sentences import Sentence
from qatys.timeutil import local_date, now_us
from terminal.consent.state import consent_of
from terminal.errors import FaceRefusal, FaceRefused
from terminal.faces import keyring
from terminal.faces.matching import Gallery
from terminal.home import Terminal
from terminal.store import get_int, set_meta

logger = logging.getLogger("qatys.terminal.faces")

ERASE_REASONS = tuple(r for r in EraseReason if r != EraseReason.UNKNOWN)
"""Why a template was erased here: consent withdrawn or run out, the child left the roster, a
new enrolment replaced it, there is no consent record, or the server refused it."""
_ERASE_OF_CONSENT = {ConsentStatus.NONE: EraseReason.NO_CONSENT,
                     ConsentStatus.WITHDRAWN: EraseReason.WITHDRAWN,
                     ConsentStatus.EXPIRED: EraseReason.EXPIRED}
_TAG_INFO = b"qatys/v1/face-child-tag"


@dataclass(frozen=True)
class StoredTemplate:
    template_id: str
    key_id: str
    blob: bytes
    uploaded: bool


class FaceVault:
    def __init__(self, terminal: Terminal) -> None:
        self._t = terminal
        self._tag_key = crypto.derive_key(terminal.keys.box_private, _TAG_INFO)
        self._gallery: tuple[tuple[int, str], Gallery] | None = None

    # --- keys ----------------------------------------------------------------

    def _roster_key(self) -> tuple[bytes, str] | None:
        key, stored = self._t.secrets.roster_key(), self._t.store.roster()
        return None if key is None or stored is None else (key, stored[0])

    def keys(self) -> dict[str, bytes] | None:
        """Face keys by id, or None while the roster (and with it every face key) is locked."""
        unlocked = self._roster_key()
        if unlocked is None:
            return None
        found = {}
        for key_id, version, wrapped in self._t.store.face_key_rows():
            if version != unlocked[1]:
                continue
            try:
                found[key_id] = keyring.unwrap(wrapped, key_id, unlocked[0], version)
            except ProtocolError:
                log(logger, "faces.key_unreadable", logging.WARNING, key=key_id)
        return found

    def signing_key(self) -> tuple[str, bytes]:
        """The key new templates are encrypted under; the first enrolment of a kindergarten on
        a terminal with no key makes one (siblings receive it at their next sync)."""
        keys = self.keys()
        if keys is None:
            raise FaceRefused(FaceRefusal.ROSTER_LOCKED,
                              Sentence("the roster is locked: sync with the server or unlock with "
                                       "a director's card first"))
        if keys:
            key_id = min(keys)
            return key_id, keys[key_id]
        key_id, face_key = os.urandom(8).hex(), os.urandom(32)
        self.keep_key(key_id, face_key, own=True)
        log(logger, "faces.key_created", key=key_id)
        return key_id, face_key

    def keep_key(self, key_id: str, face_key: bytes, *, own: bool = False) -> None:
        """Store a face key under the current roster key; ``own`` also keeps its wrap to this
        terminal's key, for the server to hold until the key comes back after a reboot."""
        unlocked = self._roster_key()
        if unlocked is None:
            raise FaceRefused(FaceRefusal.ROSTER_LOCKED,
                              Sentence("the roster is locked"))
        t = self._t
        wrapped = keyring.wrap(face_key, key_id, unlocked[0], unlocked[1])
        own_wrap = faces.wrap_face_key(face_key, key_id, t.config.kindergarten, t.terminal_id,
                                       t.keys.box_public, os.urandom(32),
                                       os.urandom(crypto.NONCE_SIZE)) if own else None
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO face_keys(key_id, roster_version, wrapped, own_wrap) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(key_id) DO UPDATE SET "
                "roster_version = excluded.roster_version, wrapped = excluded.wrapped",
                (key_id, unlocked[1], wrapped, own_wrap))
            _changed(conn)  # templates under this key open now: galleries are rebuilt

        t.store.write(job)

    def unregistered_keys(self) -> list[tuple[str, bytes]]:
        """(key id, wrap to this terminal) of keys made here that the server has not taken."""
        return [(str(k), bytes(w)) for k, w in self._t.store.read(lambda conn: conn.execute(
            "SELECT key_id, own_wrap FROM face_keys WHERE own_wrap IS NOT NULL").fetchall())]

    def key_registered(self, key_id: str) -> None:
        self._t.store.write(lambda conn: conn.execute(
            "UPDATE face_keys SET own_wrap = NULL WHERE key_id = ?", (key_id,)))

    # --- templates -------------------------------------------------------------

    def child_tag(self, child_id: str) -> bytes:
        return crypto.hmac_tag(self._tag_key, child_id.encode("utf-8"))

    def add(self, child_id: str, consent_record: int, encodings: list[np.ndarray]) -> str:
        """Keep a new template for the child, replacing its earlier ones; returns its id."""
        t = self._t
        key_id, face_key = self.signing_key()
        template_id = os.urandom(16).hex()
        packed = faces.pack_encodings([[float(x) for x in e] for e in encodings])
        blob = faces.encrypt_template(
            faces.Template(template_id, t.config.kindergarten, child_id, consent_record,
                           t.terminal_id, now_us(), packed),
            key_id, face_key, os.urandom(crypto.NONCE_SIZE))
        tag = self.child_tag(child_id)

        def job(conn: sqlite3.Connection) -> int:
            earlier = templates_of(conn, tag)
            delete_templates(conn, [(e, EraseReason.REPLACED) for e in earlier])
            conn.execute("INSERT INTO face_templates(template_id, child_tag, consent_record, "
                         "key_id, blob) VALUES (?, ?, ?, ?, ?)",
                         (template_id, tag, consent_record, key_id, blob))
            _changed(conn)
            return len(earlier)

        replaced = t.store.write(job)
        if replaced:
            t.store.compact()
        log(logger, "faces.template_added", template=template_id, encodings=len(encodings),
            replaced=replaced)
        return template_id

    def receive(self, template_id: str, key_id: str, blob: bytes) -> bool:
        """Keep a template enrolled at a sibling terminal (relayed by the server) once it
        opens under a key held here and belongs to this kindergarten; False otherwise."""
        keys = self.keys() or {}
        if key_id not in keys:
            return False
        try:
            template = faces.decrypt_template(blob, self._t.config.kindergarten, key_id,
                                              template_id, keys[key_id])
        except ProtocolError:
            log(logger, "faces.received_unreadable", logging.WARNING, template=template_id)
            return False
        if self.withdrawal_pending(template.child_id):
            return False  # consent was withdrawn here; the server has not heard yet
        tag = self.child_tag(template.child_id)
        self._t.store.write(lambda conn: _insert_received(
            conn, template_id, tag, template.consent_record, key_id, blob))
        return True

    def stored(self) -> list[StoredTemplate]:
        return [StoredTemplate(str(i), str(k), bytes(b), bool(u))
                for i, k, b, u in self._t.store.read(lambda conn: conn.execute(
                    "SELECT template_id, key_id, blob, uploaded FROM face_templates "
                    "ORDER BY template_id").fetchall())]

    def template_ids(self) -> list[str]:
        return [str(r[0]) for r in self._t.store.read(lambda conn: conn.execute(
            "SELECT template_id FROM face_templates ORDER BY template_id").fetchall())]

    def open(self, row: StoredTemplate, keys: dict[str, bytes]) -> faces.Template | None:
        """One stored template opened in RAM, or None when its key is not here (or it does
        not open, which is logged)."""
        if row.key_id not in keys:
            return None
        try:
            return faces.decrypt_template(row.blob, self._t.config.kindergarten, row.key_id,
                                          row.template_id, keys[row.key_id])
        except ProtocolError:
            log(logger, "faces.template_unreadable", logging.WARNING, template=row.template_id)
            return None

    def templates(self) -> list[faces.Template] | None:
        """Every template opened (in RAM), or None while locked."""
        keys = self.keys()
        if keys is None:
            return None
        return [t for row in self.stored() if (t := self.open(row, keys)) is not None]

    def gallery(self) -> Gallery | None:
        """The enrolled children for identification (cached until a template changes), or
        None while locked. Templates whose consent is no longer in force are erased first."""
        entries = self._t.roster_entries()
        if entries is None:
            return None
        self.enforce_consent(entries, _today(self._t))
        unlocked = self._roster_key()
        version = (self._t.store.read(lambda conn: get_int(conn, "face_version")),
                   unlocked[1] if unlocked else "")
        if self._gallery is not None and self._gallery[0] == version:
            return self._gallery[1]
        opened = self.templates() or []
        by_child: dict[str, list[np.ndarray]] = {}
        for template in opened:  # encodings were checked when the template was opened
            by_child.setdefault(template.child_id, []).extend(np.frombuffer(
                template.encodings, dtype="<f4").reshape(-1, faces.DIMENSIONS))
        gallery = Gallery(by_child)
        self._gallery = (version, gallery)
        return gallery

    # --- erasure ---------------------------------------------------------------

    def erase(self, reasons: list[tuple[str, EraseReason]]) -> int:
        """Erase these templates (id, reason) for good; returns how many were here."""
        if not reasons:
            return 0
        erased = self._t.store.write(lambda conn: delete_templates(conn, reasons))
        if erased:
            self._t.store.compact()
            log(logger, "faces.erased", count=erased,
                reasons=",".join(sorted({r for _, r in reasons})))
        return erased

    def withdrawal_pending(self, child_id: str) -> bool:
        """A withdrawal taken here for this child is still on its way to the server."""
        tag = self.child_tag(child_id)
        return self._t.store.read(lambda conn: conn.execute(
            "SELECT 1 FROM consent_outbox WHERE child_tag = ?", (tag,)).fetchone()) is not None

    def enforce_consent(self, entries: tuple[RosterEntry, ...], today: date) -> int:
        """Erase templates of children who left the roster or whose consent was withdrawn or
        ran out (checked against the roster, so an offline terminal does it too)."""
        by_tag = {self.child_tag(e.child_id): e for e in entries}
        rows = self._t.store.read(lambda conn: conn.execute(
            "SELECT template_id, child_tag FROM face_templates").fetchall())
        doomed: list[tuple[str, EraseReason]] = []
        for template_id, tag in rows:
            entry = by_tag.get(bytes(tag))
            if entry is None:
                doomed.append((str(template_id), EraseReason.LEFT))
                continue
            # a grant whose record is older than the template's means a roster older than
            # the enrolment: it is kept, and the server's face sync has the last word
            consent = consent_of(entry, today)
            if consent.status != ConsentStatus.GRANTED:
                doomed.append((str(template_id), _ERASE_OF_CONSENT[consent.status]))
        return self.erase(doomed)

    def pending_erasures(self) -> list[tuple[str, int, str]]:
        return [(str(i), int(t), str(r)) for i, t, r in self._t.store.read(
            lambda conn: conn.execute("SELECT template_id, erased_at_us, reason "
                                      "FROM face_erasures ORDER BY template_id").fetchall())]

    def erasures_reported(self, template_ids: list[str]) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM face_erasures WHERE template_id = ?",
                             [(i,) for i in template_ids])
        self._t.store.write(job)

    def uploaded(self, template_id: str) -> None:
        self._t.store.write(lambda conn: conn.execute(
            "UPDATE face_templates SET uploaded = 1 WHERE template_id = ?", (template_id,)))


def templates_of(conn: sqlite3.Connection, tag: bytes) -> list[str]:
    """The ids of the templates of the child with this tag."""
    return [str(r[0]) for r in conn.execute(
        "SELECT template_id FROM face_templates WHERE child_tag = ?", (tag,))]


def delete_templates(conn: sqlite3.Connection, reasons: list[tuple[str, EraseReason]]) -> int:
    """Delete inside the caller's transaction, leaving a receipt for the server."""
    erased = 0
    at = now_us()
    for template_id, reason in reasons:
        gone = conn.execute("DELETE FROM face_templates WHERE template_id = ?",
                            (template_id,)).rowcount
        if gone:
            erased += gone
            conn.execute("INSERT INTO face_erasures(template_id, erased_at_us, reason) "
                         "VALUES (?, ?, ?) ON CONFLICT(template_id) DO NOTHING",
                         (template_id, at, reason))
    if erased:
        _changed(conn)
    return erased


def _insert_received(conn: sqlite3.Connection, template_id: str, tag: bytes, record: int,
                     key_id: str, blob: bytes) -> None:
    inserted = conn.execute(
        "INSERT INTO face_templates(template_id, child_tag, consent_record, key_id, blob, "
        "uploaded) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT(template_id) DO NOTHING",
        (template_id, tag, record, key_id, blob)).rowcount
    if inserted:
        _changed(conn)


def _changed(conn: sqlite3.Connection) -> None:
    set_meta(conn, "face_version", get_int(conn, "face_version") + 1)


def _today(terminal: Terminal) -> date:
    return local_date(now_us(), terminal.config.zone)
