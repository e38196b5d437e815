"""The office's blueprint with every page module's routes on it (the app factory registers
this one object)."""

from __future__ import annotations

from server.office import (  # each module's routes join the blueprint
    absence_pages,  # noqa: F401
    account_pages,  # noqa: F401
    audit_pages,  # noqa: F401
    card_pages,  # noqa: F401
    closure_pages,  # noqa: F401
    consent_pages,  # noqa: F401
    guardian_pages,  # noqa: F401
    parent_report_pages,  # noqa: F401
    report_pages,  # noqa: F401
    roster_pages,  # noqa: F401
    terminal_pages,  # noqa: F401
    today_pages,  # noqa: F401
)
from server.office.blueprint import bp

__all__ = ["bp"]
