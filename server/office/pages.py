"""The office's blueprint with every page module's routes on it (the app factory registers
this one object)."""

from __future__ import annotations

from server.office import (
    card_pages,  # noqa: F401 - its routes join the blueprint
    consent_pages,  # noqa: F401 - its routes join the blueprint
    guardian_pages,  # noqa: F401 - its routes join the blueprint
    today_pages,  # noqa: F401 - its routes join the blueprint
)
from server.office.blueprint import bp

__all__ = ["bp"]
