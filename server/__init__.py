"""The sync server, one subpackage per concept (each holds its service, its commands, its
pages or API and their templates):

- ``jobs/``: the job queue on the database; ``worker/``: ``qatys server worker``
- ``registry/``: kindergartens, rosters stored, cards, terminal tokens, closures, absences
- ``sync/``: terminals (enrolment, batches, signed requests and answers, roster, door, faces)
- ``money/``: табель, statements, exports, flags, approvals, jobs
- ``queue_core/``: the regional queue core's client, outbox and roster pull
- ``families/``: guardians, the consent ledger, face templates, confirmations, parents' pages
- ``staff/``: staff accounts and roles, the staff session, the audit trail
- ``finance/``: the finance pages, the system overview
- ``office/``: the kindergarten's office in the browser (today, absences, cards, roster, …)
- ``web/``: what pages and APIs share (answers, headers, sessions, limits, language, OpenAPI)
- ``i18n/``: the gettext catalogue (kk, ru) of the pages and exports, words for the codes
- ``storage/``: the schema and its frozen migrations; ``domain/``: the pure rules
- ``backup/``: ``qatys server backup`` and ``qatys server restore`` (docs/operations.md)

At the top: the app factory, configuration, keys, the data directory (``with_data_dir``
declares every server-side command), the error families every package raises (``errors``: a
stable code, no HTTP status; ``web/errors.py`` maps codes to statuses) and the ``qatys server``
commands. tests/test_imports.py keeps the dependencies pointing one way, tests/test_layers.py
keeps HTTP in the web layer.
"""
