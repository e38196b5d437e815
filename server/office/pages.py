"""The office's blueprint with every page module's routes on it (the app factory registers
this one object)."""

from __future__ import annotations

from server.office import (
    account_pages,  # noqa: F401
    audit_pages,  # noqa: F401
    roster_pages,  # noqa: F401
    terminal_pages,  # noqa: F401
    today_pages,  # noqa: F401 - its routes join the blueprint
)
from server.office.blueprint import bp

__all__ = ["bp"]
