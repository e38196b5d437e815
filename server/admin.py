"""Opening a server data directory from the command line (no HTTP involved)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine

from server import keys as key_store
from server.config import ServerConfig, load_config, write_config
from server.db import make_engine, writing
from server.errors import SetupError
from server.keys import ServerKeys
from server.migrations import migrate, pending


def init_data_dir(data_dir: Path, database_url: str | None, public_url: str | None = None,
                  queue_core_url: str | None = None) -> tuple[ServerConfig, list[str]]:
    """Create (or upgrade) a data directory: config, keys and schema. Safe to run again."""
    if (data_dir / "server.toml").exists() and database_url is public_url is queue_core_url \
            is None:
        config = load_config(data_dir)
    else:
        config = write_config(data_dir, database_url, public_url, queue_core_url)
    key_store.create_keys(config.keys_file)
    key_store.create_session_secret(config.session_secret_file)
    applied = migrate(make_engine(config.database_url))
    return config, applied


@dataclass
class DataDir:
    config: ServerConfig
    engine: Engine
    keys: ServerKeys

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with writing(self.engine) as conn:
            yield conn


def open_data_dir(data_dir: Path) -> DataDir:
    config = load_config(data_dir)
    engine = make_engine(config.database_url)
    missing = pending(engine)
    if missing:
        raise SetupError(f"the database needs `qatys server init --data {data_dir}` "
                         f"(pending: {', '.join(missing)})")
    return DataDir(config, engine, key_store.load_keys(config.keys_file))
