"""An enrolled terminal's home directory opened for use: config, keys, store, RAM secrets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from protocol import crypto
from protocol import roster as roster_format
from protocol.errors import ProtocolError
from qatys import logs
from terminal import config as config_file
from terminal import keys as key_file
from terminal.config import TerminalConfig
from terminal.errors import SetupError
from terminal.keys import TerminalKeys
from terminal.runtime import RuntimeSecrets, resolve_dir
from terminal.store import TerminalStore

LOG_FILE = Path("logs") / "terminal.log"
_ROSTER_AAD = b"qatys/v1/roster-at-rest"


@dataclass
class Terminal:
    home: Path
    config: TerminalConfig
    keys: TerminalKeys
    store: TerminalStore
    secrets: RuntimeSecrets
    _roster_cache: tuple[bytes, bytes, dict[str, str]] | None = None

    @property
    def terminal_id(self) -> str:
        return self.config.terminal_id

    def close(self) -> None:
        self.store.close()

    def roster(self) -> dict[str, str] | None:
        """child_id → first name, or None while the terminal is locked (no key in RAM)."""
        key = self.secrets.roster_key()
        stored = self.store.roster()
        if key is None or stored is None:
            return None
        if self._roster_cache is not None and self._roster_cache[:2] == (key, stored[1]):
            return self._roster_cache[2]
        try:
            plain = crypto.decrypt(key, stored[1], _ROSTER_AAD)
            names = {e.child_id: e.first_name for e in roster_format.decode_entries(plain)}
        except ProtocolError:
            return None
        self._roster_cache = (key, stored[1], names)
        return names

    def roster_version(self) -> str | None:
        """The stored roster's version, only when it can also be opened."""
        stored = self.store.roster()
        return stored[0] if stored is not None and self.roster() is not None else None

    def keep_roster(self, delivery: roster_format.RosterDelivery, nonce: bytes) -> None:
        """Store the roster encrypted; the key goes to RAM first, so a crash leaves it locked."""
        self.secrets.set_roster_key(delivery.key)
        blob = crypto.encrypt(delivery.key, nonce, roster_format.encode_entries(delivery.children),
                              _ROSTER_AAD)
        self.store.put_roster(delivery.version, blob)


def open_terminal(home: Path, *, log: bool = True) -> Terminal:
    home = Path(home)
    config = config_file.load(home)
    keys = key_file.load(home)
    if log:
        logs.configure(home / LOG_FILE)
    try:
        runtime_dir = resolve_dir(config.terminal_id, config.runtime_dir)
        runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise SetupError(f"no runtime directory for RAM-held secrets: {exc}") from exc
    logging.getLogger("qatys.terminal").debug("opened", extra={"fields": {
        "terminal": config.terminal_id}})
    return Terminal(home, config, keys, TerminalStore(home), RuntimeSecrets(runtime_dir))
