"""An enrolled terminal's home directory opened for use: config, keys, store, RAM secrets."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from protocol import cards, crypto, unlock
from protocol import roster as roster_format
from protocol.errors import ProtocolError
from qatys import logs
from qatys.sentences import Sentence
from terminal import config as config_file
from terminal import keys as key_file
from terminal import recovery, storage_guard
from terminal.config import TerminalConfig
from terminal.errors import SetupError, UnlockRefusal, UnlockRefused
from terminal.faces import keyring
from terminal.keys import TerminalKeys
from terminal.runtime import RuntimeSecrets, resolve_dir
from terminal.store import TerminalStore

LOG_FILE = Path("logs") / "terminal.log"
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 4
"""The terminal's log is rotated in the process at 5 MB, 4 old files kept: at most 25 MB,
whatever happens between two runs of logrotate."""
_ROSTER_AAD = b"qatys/v1/roster-at-rest"
_logger = logging.getLogger("qatys.terminal")


@dataclass
class Terminal:
    home: Path
    config: TerminalConfig
    keys: TerminalKeys
    store: TerminalStore
    secrets: RuntimeSecrets
    _roster_cache: tuple[bytes, bytes, dict[str, str]] | None = None
    _storage: storage_guard.StorageGuard | None = None

    @property
    def terminal_id(self) -> str:
        return self.config.terminal_id

    @property
    def storage(self) -> storage_guard.StorageGuard:
        """The free-space floor and reserve checked before each check-in."""
        if self._storage is None:
            self._storage = storage_guard.StorageGuard(self)
        return self._storage

    def close(self) -> None:
        self.store.close()

    def recover_store(self) -> recovery.Recovery | None:
        """SQLite reported the store corrupt while running (the marker is left by
        :func:`storage_guard.fault_of`): close it, move it aside and rebuild it
        (terminal/recovery.py), and go on with the new one in its place."""
        self.store.close()
        try:
            return recovery.recover_if_needed(self.home, self.terminal_id)
        finally:  # recovered, or not now (another process has it open): open it again
            self.store = TerminalStore(self.home)
            self._storage = None
            self._roster_cache = None

    def damage_notice(self, now_us: int) -> str:
        """``store_damaged`` for a day after a damaged store was recovered and as long as its
        lost events are not all declared to the server (or while a recovery is due), else
        ""."""
        if (self.home / recovery.NEEDED).exists():
            return "store_damaged"
        record = self.store.damage_record()
        if record is None:
            return ""
        recent = now_us - int(str(record.get("at_us", 0))) < recovery.NOTICE_US
        return "store_damaged" if record["undeclared"] or recent else ""

    def roster(self) -> dict[str, str] | None:
        """child_id → first name, or None while the terminal is locked (no key in RAM)."""
        key = self.secrets.roster_key()
        stored = self.store.roster()
        if key is None or stored is None:
            return None
        if self._roster_cache is not None and self._roster_cache[:2] == (key, stored[1]):
            return self._roster_cache[2]
        entries = self.roster_entries()
        if entries is None:
            return None
        names = {e.child_id: e.first_name for e in entries}
        self._roster_cache = (key, stored[1], names)
        return names

    def roster_entries(self) -> tuple[roster_format.RosterEntry, ...] | None:
        """The whole roster (names, consent states), or None while locked."""
        key = self.secrets.roster_key()
        stored = self.store.roster()
        if key is None or stored is None:
            return None
        try:
            return roster_format.decode_entries(crypto.decrypt(key, stored[1], _ROSTER_AAD))
        except ProtocolError:
            return None

    def door(self) -> cards.DoorCredentials | None:
        """The kindergarten's card keys and revoked serials, checked against the pinned
        server key every time they are read (a file edited on disk is not trusted)."""
        stored = self.store.door()
        if stored is None:
            return None
        try:
            door = cards.verify_door(stored[0], stored[1], self.keys.server_sign_public)
        except ProtocolError:
            logs.log(_logger, "door.unreadable", logging.ERROR, terminal=self.terminal_id)
            return None
        return door if door.kindergarten == self.config.kindergarten else None

    def roster_version(self) -> str | None:
        """The stored roster's version, only when it can also be opened."""
        stored = self.store.roster()
        return stored[0] if stored is not None and self.roster() is not None else None

    def keep_roster(self, delivery: roster_format.RosterDelivery, nonce: bytes,
                    issued_us: int = 0) -> None:
        """Store the roster encrypted; the key goes to RAM first, so a crash leaves it locked.
        The face keys move from the old roster key to the new one in the same commit.
        ``issued_us`` is the server time of the signed answer that brought it."""
        face_keys = keyring.rewrapped(self.store.face_key_rows(), self.secrets.roster_key(),
                                      delivery.key, delivery.version)
        self.secrets.set_roster_key(delivery.key)
        blob = crypto.encrypt(delivery.key, nonce, roster_format.encode_entries(delivery.children),
                              _ROSTER_AAD)
        self.store.put_roster(delivery.version, blob, unlock.encode_set(delivery.unlock_set),
                              face_keys, issued_us)

    def unlock(self, card_text: str) -> int:
        """Open the roster offline with a director's unlock card; returns how many names.

        Refusals (:class:`UnlockRefused`) change nothing: the terminal stays as it was.
        """
        try:
            card = unlock.parse_card(card_text)
        except ProtocolError as exc:
            raise _unlock_refused(UnlockRefusal.NOT_UNLOCK_CARD,
                                  Sentence("this is not an unlock card: %(problem)s",
                                           problem=exc)) from None
        stored, kept = self.store.roster(), self.store.roster_unlock()
        if stored is None or kept is None or kept[0] != stored[0]:
            raise _unlock_refused(UnlockRefusal.NO_ROSTER, Sentence("this terminal has no roster "
                                                                    "yet; it needs one contact "
                                                                    "with the server first"))
        try:
            unlock_set = unlock.decode_set(kept[1])
        except ProtocolError:
            raise _unlock_refused(UnlockRefusal.NO_ROSTER, Sentence("the stored unlock data is "
                                                                    "unreadable; connect to the "
                                                                    "server to fetch the roster "
                                                                    "again")) from None
        if card.serial in unlock_set.revoked:
            raise _unlock_refused(UnlockRefusal.CARD_REVOKED,
                                  Sentence("unlock card %(serial)s was revoked",
                                           serial=card.serial))
        wrap = unlock_set.wrap_for(card.serial)
        if wrap is None:
            raise _unlock_refused(UnlockRefusal.CARD_UNKNOWN,
                                  Sentence("unlock card %(serial)s is not a card of kindergarten "
                                           "%(kindergarten)s (or it is newer than this terminal's "
                                           "roster)", serial=card.serial,
                                           kindergarten=self.config.kindergarten))
        try:
            key = unlock.unwrap_key(card, wrap, self.config.kindergarten, stored[0])
        except ProtocolError:
            raise _unlock_refused(UnlockRefusal.CARD_INVALID,
                                  Sentence("unlock card %(serial)s does not open this roster "
                                           "(altered or damaged code)",
                                           serial=card.serial)) from None
        self.secrets.set_roster_key(key)
        names = self.roster()
        if names is None:  # pragma: no cover - a wrap always holds the key of its roster
            raise _unlock_refused(UnlockRefusal.CARD_INVALID,
                                  Sentence("the roster does not open with this card"))
        logs.log(_logger, "unlock.accepted", terminal=self.terminal_id, card=card.serial)
        return len(names)


