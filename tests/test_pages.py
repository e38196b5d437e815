"""The server's pages in a real headless Chromium: KZ/RU text, live figures, no personal data."""

from __future__ import annotations

from pathlib import Path

from tests.browser import dump_dom, screenshot
from tests.helpers import ServerProcess, checkin, enrol, run


def test_overview_in_chromium(server: ServerProcess, tmp_path: Path,
                              runtime_env: dict[str, str]) -> None:
    home = tmp_path / "door"
    terminal_id = enrol(server, home, runtime_env)
    for child in ("child-00001-x7q", "child-00002-x7q"):
        assert checkin(home, runtime_env, child)["result"] == "accepted"
    run("terminal", "sync", "--home", str(home), env=runtime_env)

    dom = dump_dom(server.url + "/", tmp_path / "profile")
    assert '<html lang="kk">' in dom
    assert "шолу / обзор" in dom
    assert "Балабақша 1" in dom
    row = dom[dom.index(terminal_id):]
    row = row[:row.index("</tr>")]
    assert "<td>2</td>" in row.replace(" ", "")  # both check-ins arrived
    roster = (server.data_dir / "roster.csv").read_text().splitlines()[1:]
    for line in roster:  # the overview names no child
        child_id, iin, last, first = line.split(",")[:4]
        for secret in (child_id, iin, last, first):
            assert secret not in dom

    png = screenshot(server.url + "/", tmp_path / "overview.png", tmp_path / "profile")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG")
    assert int.from_bytes(data[16:20], "big") == 390  # width from the IHDR chunk
