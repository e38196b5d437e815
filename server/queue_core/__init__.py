"""The regional queue core (docs/queue-core.md): its HTTP client, the outbox that delivers
approved statements exactly once, the roster pull, and their commands.

Depends on: storage, provisioning (roster import). Nothing else depends on it but money
(approvals) and the finance pages.
"""
