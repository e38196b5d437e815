"""The people who pay: finance staff, directors, auditors and administrators. The finance
pages (month overview, табель, statements, approvals, fleet) and the system overview; the
accounts and the session they sign in with are server/staff/'s.

The top of the server's pages: depends on money, families, queue_core, sync's readers and
web; nothing depends on it but the app factory.
"""
