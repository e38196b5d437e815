"""Parents and guardians: invitations and phone keys, the consent ledger and its signed
messages, face templates kept only while a consent stands, withdrawals taken at a terminal,
monthly confirmations, the parents' pages and their commands.

Depends on: storage, money (month helpers, the policy for the child's record), web
(sessions, language, JSON answers), provisioning (card keys).
"""
