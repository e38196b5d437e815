"""One guardian's phone code taken at two terminals of a kindergarten within its window: each
door takes it (neither knows what the other saw), and the server flags it on the month's
statement as phone_code_reused (real server on SQLite and PostgreSQL, real terminals)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import requests
import segno
from sqlalchemy import select

from protocol import phone
from server.datadir import open_data_dir
from server.families.guardians import claim_message
from server.storage import db
from tests.helpers import Phone, ServerProcess, enrol, run

CHILD = "child-00005-x7q"


def _claimed(server: ServerProcess, mine: Phone) -> tuple[str, bytes]:
    """A guardian of CHILD with this phone key, claimed as the parents' page would; the
    binding's serial and signature."""
    url = run("guardian", "invite", "--data", str(server.data_dir), "--child",
              CHILD).stdout.strip().splitlines()[-1]
    code = url.rsplit("/", 1)[-1]
    answer = requests.post(server.url + "/parents/api/claim", timeout=10, json={
        "code": code, "public_key": base64.b64encode(mine.spki).decode(),
        "proof": base64.b64encode(mine.sign(claim_message(code))).decode()})
    assert answer.status_code == 200, answer.text
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        row = conn.execute(select(db.guardian_children.c.serial, db.guardian_children.c.binding)
                           .where(db.guardian_children.c.child_id == CHILD)).one()
    engine.dispose()
    return str(row.serial), bytes(row.binding)


def test_a_phone_code_taken_at_two_terminals_is_flagged(
        server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str]) -> None:
    mine = Phone()
    serial, binding = _claimed(server, mine)
    doors = []
    for name in ("a", "b"):
        env = {"QATYS_RUNTIME_DIR": str(tmp_path / f"run-{name}")}
        enrol(server, tmp_path / name, env)
        run("terminal", "sync", "--home", str(tmp_path / name), "--quiet", env=env)
        doors.append((tmp_path / name, env))
    window = phone.window_at(time.time())
    text = (f"QP1:{mine.key_id}:{CHILD}:{window}:{serial}:{phone.b64url(binding)}:"
            f"{phone.b64url(mine.sign(phone.code_message(mine.key_id, CHILD, window)))}")
    picture = tmp_path / "screen.png"
    segno.make(text, error="m").save(str(picture), scale=6, border=4)
    taken = []
    for home, env in doors:
        out = json.loads(run("terminal", "scan", "--home", str(home), str(picture),
                             env=env).stdout)
        assert (out["result"], out["method"]) == ("accepted", "qr-phone"), out
        taken.append(out["event_id"])
        again = json.loads(run("terminal", "scan", "--home", str(home), str(picture), env=env,
                               check=False).stdout)
        assert again["reason"] == "replayed_code"  # each door refuses a code it has seen
        run("terminal", "sync", "--home", str(home), "--quiet", env=env)
    month = time.strftime("%Y-%m", time.gmtime())
    out = run("funding", "anomalies", "--data", str(server.data_dir), "--kindergarten", "KG1",
              "--month", month)
    flags = [json.loads(line) for line in out.stdout.splitlines()]
    reused = [f for f in flags if f["rule"] == "phone_code_reused"]
    assert len(reused) == 1, flags
    assert sorted(reused[0]["event_ids"]) == sorted(taken)
    assert serial in reused[0]["summary"]
