"""Records check-ins as fast as it can, printing each only after commit, until killed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from terminal.checkin import CheckinRequest, CheckinService
from terminal.home import open_terminal


def main(home: str, children: list[str]) -> None:
    terminal = open_terminal(Path(home), log=False)
    service = CheckinService(terminal)
    i = 0
    while True:
        child = children[i % len(children)]
        direction = "in" if (i // len(children)) % 2 == 0 else "out"
        result = service.checkin(CheckinRequest(child, "manual", reason="drill",
                                                direction=direction))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
