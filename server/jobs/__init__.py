"""The job queue on the deployment's own database (docs/deployment.md, "Workers").

A page or command only *queues* a job (a row of ``jobs``); any number of ``qatys server
worker`` processes, on any nodes, claim queued jobs one at a time — on PostgreSQL with
``SELECT … FOR UPDATE SKIP LOCKED``, on SQLite under its single writer lock — and keep a
heartbeat while they run. A job whose heartbeat stops (its worker was killed) is claimed again
by another worker, which continues it. Periodic work (roster pulls) is shared through
``schedules``: each slot is taken by exactly one worker.

This package knows only the tables: what a job *does* belongs to its concept (the month job is
:mod:`server.money.jobs`), and the loop that runs them all is :mod:`server.worker`."""
