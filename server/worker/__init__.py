"""``qatys server worker``: the process that does the server's background work — queued
jobs (the month computation), queue-core deliveries and roster pulls — safely with any number
of copies on any nodes (claims and slots in the database, :mod:`server.jobs`).

``qatys server run`` starts one beside gunicorn unless ``run_worker = false``; larger
deployments run it as its own unit (hardware/systemd/qatys-worker.service, docs/deployment.md)."""