def _unlock_refused(reason: UnlockRefusal, message: Sentence) -> UnlockRefused:
    logs.log(_logger, "unlock.refused", logging.WARNING, reason=reason)
    return UnlockRefused(reason, message)


def open_terminal(home: Path, *, log: bool = True) -> Terminal:
    home = Path(home)
    config = config_file.load(home)
    keys = key_file.load(home)
    if log:
        logs.configure(home / LOG_FILE, max_bytes=LOG_MAX_BYTES, backups=LOG_BACKUPS)
    try:
        runtime_dir = resolve_dir(config.terminal_id, config.runtime_dir)
        runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise SetupError(Sentence("no runtime directory for RAM-held secrets: %(exc)s",
                                  exc=exc)) from exc
    logging.getLogger("qatys.terminal").debug("opened", extra={"fields": {
        "terminal": config.terminal_id}})
    storage_guard.prepare_home(home, config)
    try:  # a damaged store is moved aside and rebuilt first (terminal/recovery.py)
        recovery.recover_if_needed(home, config.terminal_id)
        store = TerminalStore(home)
    except recovery.RecoveryBusy as exc:  # the kiosk has it open: it recovers it itself
        logs.log(_logger, "store.damaged_in_use", logging.ERROR, problem=str(exc))
        raise storage_guard.storage_fault(storage_guard.StorageLevel.DAMAGED,
                                          "in use by another process") from None
    except (sqlite3.Error, OSError) as exc:
        level = storage_guard.fault_of(exc, home)
        if level is None:
            raise
        logs.log(_logger, "store.not_opened", logging.ERROR, storage=level,
                 error=f"{type(exc).__name__}: {exc}")
        raise storage_guard.storage_fault(level, exc) from None
    return Terminal(home, config, keys, store, RuntimeSecrets(runtime_dir))
