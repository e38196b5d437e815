"""server/domain/ holds the rules money depends on (working days, the funding policy, amounts,
anomaly flags) as plain functions over plain data: no storage, no web, no network, no language
catalogue, so they are tested without I/O and read the same in every caller."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parent.parent / "server" / "domain"
IO = {"sqlite3", "flask", "werkzeug", "requests", "sqlalchemy", "psycopg", "babel",
      "flask_babel", "jinja2"}
"""(The holidays library loads ``socket`` and ``gettext`` for its own ends, and does no I/O.)"""


def test_the_domain_imports_no_io_library() -> None:
    modules = sorted(f"server.domain.{p.stem}" for p in DOMAIN.glob("*.py")
                     if p.stem != "__init__")
    assert "server.domain.funding" in modules
    code = (f"import sys\nimport {', '.join(modules)}\n"
            f"print(sorted(set({sorted(IO)!r}) & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_the_domain_imports_only_itself_the_protocol_and_the_standard_library() -> None:
    own = ("server.domain", "protocol")
    for path in DOMAIN.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and words[1].split(".")[0] in (
                    "server", "qatys", "terminal", "provisioning"):
                assert words[1].startswith(own), (path.name, line)
