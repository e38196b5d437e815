"""Absences with their documents and closures in the office, against a real server on SQLite
and PostgreSQL: a director records an illness with a certificate photo and the statement and
the табель change at once; every refusal leaves the database as it was; a teacher works with
own groups only; the certificate opens for who may see the child, sealed in the database;
corrections and cancellations are new rows; a group's closure closes its children's days
only. One real Chromium run fills the form with a photo through the page."""

from __future__ import annotations

import io
import json
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from PIL import Image

from qatys.timeutil import local_date, now_us
from server.domain.calendar import Closure, working_days
from server.domain.funding import AbsenceSpan, ChildInput, compute_statement, leave_days_used
from server.domain.policy import load_policy
from server.storage import db
from tests.browser import Page, artefact
from tests.helpers import (
    ServerProcess,
    add_user,
    browser_login,
    matching_rows,
    open_page,
    page_csrf,
    roster_csv,
    row_counts,
    run,
    staff_session,
    submit_form,
)

PASSWORDS = {"dir1": "director-pass-1", "dir2": "director-pass-2", "teach": "teacher-pass-1"}
POLICY = load_policy(None)


def jpeg(seed: int, size: int = 64) -> bytes:
    """A real small JPEG of noise: bytes found nowhere else."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (size, size), bytes(rng.randrange(256)
                                                         for _ in range(size * size * 3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def png(seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (32, 32), bytes(rng.randrange(256) for _ in range(32 * 32 * 3)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf() -> bytes:
    """A minimal valid one-page PDF."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    body, offsets = b"%PDF-1.4\n", []
    for number, content in enumerate(objects, 1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n".encode() + content + b"\nendobj\n"
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    body += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"\
        .encode()
    return body


def previous_month() -> tuple[int, int]:
    first = local_date(now_us()).replace(day=1) - timedelta(days=1)
    return first.year, first.month


def past_working_days() -> list[date]:
    year, month = previous_month()
    return working_days(year, month, False, POLICY.calendar)


@dataclass(frozen=True)
class Office:
    server: ServerProcess
    base: str
    kg2_a: list[str]
    kg2_b: list[str]


@pytest.fixture(scope="module")
def office(server: ServerProcess) -> Office:
    """KG2 gets a roster of two groups; a director for each kindergarten and a teacher of
    KG2's Group A."""
    text, people = roster_csv(6, prefix="kg2")
    lines = text.splitlines()
    lines = [lines[0], *lines[1:4], *[line.replace(",Group A,", ",Group B,") for line in lines[4:]]]
    roster = server.data_dir / "kg2-roster.csv"
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run("roster", "import", "--data", str(server.data_dir), "--kindergarten", "KG2", str(roster))
    add_user(server, "dir1", "director", PASSWORDS["dir1"], "KG1")
    add_user(server, "dir2", "director", PASSWORDS["dir2"], "KG2")
    add_user(server, "teach", "teacher", PASSWORDS["teach"], "KG2", groups=["Group A"])
    ids = [p["child_id"] for p in people]
    return Office(server, f"http://127.0.0.1:{server.port}", ids[:3], ids[3:])


@pytest.fixture(scope="module")
def dir1(office: Office) -> requests.Session:
    return staff_session(office.base, "dir1", PASSWORDS["dir1"])


@pytest.fixture(scope="module")
def dir2(office: Office) -> requests.Session:
    return staff_session(office.base, "dir2", PASSWORDS["dir2"])


@pytest.fixture(scope="module")
def teach(office: Office) -> requests.Session:
    return staff_session(office.base, "teach", PASSWORDS["teach"])


def counts(server: ServerProcess) -> dict[str, int]:
    return row_counts(server, db.absences, db.documents, db.audit_trail, db.closures)


rows = matching_rows


def post_absence(session: requests.Session, base: str, fields: dict[str, str],
                 document: tuple[str, bytes, str] | None = None,
                 path: str = "/office/absences") -> requests.Response:
    page = session.get(base + "/office/absences")
    assert page.status_code == 200, page.text
    files = {"document": document or ("", b"", "application/octet-stream")}
    return session.post(base + path, data={"csrf": page_csrf(page.text), **fields}, files=files,
                        allow_redirects=False)


def problem_code(response: requests.Response) -> str:
    found = re.search(r'id="problem" data-code="([a-z_]+)"', response.text)
    return found.group(1) if found else ""


def why(server: ServerProcess, garden: str, child: str) -> list[dict[str, object]]:
    year, month = previous_month()
    out = run("funding", "why", "--data", str(server.data_dir), "--kindergarten", garden,
              "--month", f"{year:04d}-{month:02d}", "--child", child).stdout.splitlines()
    return [json.loads(line) for line in out]


def closed_days(server: ServerProcess, child: str) -> set[str]:
    """The days of the past month KG2's ``child`` was closed for."""
    return {str(e["date"]) for e in why(server, "KG2", child)[:-1]
            if e["reason"] == "closure"}


def record_id(response: requests.Response) -> int:
    assert response.status_code == 303, response.text[:2000]
    found = re.search(r"done=([0-9]+)", response.headers["Location"])
    assert found is not None
    return int(found.group(1))


# --- the domain (pure) ----------------------------------------------------------------------

def test_a_group_closure_closes_that_groups_days_only() -> None:
    days = working_days(2026, 3, False, POLICY.calendar)
    children = [ChildInput("a-1", "age3-full-state", date(2025, 9, 1), None, "Group A"),
                ChildInput("b-1", "age3-full-state", date(2025, 9, 1), None, "Group B")]
    closure = Closure(days[2], days[3], "repairs", "Group B")
    plain = compute_statement("KG", 2026, 3, False, [], POLICY, children, {}, [])
    closed = compute_statement("KG", 2026, 3, False, [closure], POLICY, children, {}, [])
    lines = {c.child_id: c for c in closed.children}
    assert closed.working_days == plain.working_days == len(days)
    assert lines["a-1"].working_days == len(days)
    assert lines["b-1"].working_days == len(days) - 2
    assert [d.mark for d in lines["b-1"].days if d.day == days[2]] == ["non_working"]
    assert [d.mark for d in lines["a-1"].days if d.day == days[2]] == ["absent"]
    # deterministic: the same inputs in another order give the same bytes; the closure counts
    again = compute_statement("KG", 2026, 3, False, [closure], POLICY, children[::-1], {}, [])
    assert again.to_json() == closed.to_json()
    assert closed.inputs_digest != plain.inputs_digest
    # a month without groups' closures or uploaded documents keeps its digest's listing
    legacy = compute_statement("KG", 2026, 3, False, [Closure(days[0], days[0], "x")], POLICY,
                               [ChildInput("a-1", "age3-full-state", date(2025, 9, 1))], {}, [])
    same = compute_statement("KG", 2026, 3, False, [Closure(days[0], days[0], "x")], POLICY,
                             [children[0]], {}, [])
    assert legacy.inputs_digest == same.inputs_digest


def test_an_uploaded_certificate_makes_an_illness_paid_and_other_is_never_paid() -> None:
    days = working_days(2026, 3, False, POLICY.calendar)
    child = [ChildInput("a-1", "age3-full-state", date(2025, 9, 1), None, "Group A")]
    assert POLICY.illness_requires_document
    for span, paid in [(AbsenceSpan("ABS-1", "a-1", days[0], days[1], "illness"), 0),
                       (AbsenceSpan("ABS-1", "a-1", days[0], days[1], "illness", "", 7), 2),
                       (AbsenceSpan("ABS-1", "a-1", days[0], days[1], "other", "", 7), 0)]:
        line = compute_statement("KG", 2026, 3, False, [], POLICY, child, {}, [span]).children[0]
        assert line.paid_absence_days == paid
    leave = [AbsenceSpan("ABS-2", "a-1", days[0], days[4], "leave")]
    assert leave_days_used(2026, 3, False, [], POLICY, child, {}, leave) == {"a-1": 5}


# --- the pages, on SQLite and PostgreSQL ----------------------------------------------------

def test_director_records_an_illness_with_a_certificate(office: Office,
                                                        dir1: requests.Session,
                                                        dir2: requests.Session) -> None:
    server, base = office.server, office.base
    child, days = "child-00010-x7q", past_working_days()[:2]
    before = why(server, "KG1", child)
    marks = {e["date"]: e["mark"] for e in before[:-1]}
    assert {marks[d.isoformat()] for d in days} == {"absent"}
    photo = jpeg(1)
    answer = post_absence(dir1, base, {"child": child, "from": days[0].isoformat(),
                                       "to": days[1].isoformat(), "reason": "illness"},
                          ("certificate.jpg", photo, "image/jpeg"))
    new_id = record_id(answer)
    after = why(server, "KG1", child)
    marks = {e["date"]: e["mark"] for e in after[:-1]}
    assert {marks[d.isoformat()] for d in days} == {"paid_absence"}
    assert after[-1]["paid_absence_days"] == int(str(before[-1]["paid_absence_days"])) + 2
    assert Decimal(str(after[-1]["amount"])) > Decimal(str(before[-1]["amount"]))
    # the табель: the paid illness letter on those days
    year, month = previous_month()
    tabel = dir1.get(f"{base}/finance/k/KG1/{year:04d}-{month:02d}/tabel")
    assert tabel.status_code == 200
    # "why this amount" links the certificate for the director
    drill = dir1.get(f"{base}/finance/k/KG1/{year:04d}-{month:02d}/child/{child}")
    link = f"/office/absences/{new_id}/document"
    assert link in drill.text
    shown = dir1.get(base + link)
    assert shown.status_code == 200
    assert shown.content == photo
    assert shown.headers["Content-Type"] == "image/jpeg"
    assert shown.headers["Content-Disposition"].startswith("inline")
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in shown.headers["Cache-Control"]
    # not for another kindergarten's director
    assert dir2.get(base + link).status_code in (403, 404)
    # the page lists it, in effect, with who
    page = dir1.get(base + "/office/absences")
    assert re.search(rf'data-record="{new_id}" data-state="in_effect"', page.text)
    assert "dir1" in page.text
    # sealed: the photo's bytes are nowhere in the documents table, nor in SQLite's file
    stored = rows(server, db.documents, child_id=child)
    assert len(stored) == 1
    assert stored[0]["media_type"] == "image/jpeg"
    assert photo[200:264] not in bytes(stored[0]["sealed"])  # type: ignore[arg-type]
    sqlite_file = server.data_dir / "server.db"
    if sqlite_file.exists():
        raw = b"".join(p.read_bytes() for p in server.data_dir.glob("server.db*"))
        assert photo[200:264] not in raw
    audit = rows(server, db.audit_trail, subject=f"ABS-{new_id}")
    assert [a["action"] for a in audit] == ["absence_recorded"]


def test_pdf_and_png_certificates_are_taken(office: Office, dir1: requests.Session) -> None:
    days = past_working_days()
    for child, day, (name, content, kind) in [
            ("child-00011-x7q", days[3], ("c.pdf", pdf(), "application/pdf")),
            ("child-00012-x7q", days[3], ("c.png", png(2), "image/png"))]:
        new_id = record_id(post_absence(dir1, office.base, {
            "child": child, "from": day.isoformat(), "to": day.isoformat(),
            "reason": "quarantine"}, (name, content, "application/octet-stream")))
        shown = dir1.get(f"{office.base}/office/absences/{new_id}/document")
        assert shown.headers["Content-Type"] == kind
        assert shown.content == content


def test_every_refusal_changes_nothing(office: Office, dir1: requests.Session,
                                       teach: requests.Session) -> None:
    server, base = office.server, office.base
    days = past_working_days()
    today = local_date(now_us())
    child = "child-00013-x7q"
    record_id(post_absence(dir1, base, {"child": child, "from": days[5].isoformat(),
                                        "to": days[6].isoformat(), "reason": "illness"}))
    span = {"from": days[0].isoformat(), "to": days[0].isoformat(), "reason": "illness"}
    big = b"\xff\xd8\xff" + bytes(10 * 1024 * 1024 - 2)
    cases: list[tuple[requests.Session, dict[str, str], tuple[str, bytes, str] | None, int,
                      str]] = [
        (dir1, {**span, "child": child, "to": (today + timedelta(days=1)).isoformat()}, None,
         400, "future_date"),
        (dir1, {**span, "child": child, "from": days[1].isoformat()}, None, 400,
         "span_reversed"),
        (dir1, {**span, "child": child, "from": (today - timedelta(days=400)).isoformat(),
                "to": today.isoformat()}, None, 400, "span_too_long"),
        (dir1, {**span, "child": child, "from": days[6].isoformat(),
                "to": days[7].isoformat()}, None, 409, "overlapping_absence"),
        (dir1, {**span, "child": "child-99999-zzz"}, None, 404, "unknown_child"),
        (dir1, {**span, "child": office.kg2_a[0]}, None, 403, "not_your_child"),
        (teach, {**span, "child": office.kg2_b[0]}, None, 403, "not_your_child"),
        (dir1, {**span, "child": child}, ("c.gif", b"GIF89a" + bytes(64), "image/jpeg"), 415,
         "document_type"),
        (dir1, {**span, "child": child}, ("c.jpg", big, "image/jpeg"), 413,
         "document_too_large"),
        (dir1, {**span, "child": child, "reason": "cancelled"}, None, 400, "bad_form"),
        (dir1, {**span, "child": child, "from": "1 March"}, None, 400, "bad_form"),
        (dir1, {**span, "child": child, "replaces": "999999"}, None, 404, "unknown_record"),
    ]
    for session, fields, document, status, code in cases:
        before = counts(server)
        answer = post_absence(session, base, fields, document)
        assert (answer.status_code, problem_code(answer)) == (status, code), fields
        assert counts(server) == before, code
    # without the form's token: refused, nothing written
    before = counts(server)
    answer = dir1.post(base + "/office/absences", data={**span, "child": child},
                       allow_redirects=False)
    assert answer.status_code == 400
    assert counts(server) == before


def test_a_teacher_sees_and_records_own_groups_only(office: Office, dir2: requests.Session,
                                                    teach: requests.Session) -> None:
    server, base = office.server, office.base
    day = past_working_days()[8]
    theirs = record_id(post_absence(dir2, base, {
        "child": office.kg2_b[1], "from": day.isoformat(), "to": day.isoformat(),
        "reason": "illness"}, ("c.jpg", jpeg(3), "image/jpeg")))
    page = teach.get(base + "/office/absences")
    assert page.status_code == 200
    assert all(c in page.text for c in office.kg2_a)
    assert not any(c in page.text for c in office.kg2_b)
    assert f'data-record="{theirs}"' not in page.text
    before = counts(server)
    assert teach.get(f"{base}/office/absences/{theirs}/document").status_code == 403
    answer = teach.post(f"{base}/office/absences/{theirs}/cancel",
                        data={"csrf": page_csrf(page.text)}, allow_redirects=False)
    assert answer.status_code == 403
    assert problem_code(answer) == "not_your_child"
    assert counts(server) == before
    # own group: recorded
    mine = record_id(post_absence(teach, base, {
        "child": office.kg2_a[1], "from": day.isoformat(), "to": day.isoformat(),
        "reason": "other"}))
    assert rows(server, db.absences, id=mine)[0]["recorded_by"] == "teach"
    assert teach.get(base + "/office/closures").status_code == 403
    assert 'id="nav-closures"' not in page.text


def test_corrections_and_cancellations_are_new_rows(office: Office,
                                                    dir1: requests.Session) -> None:
    server, base = office.server, office.base
    child, days = "child-00014-x7q", past_working_days()
    first = record_id(post_absence(dir1, base, {
        "child": child, "from": days[0].isoformat(), "to": days[2].isoformat(),
        "reason": "illness"}, ("c.jpg", jpeg(4), "image/jpeg")))
    original = rows(server, db.absences, id=first)[0]
    corrected = record_id(post_absence(dir1, base, {
        "from": days[0].isoformat(), "to": days[1].isoformat(), "reason": "illness",
        "replaces": str(first)}))
    new = rows(server, db.absences, id=corrected)[0]
    assert rows(server, db.absences, id=first)[0] == original
    assert new["replaces"] == first
    assert new["child_id"] == child
    assert new["document_id"] == original["document_id"]  # the certificate stays with it
    marks = {e["date"]: e["mark"] for e in why(server, "KG1", child)[:-1]}
    assert [marks[d.isoformat()] for d in days[:3]] == ["paid_absence", "paid_absence",
                                                         "absent"]
    # a replaced record is not corrected again
    before = counts(server)
    again = post_absence(dir1, base, {"from": days[0].isoformat(), "to": days[0].isoformat(),
                                      "reason": "illness", "replaces": str(first)})
    assert problem_code(again) == "unknown_record"
    assert counts(server) == before
    page = dir1.get(base + "/office/absences")
    cancel = dir1.post(f"{base}/office/absences/{corrected}/cancel",
                       data={"csrf": page_csrf(page.text)}, allow_redirects=False)
    cancellation = record_id(cancel)
    assert rows(server, db.absences, id=cancellation)[0]["reason"] == "cancelled"
    assert rows(server, db.absences, id=corrected)[0] == new
    marks = {e["date"]: e["mark"] for e in why(server, "KG1", child)[:-1]}
    assert {marks[d.isoformat()] for d in days[:3]} == {"absent"}
    page = dir1.get(base + "/office/absences").text
    assert re.search(rf'data-record="{first}" data-state="replaced"', page)
    assert re.search(rf'data-record="{corrected}" data-state="cancelled"', page)
    assert re.search(rf'data-record="{cancellation}" data-state="cancellation"', page)
    actions = [rows(server, db.audit_trail, subject=f"ABS-{i}")[0]["action"]
               for i in (first, corrected, cancellation)]
    assert actions == ["absence_recorded", "absence_corrected", "absence_cancelled"]


def test_leave_days_used_of_the_cap(office: Office, dir1: requests.Session) -> None:
    child, days = "child-00015-x7q", past_working_days()
    record_id(post_absence(dir1, office.base, {
        "child": child, "from": days[0].isoformat(), "to": days[3].isoformat(),
        "reason": "leave"}))
    page = dir1.get(office.base + "/office/absences").text
    assert f'data-child="{child}" data-used="4"' in page
    shown = page.split(f'data-child="{child}" data-used="4"')[1][:200]
    assert re.search(r"4\D+30|30\D+4\b", shown)  # "4 of 30", "30 ішінен 4"


def test_a_group_closure_from_the_page(office: Office, dir2: requests.Session,
                                       teach: requests.Session) -> None:
    server, base = office.server, office.base
    day = past_working_days()[9]
    a_before, b_before = closed_days(server, office.kg2_a[2]), closed_days(server,
                                                                           office.kg2_b[2])
    page = dir2.get(base + "/office/closures")
    assert page.status_code == 200
    assert 'id="closure"' in page.text
    csrf = page_csrf(page.text)
    for fields, code in [({"group": "Group Z"}, "bad_form"), ({"reason": " "}, "bad_form"),
                         ({"to": (day - timedelta(days=1)).isoformat()}, "span_reversed")]:
        before = counts(server)
        answer = dir2.post(base + "/office/closures", data={
            "csrf": csrf, "from": day.isoformat(), "to": day.isoformat(), "reason": "repairs",
            "group": "Group B", **fields}, allow_redirects=False)
        assert problem_code(answer) == code
        assert counts(server) == before
    answer = dir2.post(base + "/office/closures", data={
        "csrf": csrf, "from": day.isoformat(), "to": day.isoformat(), "reason": "repairs",
        "group": "Group B"}, allow_redirects=False)
    closure = record_id(answer)
    assert closed_days(server, office.kg2_a[2]) == a_before
    assert closed_days(server, office.kg2_b[2]) == {*b_before, day.isoformat()}
    listed = dir2.get(base + "/office/closures").text
    assert f'data-record="{closure}" data-group="Group B"' in listed
    assert "dir2" in listed
    assert rows(server, db.audit_trail, subject=f"CL-{closure}")[0]["action"] == \
        "closure_recorded"
    assert teach.post(base + "/office/closures", data={"csrf": csrf}).status_code == 403
    # the command: --group names a group on the roster
    data = str(server.data_dir)
    refused = run("closure", "add", "--data", data, "--kindergarten", "KG2", "--from",
                  day.isoformat(), "--to", day.isoformat(), "--reason", "x", "--group",
                  "Group Z", check=False)
    assert refused.returncode != 0
    assert "Group Z" in refused.stderr
    run("closure", "add", "--data", data, "--kindergarten", "KG2", "--from", day.isoformat(),
        "--to", day.isoformat(), "--reason", "x", "--group", "Group A")
    assert closed_days(server, office.kg2_a[2]) == {*a_before, day.isoformat()}


# --- one real browser (SQLite) --------------------------------------------------------------

@pytest.fixture
def sqlite_only(request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params.get("server") != "sqlite":
        pytest.skip("the browser run uses SQLite; the data parts run on both databases")
    return


def test_director_fills_the_absence_form_in_chromium(office: Office, sqlite_only: None,
                                                     tmp_path: Path) -> None:
    base, child = office.base, "child-00016-x7q"
    day = past_working_days()[10]
    photo = tmp_path / "certificate.png"
    photo.write_bytes(png(5))
    page = Page(tmp_path / "profile")
    try:
        browser_login(page, base, "dir1", PASSWORDS["dir1"])
        open_page(page, base + "/office/absences?lang=ru")
        page.evaluate(f"""(() => {{
            const f = document.querySelector('#absence');
            f.querySelector('#child').value = {json.dumps(child)};
            f.querySelector('#from').value = {json.dumps(day.isoformat())};
            f.querySelector('#to').value = {json.dumps(day.isoformat())};
            f.querySelector('#reason').value = 'illness';
            return true; }})()""")
        assert page.evaluate("document.querySelector('#document').accept") == \
            "image/*,application/pdf"
        page.set_files("#document", photo)
        submit_form(page, "#absence")
        done = page.evaluate("document.querySelector('#done')?.dataset.record")
        assert done
        assert page.evaluate(f"document.querySelector('tr[data-record=\"{done}\"] a.document')"
                             " !== null")
        page.screenshot(artefact("office-absence-ru.png"), full_page=True)
    finally:
        page.close()
    stored = rows(office.server, db.absences, id=int(done))[0]
    assert stored["child_id"] == child
    assert stored["document_id"] is not None
