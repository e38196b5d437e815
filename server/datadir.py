"""A server data directory: made, upgraded and opened from the command line (no HTTP).

Every server-side command that works on a data directory is declared with
:func:`with_data_dir`: it takes ``--data``, opens the directory and hands the command its
:class:`DataDir`; a refusal of the server's families (:data:`EXIT_CODES`) becomes ``error: …``
on stderr and exit 2, whether the directory or the command refused.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import click
from sqlalchemy import Connection, Engine, make_url

from qatys.cliutil import EXIT_BAD_INPUT, ExitCodes, exit_codes
from qatys.sentences import Sentence
from qatys.timeutil import now_us
from server import keys as key_store
from server import node_keys
from server.config import ServerConfig, load_config, planned_config, write_config
from server.domain.funding import FundingError
from server.domain.policy import PolicyError
from server.errors import ServiceError, SetupError
from server.keys import ServerKeys
from server.storage.db import make_engine, normalise_url, writing
from server.storage.migrations import migrate, pending
from server.storage.replica import Reads

DATA = click.option("--data", "data_dir", required=True,
                    type=click.Path(file_okay=False, path_type=Path),
                    help="Server data directory (config, keys, SQLite database, logs).")
"""The option every server-side command takes."""

EXIT_CODES: ExitCodes = {
    ServiceError: EXIT_BAD_INPUT,  # every family: setup, provisioning, money, families …
    PolicyError: EXIT_BAD_INPUT,
    FundingError: EXIT_BAD_INPUT,
    OSError: EXIT_BAD_INPUT,  # a file to read or write (a roster, a statement, a card)
    UnicodeDecodeError: EXIT_BAD_INPUT,
}
"""The exit code of each error family of the server's commands (docs/cli.md). Refusals that
a command reports itself, line by line (the queue core's exit 3 and 4), are not here."""

P = ParamSpec("P")
R = TypeVar("R")

PRIVATE_UMASK = 0o077
"""The server's processes make files for their owner only: the database holds children's
names and IINs, the keys sign acknowledgements and statements."""


def init_data_dir(data_dir: Path, database_url: str | None, public_url: str | None = None,
                  queue_core_url: str | None = None, *, kek: bytes | None = None,
                  join: bool = False,
                  new_kek_file: Path | None = None) -> tuple[ServerConfig, list[str]]:
    """Create (or upgrade) a data directory: config, keys and schema. Safe to run again.

    With a ``kek`` the keys are those sealed in the database (server/node_keys.py): ``join``
    takes them from there (a new node); without it this node's keys are sealed there when the
    database holds none yet (the first node), and ``new_kek_file`` gets the (new) KEK first.
    Every refusal comes before anything is written.
    The directory ends 0700 and every file in it that the server made 0600 (an older data
    directory too)."""
    planned = planned_config(data_dir, database_url, public_url, queue_core_url)
    files = node_keys.key_files(planned)
    opened = _keys_to_take(planned, files, kek, join)
    old_umask = os.umask(PRIVATE_UMASK)
    try:
        if new_kek_file is not None and kek is not None:
            node_keys.write_kek(new_kek_file, kek)
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        data_dir.chmod(0o700)
        if (data_dir / "server.toml").exists() and database_url is public_url is \
                queue_core_url is None:
            config = load_config(data_dir)
        else:
            config = write_config(data_dir, database_url, public_url, queue_core_url)
        node_keys.write_local(files, opened)
        key_store.create_keys(config.keys_file)
        key_store.create_session_secret(config.session_secret_file)
        key_store.create_vapid_key(config.vapid_key_file)
        engine = make_engine(config.database_url)
        applied = migrate(engine)
        if kek is not None and not opened:
            node_keys.store_sealed(engine, kek, files, now_us())
        engine.dispose()
        make_private(config)
    finally:
        os.umask(old_umask)
    return config, applied


def _keys_to_take(config: ServerConfig, files: dict[str, Path], kek: bytes | None,
                  join: bool) -> dict[str, bytes]:
    """The keys this node takes from the database (empty: it keeps or makes its own), or a
    refusal, before anything is written."""
    if join and kek is None:
        raise SetupError(Sentence("--join needs the key-encryption key: --kek-file FILE or "
                                  "%(env)s; nothing written", env=node_keys.KEK_ENV))
    if join and config.database_url.startswith("sqlite"):
        raise SetupError(Sentence("--join needs the PostgreSQL database the nodes share "
                                  "(--database-url postgresql://…); nothing written"))
    sealed = node_keys.sealed_keys(config.database_url)
    if not sealed:
        if join:
            raise SetupError(Sentence("the database holds no sealed server keys to join: run "
                                      "`qatys server init --kek-file FILE` on the first node "
                                      "first; nothing written"))
        return {}
    local = all(path.exists() for path in files.values())
    if kek is None:
        if local:
            return {}  # an existing node upgraded without its KEK: its keys stay as they are
        raise SetupError(Sentence("the database already holds sealed server keys: run `qatys "
                                  "server init --join` with the KEK (--kek-file FILE or "
                                  "%(env)s); nothing written", env=node_keys.KEK_ENV))
    opened = node_keys.unseal(kek, sealed)
    node_keys.check_local(files, opened)
    if not join and not local:
        raise SetupError(Sentence("the database already holds sealed server keys: run `qatys "
                                  "server init --join` with the KEK (--kek-file FILE or "
                                  "%(env)s); nothing written", env=node_keys.KEK_ENV))
    return opened


def make_private(config: ServerConfig) -> None:
    """chmod the data directory's own files to the owner only (0600, folders 0700)."""
    files = [config.data_dir / "server.toml", config.keys_file, config.session_secret_file,
             config.vapid_key_file, config.log_file]
    database = make_url(normalise_url(config.database_url))
    if database.drivername.startswith("sqlite") and database.database not in (None,
                                                                             ":memory:"):
        main = Path(str(database.database))
        files += [main.with_name(main.name + suffix) for suffix in ("", "-wal", "-shm",
                                                                    ".writers")]
    for folder in (config.keys_file.parent, config.log_file.parent):
        if folder.is_dir():
            folder.chmod(0o700)
    for path in files:
        if path.exists():
            path.chmod(0o600)


@dataclass
class DataDir:
    config: ServerConfig
    engine: Engine
    keys: ServerKeys

    @functools.cached_property
    def reads(self) -> Reads:
        """Where the directory's reports read: the replica when configured (caught up)."""
        return Reads.from_config(self.engine, self.config.database_read_url,
                                 self.config.replica_wait_ms)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with writing(self.engine) as conn:
            yield conn


def open_data_dir(data_dir: Path) -> DataDir:
    config = load_config(data_dir)
    engine = make_engine(config.database_url)
    missing = pending(engine)
    if missing:
        raise SetupError(Sentence("the database needs `qatys server init --data %(data_dir)s` "
                                  "(pending: %(steps)s)", data_dir=data_dir,
                                  steps=', '.join(missing)))
    return DataDir(config, engine, key_store.load_keys(config.keys_file))


def with_data_dir(command: Callable[Concatenate[DataDir, P], R]) -> Callable[..., R]:
    """Declare a server-side command: the ``--data`` option, the directory opened (it must be
    initialised and its migrations applied), the :data:`EXIT_CODES` mapped, and the
    :class:`DataDir` passed as the command's first argument. Put it under the command's
    ``@….command(…)`` and above its own options."""
    @DATA
    @exit_codes(EXIT_CODES)
    @functools.wraps(command)
    def run(data_dir: Path, *args: P.args, **kwargs: P.kwargs) -> R:
        return command(open_data_dir(data_dir), *args, **kwargs)
    return run
