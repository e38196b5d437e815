"""The people who pay and run: finance staff, directors, auditors and administrators. Their
accounts and sessions, the finance pages (month overview, табель, statements, approvals,
fleet) and the system overview.

The top of the server's pages: depends on money, families, queue_core, sync's readers and
web; nothing depends on it but the app factory.
"""
