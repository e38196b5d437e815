"""Backups and restores of a server data directory: `qatys server backup` and `qatys server
restore` (docs/operations.md). The file's layout is in :mod:`server.backup.container`, the
database's copy and restore in :mod:`server.backup.database`, the operations in
:mod:`server.backup.service`."""
