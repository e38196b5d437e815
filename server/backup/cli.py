"""``qatys server backup`` and ``qatys server restore`` (docs/operations.md, docs/cli.md)."""

from __future__ import annotations

from pathlib import Path

import click

from qatys.cliutil import exit_codes, fail
from qatys.sentences import Sentence, echo
from qatys.timeutil import now_us
from server.backup import service
from server.backup.container import Manifest
from server.datadir import EXIT_CODES


def _events(manifest: Manifest) -> int:
    return manifest.counts.get("events", 0)


@click.command("backup")
@click.option("--data", "data_dir", default=None,
              type=click.Path(file_okay=False, path_type=Path),
              help="Server data directory to back up (while the server runs).")
@click.option("--out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file to write (replaced atomically).")
@click.option("--out-dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="A folder of backups: write qatys-backup-<UTC time>.tar there, then apply "
                   "--keep-daily and --keep-weekly.")
@click.option("--keep-daily", default=14, show_default=True, type=click.IntRange(1),
              help="With --out-dir: keep the newest backup of each of the last N days.")
@click.option("--keep-weekly", default=8, show_default=True, type=click.IntRange(0),
              help="With --out-dir: and the newest of each of the last N ISO weeks.")
@click.option("--verify", "verify_file", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Check a backup file instead of making one.")
@exit_codes(EXIT_CODES)
def backup_command(data_dir: Path | None, out: Path | None, out_dir: Path | None,
                   keep_daily: int, keep_weekly: int, verify_file: Path | None) -> None:
    """An online, consistent backup of the database and the keys (--data, --out or --out-dir),
    or the check of one (--verify FILE)."""
    if verify_file is not None:
        if data_dir or out or out_dir:
            fail(Sentence("--verify takes only the backup file"))
        manifest = service.verify_backup(verify_file)
        echo(Sentence("%(path)s verifies: a %(database)s backup at schema revision "
                      "%(revision)s made %(created)s, %(terminals)s terminals, %(events)s "
                      "events; every SHA-256 matches and the database copy opens",
                      path=verify_file, database=manifest.database,
                      revision=manifest.schema_revision, created=manifest.created_at,
                      terminals=len(manifest.terminals), events=_events(manifest)))
        return
    if data_dir is None or (out is None) == (out_dir is None):
        fail(Sentence("give --data DIR and one of --out FILE or --out-dir DIR (or --verify "
                      "FILE)"))
    moment = now_us()
    target = out if out is not None else out_dir / service.backup_name(moment)  # type: ignore[operator]
    manifest = service.make_backup(data_dir, target, moment)
    echo(Sentence("backup written to %(out)s: %(size)s bytes, a %(database)s database at "
                  "schema revision %(revision)s, %(terminals)s terminals, %(events)s events",
                  out=target, size=target.stat().st_size, database=manifest.database,
                  revision=manifest.schema_revision, terminals=len(manifest.terminals),
                  events=_events(manifest)))
    if out_dir is not None:
        for removed in service.prune(out_dir, keep_daily, keep_weekly):
            echo(Sentence("removed %(path)s (older than the retention keeps)", path=removed))


@click.command("restore")
@click.option("--data", "data_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The stopped server's data directory (may be new and empty).")
@click.option("--database-url", default=None,
              help="For a new data directory: the database to restore into (default: SQLite "
                   "in --data).")
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
@exit_codes(EXIT_CODES)
def restore_command(data_dir: Path, database_url: str | None, backup_file: Path) -> None:
    """Restore a backup into a stopped server's data directory; refused, with nothing
    changed, for a file that does not verify, another server's backup or a newer schema."""
    restored = service.restore_backup(data_dir, backup_file, now_us(), database_url)
    echo(Sentence("restored %(path)s (made %(created)s, %(terminals)s terminals, %(events)s "
                  "events) into %(data_dir)s", path=backup_file,
                  created=restored.manifest.created_at,
                  terminals=len(restored.manifest.terminals),
                  events=_events(restored.manifest), data_dir=data_dir))
    if restored.aside is not None:
        echo(Sentence("the database that was there is kept as %(path)s", path=restored.aside))
    if restored.keys_restored:
        echo(Sentence("the server's keys were restored from the backup"))
    if restored.migrations:
        echo(Sentence("database migrations applied: %(steps)s",
                      steps=", ".join(restored.migrations)))
