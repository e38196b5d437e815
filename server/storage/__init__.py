"""Where the server keeps its data: the schema and its frozen migrations (Alembic).

``migrations.py`` brings any database made by this server, or by the last release before
Alembic (commit 6029b19), to the newest revision; ``revisions/`` holds each revision's DDL,
written out and never derived from today's tables.

A schema change is a new file in ``revisions/`` (``revision`` and ``down_revision`` chain
them; ``alembic/script.py.mako`` is the form) together with the change to server/storage/db.py:
tests/test_migrations.py fails while the two disagree (``alembic check``) and checks that a
database at each earlier revision, and one written by 6029b19, upgrade to the fresh schema.
Revisions only go forward; to go back, restore a backup.
"""
