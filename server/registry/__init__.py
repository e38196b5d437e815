"""The registry the server keeps: kindergartens, children (roster imports), children's cards
and their door credentials, terminal tokens and revocation, directors' unlock cards, closures
and absences — and the administrator's commands for them (``qatys kindergarten``, ``roster``,
``card``, ``unlock-card``, ``terminal token|revoke``, ``closure``, ``absence``).

It writes the tables of :mod:`server.storage` and uses the pure formats of
:mod:`provisioning` (roster files, IINs, printed cards); the server's features (sync, money,
families, office, queue core) build on it. Nothing here speaks HTTP."""
