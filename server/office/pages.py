"""The office's blueprint with every page module's routes on it (the app factory registers
this one object)."""

from __future__ import annotations

import server.office.absence_pages  # absences: its routes join the blueprint
import server.office.closure_pages  # noqa: F401 - closures: its routes join the blueprint
from server.office import today_pages  # noqa: F401 - its routes join the blueprint
from server.office.blueprint import bp

__all__ = ["bp"]
