"""Absences reported from a guardian's phone, against one real server on SQLite and one on
PostgreSQL: a guardian reports an illness with a photo of the certificate → the office lists
it with the photo → the director accepts → an absence record with the parent as its source and
the photo as its document, in the month's funding explanation; a declined report writes no
absence and the parent's page shows the director's note; every refusal (outside the window,
too far ahead, reversed, a bad reason, a wrong file, an oversized one, a child not the
guardian's, no CSRF token) writes nothing."""

from __future__ import annotations

import io
import json
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import requests
from PIL import Image

from qatys.timeutil import local_date, now_us
from server.domain.calendar import DayKind, day_kind
from server.domain.policy import PolicyError, default_policy_text, load_policy
from server.families.absence_reports import earliest_day
from server.storage import db
from tests.helpers import (
    GuardianClient,
    ServerProcess,
    add_user,
    guardian_client,
    matching_rows,
    page_csrf,
    row_counts,
    run,
    staff_session,
)

POLICY = load_policy(None)
PASSWORD = "director-pass-r1"
CHILD, OTHER, STRANGER = "child-00005-x7q", "child-00006-x7q", "child-00007-x7q"


def png(seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (24, 24), bytes(rng.randrange(256) for _ in range(24 * 24 * 3)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Family:
    server: ServerProcess
    director: requests.Session
    teacher: requests.Session
    parent: GuardianClient
    other_parent: GuardianClient


@pytest.fixture(scope="module")
def family(server: ServerProcess) -> Family:
    add_user(server, "repdir", "director", PASSWORD, "KG1")
    add_user(server, "repteach", "teacher", PASSWORD, "KG1", groups=["Group A"])
    return Family(server, staff_session(server.url, "repdir", PASSWORD),
                  staff_session(server.url, "repteach", PASSWORD),
                  guardian_client(server, CHILD), guardian_client(server, OTHER))


def send(parent: GuardianClient, base: str, child: str, first: date, last: date,
         reason: str = "illness", note: str = "", document: bytes | None = None,
         csrf: bool = True) -> requests.Response:
    files = {"document": ("certificate.png", document, "image/png")} if document else None
    return parent.http.post(base + "/parents/api/absence-report", timeout=30, files=files,
                            data={"child_id": child, "first_day": first.isoformat(),
                                  "last_day": last.isoformat(), "reason": reason,
                                  "note": note},
                            headers={"X-Qatys-CSRF": parent.csrf if csrf else ""})


def counts(server: ServerProcess) -> dict[str, int]:
    return row_counts(server, db.absence_reports, db.documents, db.absences, db.audit_trail)


rows = matching_rows


def office_post(director: requests.Session, base: str, path: str,
                **fields: str) -> requests.Response:
    page = director.get(base + "/office/reports")
    assert page.status_code == 200, page.text[:500]
    return director.post(base + path, data={"csrf": page_csrf(page.text), **fields},
                         allow_redirects=False)


def problem_code(response: requests.Response) -> str:
    found = re.search(r'id="problem" data-code="([a-z_]+)"', response.text)
    return found.group(1) if found else ""


def test_an_illness_reported_with_a_photo_becomes_the_absence_record(family: Family) -> None:
    base, today = family.server.url, local_date(now_us())
    photo = png(1)
    answer = send(family.parent, base, CHILD, today, today, note="fever", document=photo)
    assert answer.status_code == 200, answer.text
    report_id = answer.json()["report"]
    [stored] = rows(family.server, db.absence_reports, id=report_id)
    assert stored["status"] == "pending"
    assert stored["note"] == "fever"
    assert stored["document_id"] is not None
    [document] = rows(family.server, db.documents, id=stored["document_id"])
    assert document["uploaded_by"] == f"guardian:{family.parent.guardian_id}"
    assert photo not in bytes(document["sealed"])  # type: ignore[arg-type]

    page = family.director.get(base + "/office/reports")
    assert f'data-report="{report_id}"' in page.text
    assert 'id="nav-reports"' in page.text
    assert f'id="report-accept-{report_id}"' in page.text
    shown = family.director.get(base + f"/office/reports/{report_id}/document")
    assert shown.status_code == 200
    assert shown.headers["Content-Type"] == "image/png"
    assert shown.content == photo

    accepted = office_post(family.director, base, f"/office/reports/{report_id}/accept")
    assert accepted.status_code == 303, accepted.text[:2000]
    [decided] = rows(family.server, db.absence_reports, id=report_id)
    assert decided["status"] == "accepted"
    assert decided["decided_by"] == "repdir"
    [absence] = rows(family.server, db.absences, id=decided["absence_id"])
    assert absence["recorded_by"] == f"guardian:{family.parent.guardian_id}"
    assert absence["document_id"] == stored["document_id"]
    assert absence["reason"] == "illness"
    assert [r["action"] for r in rows(family.server, db.audit_trail, subject=f"REP-{report_id}")
            ] == ["report_accepted"]
    listed = family.director.get(base + "/office/absences").text
    assert 'data-source="parent"' in listed

    why = run("funding", "why", "--data", str(family.server.data_dir), "--kindergarten", "KG1",
              "--month", today.strftime("%Y-%m"), "--child", CHILD).stdout.splitlines()
    [day] = [e for e in map(json.loads, why) if e.get("date") == today.isoformat()]
    assert day["absence_record"] == f"ABS-{decided['absence_id']}"
    assert day["reason"] == "illness"
    if day_kind(today, False, POLICY.calendar) == DayKind.WORKING:  # a paid day of illness
        assert day["mark"] == "paid_absence"

    mine = family.parent.http.get(base + f"/parents/child/{CHILD}").text
    assert f'data-report="{report_id}" data-status="accepted"' in mine

    again = send(family.parent, base, CHILD, today, today)  # the same day, reported again
    assert again.status_code == 200, again.text
    before = counts(family.server)
    overlap = office_post(family.director, base, f"/office/reports/{again.json()['report']}/accept")
    assert overlap.status_code == 409
    assert problem_code(overlap) == "overlapping_absence"
    assert counts(family.server) == before


def test_a_declined_report_writes_no_absence_and_the_parent_sees_why(family: Family) -> None:
    base, today = family.server.url, local_date(now_us())
    first = earliest_day(today, POLICY)  # the window's first day is still in it
    answer = send(family.other_parent, base, OTHER, first, today, reason="other")
    assert answer.status_code == 200, answer.text
    report_id = answer.json()["report"]
    before = counts(family.server)
    seen = family.teacher.get(base + "/office/reports")  # the child's teacher sees it …
    assert f'data-report="{report_id}"' in seen.text
    assert f'id="report-accept-{report_id}"' not in seen.text
    refused = office_post(family.teacher, base, f"/office/reports/{report_id}/accept")
    assert refused.status_code == 403  # … deciding is the director's
    assert counts(family.server) == before
    bare = office_post(family.director, base, f"/office/reports/{report_id}/decline", note=" ")
    assert bare.status_code == 400
    assert problem_code(bare) == "decision_note_missing"
    assert counts(family.server) == before
    declined = office_post(family.director, base, f"/office/reports/{report_id}/decline",
                           note="Bring the certificate")
    assert declined.status_code == 303, declined.text[:2000]
    assert rows(family.server, db.absences, child_id=OTHER) == []
    [decided] = rows(family.server, db.absence_reports, id=report_id)
    assert decided["status"] == "declined"
    assert decided["absence_id"] is None
    mine = family.other_parent.http.get(base + f"/parents/child/{OTHER}").text
    assert f'data-report="{report_id}" data-status="declined"' in mine
    assert "Bring the certificate" in mine
    page = family.director.get(base + "/office/reports").text
    assert f'id="report-accept-{report_id}"' not in page


def test_every_refused_report_writes_nothing(family: Family) -> None:
    base, today = family.server.url, local_date(now_us())
    too_old = earliest_day(today, POLICY) - timedelta(days=1)
    cases = [
        (dict(first=too_old, last=today), 400, "report_too_old"),
        (dict(first=today, last=today + timedelta(days=31)), 400, "report_too_far"),
        (dict(first=today, last=today - timedelta(days=1)), 400, "report_reversed"),
        (dict(first=today, last=today, reason="cancelled"), 400, "bad_reason"),
        (dict(first=today, last=today, note="x" * 501), 400, "note_too_long"),
        (dict(first=today, last=today, document=b"GIF89a" + bytes(100)), 415, "document_type"),
        (dict(first=today, last=today, document=b"\x89PNG\r\n\x1a\n" + bytes(10 * 1024 * 1024)),
         413, "document_too_large"),
        (dict(first=today, last=today, document=b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024)),
         413, "document_too_large"),
        (dict(first=today, last=today, child=STRANGER), 404, "not_found"),
        (dict(first=today, last=today, child="no-such-child"), 404, "not_found"),
        (dict(first=today, last=today, csrf=False), 403, "csrf_invalid"),
    ]
    before = counts(family.server)
    for fields, status, code in cases:
        child = str(fields.pop("child", CHILD))
        answer = send(family.parent, base, child, **fields)  # type: ignore[arg-type]
        assert answer.status_code == status, (code, answer.text[:300])
        assert answer.json()["error"]["code"] == code
    assert counts(family.server) == before
    signed_out = requests.post(base + "/parents/api/absence-report", timeout=10,
                               data={"child_id": CHILD})
    assert signed_out.status_code == 401
    assert counts(family.server) == before


def test_the_window_counts_working_days_back_and_the_policy_sets_it() -> None:
    monday = date(2026, 11, 30)
    assert earliest_day(monday, POLICY) == date(2026, 11, 25)  # Wed: Fri, Thu, Wed back
    text = default_policy_text()
    without = text.replace("report_past_working_days = 3", "")
    assert load_policy(without).report_past_working_days == 3
    one = load_policy(text.replace("report_past_working_days = 3",
                                   "report_past_working_days = 1"))
    assert earliest_day(monday, one) == date(2026, 11, 27)
    with pytest.raises(PolicyError, match="report_past_working_days"):
        load_policy(text.replace("report_past_working_days = 3", "report_past_working_days = 31"))
