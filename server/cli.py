"""``qatys server …`` and ``qatys events …``: thin wrappers over the server library."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from qatys import logs
from qatys.cliutil import exit_codes
from qatys.sentences import Sentence, echo
from server.config import DEFAULT_PORT
from server.datadir import (
    DATA,
    EXIT_CODES,
    PRIVATE_UMASK,
    DataDir,
    init_data_dir,
    make_private,
    open_data_dir,
    with_data_dir,
)
from server.push.cli import notify_command
from server.sync.exports import EXPORT_FIELDS, accepted_events


@click.group("server")
def server_group() -> None:
    """Set up and run the sync server."""


@server_group.command("init")
@DATA
@exit_codes(EXIT_CODES)
@click.option("--database-url", default=None,
              help="SQLAlchemy URL, e.g. postgresql://user@host/db (default: SQLite in --data).")
@click.option("--public-url", default=None,
              help="The address terminals use to reach this server (put into enrolment QRs).")
@click.option("--queue-core-url", default=None,
              help="The regional queue core's base URL (docs/queue-core.md); '' to unset.")
@click.option("--kek-file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Key-encryption key (0600) sealing the server's keys in the database for "
                   "other nodes; made when missing (first node). Or QATYS_KEK.")
@click.option("--join", is_flag=True,
              help="A new node: take the server's keys sealed in the shared database.")
def init(data_dir: Path, database_url: str | None, public_url: str | None,
         queue_core_url: str | None, kek_file: Path | None, join: bool) -> None:
    """Create or upgrade a data directory: config, server keys and database schema."""
    from server import node_keys

    make_kek = kek_file is not None and not kek_file.exists() and not join
    kek = node_keys.new_kek() if make_kek else node_keys.read_kek(kek_file)
    config, applied = init_data_dir(data_dir, database_url, public_url, queue_core_url,
                                    kek=kek, join=join,
                                    new_kek_file=kek_file if make_kek else None)
    if applied:
        echo(Sentence("data directory %(data_dir)s ready; database migrations applied: "
                      "%(steps)s", data_dir=data_dir, steps=", ".join(applied)))
    else:
        echo(Sentence("data directory %(data_dir)s ready; no database migration was needed",
                      data_dir=data_dir))
    echo(Sentence("server key fingerprint: %(fingerprint)s", fingerprint=_fingerprint(data_dir)))
    echo(Sentence("database: %(database)s", database=config.database_url.split("@")[-1]))
    if join:
        echo(Sentence("joined: this node's keys are the ones sealed in the database"))
    elif kek is not None:
        echo(Sentence("the server's keys are sealed in the database; other nodes join with "
                      "`qatys server init --join` and the same KEK"))


def _fingerprint(data_dir: Path) -> str:
    from protocol.crypto import fingerprint

    return fingerprint(open_data_dir(data_dir).keys.sign_public)


@server_group.command("public-key")
@with_data_dir
def public_key(data: DataDir) -> None:
    """The server's signing public key (base64): what the queue core trusts."""
    import base64

    click.echo(base64.b64encode(data.keys.sign_public).decode("ascii"))


@server_group.command("run")
@with_data_dir
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="gunicorn worker processes.")
def run(data: DataDir, host: str, port: int, workers: int | None) -> None:
    """Serve the API and pages through gunicorn until stopped (Ctrl-C, SIGTERM)."""
    from server.serve import serve

    os.umask(PRIVATE_UMASK)  # the database's -wal/-shm, logs: for the server's user only
    logs.configure(data.config.log_file)
    make_private(data.config)
    serve(data.config.data_dir, host, port, workers)


server_group.add_command(notify_command)


@click.group("events")
def events_group() -> None:
    """Accepted events, as the server stored them."""


@events_group.command("export")
@with_data_dir
@click.option("--kindergarten", default=None, help="Only this kindergarten's events.")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl",
              show_default=True)
def export(data: DataDir, kindergarten: str | None, fmt: str) -> None:
    """One JSON line per accepted event (fields in docs/cli.md)."""
    with data.engine.connect() as conn:
        for event in accepted_events(conn, kindergarten):
            line = {k: event[k] for k in EXPORT_FIELDS} | {"kindergarten": event["kindergarten"]}
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
