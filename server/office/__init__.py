"""The kindergarten's office in the browser (docs/office.md): today's list, absences with
their documents, closures, cards, paper consent forms, guardians, the roster, terminals and
accounts — for directors, teachers and district operators.

Each concept has its service (no HTTP, coded errors) and its pages; the pages share one
blueprint (``blueprint.py``). Depends on staff, money, families, provisioning, sync's readers
and web; nothing depends on it but the app factory.
"""
