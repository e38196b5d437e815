"""The money: табель and funding statements from the events (over the pure rules in
server/domain/), their exports (CSV, XLSX, PDF), anomaly flags with the terminals' own outage
ledger, approvals (revisions, the queue-core outbox), the month jobs, and their commands.

Depends on: domain, storage, queue_core (an approval queues its statement), provisioning
(closures and absences). No HTTP.
"""
