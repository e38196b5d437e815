"""The typed states (StrEnums) keep the values the docs list, byte for byte: they are stored in
the databases, sent in JSON and CBOR, and printed by the commands."""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import text

from protocol import canonical
from protocol.errors import AnswerRefusal, CardRefusal, ReleaseRefusal
from protocol.events import Assurance, Direction, EventKind, Method, SystemEvent
from protocol.faces import EraseReason
from protocol.health import CameraState
from protocol.phone import PickupRelation
from protocol.roster import CONSENT_STATUSES, ConsentStatus
from server.domain import face_consent, policy
from server.domain.anomalies import AnomalyRule, OutageKind
from server.domain.calendar import DayKind
from server.domain.funding import DayMark
from server.domain.policy import REASONS as POLICY_REASONS
from server.domain.today import ChildState
from server.families import consent
from server.families.confirmations import ConfirmationKind
from server.families.consent import ConsentAction, ConsentSource
from server.families.face_templates import UploadOutcome
from server.families.withdrawals import NoticeOutcome
from server.i18n import catalogue
from server.i18n.words import Words
from server.jobs.queue import JobStatus
from server.money.approvals import ApprovalStatus
from server.queue_core.outbox import OutboxStatus, SubmissionKind
from server.queue_core.roster_pull import PullOutcome
from server.registry import records
from server.registry.records import ABSENCE_CHOICES, ABSENCE_REASONS, AbsenceReason
from server.staff.accounts import ROLES, Role
from server.storage.db import BindingKind, BodyStatus, make_engine
from server.web.openapi import document
from terminal.checkin import DoorResult
from terminal.cli import SelfcheckResult
from terminal.errors import CheckinRefusal, FaceRefusal, UnlockRefusal
from terminal.faces.door import REASON_OF_RESULT, FaceScanRefusal
from terminal.faces.engine import FrameReading
from terminal.faces.enrolment import CONSENT_REFUSAL
from terminal.faces.liveness import SpoofSign
from terminal.faces.matching import FaceVerdict
from terminal.faces.vault import ERASE_REASONS
from terminal.kiosk.first_boot import DeskState
from terminal.kiosk.pin import PinVerdict
from terminal.scan import ScanRefusal
from terminal.sync import AnswerKind, FacesStep, RosterStep, SyncResult
from terminal.updater import UpdateResult
from tests.postgres import Cluster

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _check_bundle() -> ModuleType:
    """hardware/check-bundle.py, which imports nothing of Qatys and so has its own codes."""
    spec = importlib.util.spec_from_file_location("check_bundle",
                                                  ROOT / "hardware" / "check-bundle.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECK_BUNDLE = _check_bundle()
BundleRefusal: type[StrEnum] = CHECK_BUNDLE.Refusal


def _doc(name: str) -> str:
    return " ".join((DOCS / name).read_text(encoding="utf-8").split())


def _alternatives(values: Iterable[object], quoted: bool = True) -> str:
    """How the docs write a choice of values: "a"\\|"b"\\|"c" (a table cell escapes the bar)."""
    return "\\|".join(f'"{v}"' if quoted else str(v) for v in values)


def _ticked(values: Iterable[object]) -> str:
    return ", ".join(f"`{v}`" for v in values)


@pytest.mark.parametrize(("doc", "listed"), [
    ("cli.md", f'"roster": {_alternatives(RosterStep)}'),
    ("cli.md", f'"faces": {_alternatives(FacesStep)}'),
    ("cli.md", f"({_ticked(AnswerKind)})"),
    ("cli.md", f"status: {_alternatives(ConsentStatus, quoted=False)}"),
    ("cli.md", f"`reason` {_alternatives(ERASE_REASONS, quoted=False)}"),
    ("cli.md", f'"result": {_alternatives(FaceVerdict)}'),
    ("cli.md", f"--role {_alternatives(Role, quoted=False)}"),
    ("cli.md", f'`"result": {_alternatives(UpdateResult)}`'),
    ("cli.md", f'`{{"result": {_alternatives(SelfcheckResult)}, "version"'),
    ("cli.md", f"--reason {_alternatives(ABSENCE_REASONS, quoted=False)} "),
    ("cli.md", f"(or `--reason {AbsenceReason.CANCELLED}`)"),
    ("queue-core.md", f'"result": {_alternatives(PullOutcome)}'),
    ("queue-core.md", f'"status": {_alternatives(OutboxStatus)}'),
    ("queue-core.md", f'`"kind": {_alternatives(SubmissionKind)}` (the one kind'),
    ("queue-core.md", f'{{"kind": "{SubmissionKind.FUNDING_STATEMENT}", "kindergarten"'),
    ("finance.md", f'"status": {"|".join(f"{chr(34)}{s}{chr(34)}" for s in JobStatus)}'),
    ("api.md", f'"camera": {_alternatives(CameraState)}'),
    ("api.md", f'{{"outcome": {_alternatives(NoticeOutcome)}}}'),
    ("api.md", f'`201 {{"outcome": "{UploadOutcome.STORED}"}}`, the same again '
               f'`200 {{"outcome": "{UploadOutcome.ALREADY}"}}`'),
    ("protocol.md", f"| `kind` | text | {_ticked(EventKind)} |"),
    ("protocol.md", f"| `method` | text | {_ticked(Method)} |"),
    ("protocol.md", f"| `assurance` | text | {_ticked(Assurance)} |"),
    ("faces.md", "`frames` says what each was "
                 f"({_ticked(r for r in FrameReading if r != FrameReading.OK)})"),
    ("cli.md", f"{_ticked(FaceScanRefusal)} send the family to the QR card"),
    ("cli.md", f"what gave a spoof away: {_ticked(SpoofSign)})"),
    ("kiosk.md", f'"state": {"|".join(f"{chr(34)}{s}{chr(34)}" for s in DeskState)},'),
])
def test_the_docs_list_exactly_these_values(doc: str, listed: str) -> None:
    assert listed in _doc(doc)


def test_the_values_the_docs_name_one_by_one() -> None:
    cli, protocol = _doc("cli.md"), _doc("protocol.md")
    happened = re.search(r"`reason` says what happened: (.*?)\. ", protocol)
    assert happened is not None
    assert [w.split()[0] for w in re.findall(r"`([^`]+)`", happened.group(1))] == \
        [e.value for e in SystemEvent]
    for refusal in AnswerRefusal:
        assert f"`{refusal}`" in protocol + cli, refusal
    for listed in re.findall(r'"result": ((?:"[a-z_]+"(?:\\\|)?)+)', cli):
        values = set(re.findall(r'"([a-z_]+)"', listed))
        if DoorResult.ACCEPTED in values:  # `terminal scan`, `face scan`
            assert values <= {r.value for r in DoorResult}, values
    for result in (DoorResult.ENROLLED, DoorResult.WITHDRAWN):
        assert f'"result": "{result}"' in cli
    assert '"direction": ' + "|".join(f'"{d}"' for d in Direction) in cli


def test_the_outage_periods_are_those_the_docs_list() -> None:
    periods = re.findall(r"`([a-z_]+)` \(from `([a-z_]+)` to `([a-z_]+)`\)", _doc("anomalies.md"))
    assert [kind for kind, _, _ in periods] == list(OutageKind)
    storage = {SystemEvent.STORAGE_LOW, SystemEvent.STORAGE_FULL, SystemEvent.STORAGE_OK}
    assert {e for _, start, end in periods for e in (start, end)} == set(SystemEvent) - {
        SystemEvent.POWER_ON, SystemEvent.KIOSK_START, *storage}
    assert all(f"`{level}`" in _doc("anomalies.md") for level in storage)  # levels, not periods


def _section(doc: str, title: str) -> set[str]:
    """The codes (`like_this`) a section of a doc names."""
    text = (DOCS / doc).read_text(encoding="utf-8").split(f"## {title}\n", 1)[1].split("\n## ")[0]
    return set(re.findall(r"`([a-z_]+)`", text))


def test_the_refusals_are_those_the_docs_list() -> None:
    assert _section("cli.md", "Scan refusals") == {
        *CardRefusal, *ScanRefusal, CheckinRefusal.UNKNOWN_CHILD, CheckinRefusal.TERMINAL_REVOKED,
        CheckinRefusal.STORAGE_FULL, CheckinRefusal.STORAGE_READONLY,
        CheckinRefusal.STORE_DAMAGED}
    assert _section("cli.md", "Unlock refusals") == set(UnlockRefusal)
    refused = _doc("cli.md").split("Refused: `{\"result\": \"rejected\"", 1)[1].split("(exit 4)")[0]
    # bad_method only guards the code's own callers: no command or page can send another
    assert set(re.findall(r"`([a-z_]+)`", refused)) == set(CheckinRefusal) - {"bad_method"}


def _first_cells(doc: str, title: str) -> set[str]:
    """The codes in the first column of a section's table."""
    text = (DOCS / doc).read_text(encoding="utf-8").split(f"## {title}\n", 1)[1].split("\n## ")[0]
    return {code for line in text.splitlines() if line.startswith("| `")
            for code in re.findall(r"`([a-z_]+)`", line.split("|")[1])}


def test_the_face_refusals_are_those_the_docs_list() -> None:
    withdrawal = {FaceRefusal.BAD_CHILD_ID, FaceRefusal.TOO_LONG}
    assert _first_cells("faces.md", "Enrolment") == set(FaceRefusal) - withdrawal | {"face_busy"}
    refuses = _doc("faces.md").split("The terminal refuses a withdrawal", 1)[1].split(". ")[0]
    assert set(re.findall(r"`([a-z][a-z_]+)`", refuses)) == withdrawal | {FaceRefusal.UNKNOWN_CHILD}
    # every status but granted has its refusal; withdrawn and expired read consent_<status>
    assert set(CONSENT_REFUSAL) == set(ConsentStatus) - {ConsentStatus.GRANTED}
    for status in (ConsentStatus.WITHDRAWN, ConsentStatus.EXPIRED):
        assert CONSENT_REFUSAL[status] == f"consent_{status}"


def test_the_release_refusals_are_those_the_docs_list() -> None:
    readme = " ".join((ROOT / "hardware" / "README.md").read_text(encoding="utf-8").split())
    assert f"2 refused (`code`: {', '.join(ReleaseRefusal)})" in readme
    # the installer's check, before any Qatys code runs, says some of the same codes
    assert {r.value for r in BundleRefusal} <= {r.value for r in ReleaseRefusal}
    said = " ".join((CHECK_BUNDLE.__doc__ or "").split())
    assert f"(CODE one of {', '.join(BundleRefusal)})" in said


def test_wire_and_storage_sets_hold_the_values() -> None:
    assert CONSENT_STATUSES == ("granted", "withdrawn", "expired")
    assert ERASE_REASONS == ("withdrawn", "expired", "left", "replaced", "no_consent",
                             "refused")
    assert ROLES == ("finance", "director", "teacher", "operator", "auditor", "admin")
    assert all(type(role) is str for role in ROLES)  # click's choices take text, not members
    assert EraseReason.UNKNOWN not in ERASE_REASONS
    assert ABSENCE_CHOICES == ("illness", "quarantine", "sanatorium", "leave", "other",
                              "cancelled")
    assert all(type(reason) is str for reason in ABSENCE_CHOICES)
    assert ABSENCE_CHOICES[:-1] == ABSENCE_REASONS
    assert (*POLICY_REASONS, "other") == ABSENCE_REASONS  # the policy's, and one never paid


def test_the_anomaly_rules_are_those_the_docs_list() -> None:
    table = (DOCS / "anomalies.md").read_text(encoding="utf-8").split("| rule |", 1)[1]
    rows = table.split("\n\n", 1)[0].splitlines()
    assert [re.findall(r"`([a-z_]+)`", row.split("|")[1])[0] for row in rows[2:]] == \
        list(AnomalyRule)


def test_the_openapi_document_lists_the_members() -> None:
    paths = document()["paths"]

    def field(path: str, name: str) -> list[str]:
        schema = paths[path]["post"]["requestBody"]["content"]
        body = schema.get("application/json") or schema["multipart/form-data"]
        return list(body["schema"]["properties"][name]["enum"])

    assert field("/parents/api/consent", "action") == list(ConsentAction)
    assert field("/parents/api/month", "kind") == list(ConfirmationKind)
    assert field("/parents/api/absence-report", "reason") == list(ABSENCE_REASONS)


def test_each_state_has_one_home() -> None:
    """A state the domain needs lives there; the service exports the same class."""
    assert records.AbsenceReason is policy.AbsenceReason
    assert consent.ConsentAction is face_consent.ConsentAction
    assert set(REASON_OF_RESULT.values()) == set(FaceScanRefusal)


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_every_state_shown_to_people_has_words(lang: str) -> None:
    """The words key on the members' values (server/i18n/words.py cannot import every
    service that owns a state): each one shown has its words, none is shown as its code."""
    words = Words(catalogue(lang))
    shown: list[tuple[Callable[[str], str], Iterable[str]]] = [
        (words.role, Role), (words.approval, ApprovalStatus), (words.delivery, OutboxStatus),
        (words.consent, ConsentStatus), (words.assurance, Assurance),
        (words.method, set(Method) - {Method.SYSTEM}), (words.camera, CameraState),
        (words.ledger, SystemEvent), (words.rule, AnomalyRule),
        (words.reason, [*ABSENCE_REASONS, *(set(DayKind) - {DayKind.WORKING})]),
        (words.consent_source, set(ConsentSource))]
    for say, states in shown:
        for state in states:
            assert say(state) != state, (say.__name__, state)


ALL = (AnswerRefusal, Assurance, Direction, EventKind, Method, SystemEvent, EraseReason,
       CameraState, ConsentStatus, Role, JobStatus, OutboxStatus, PullOutcome, DoorResult,
       FaceVerdict, AnswerKind, FacesStep, RosterStep, SyncResult, ApprovalStatus, BodyStatus,
       ConsentAction, ConsentSource, UploadOutcome, NoticeOutcome, PinVerdict, DayMark, DayKind,
       CardRefusal, ScanRefusal, CheckinRefusal, UnlockRefusal, FaceRefusal, AbsenceReason,
       OutageKind, SubmissionKind, ReleaseRefusal, UpdateResult, SelfcheckResult,
       BundleRefusal, FrameReading, AnomalyRule, ConfirmationKind,
       FaceScanRefusal, SpoofSign, DeskState, ChildState, BindingKind, PickupRelation)


@pytest.mark.parametrize("enum", ALL, ids=lambda e: e.__name__)
def test_a_state_is_its_value_everywhere(enum: type[StrEnum]) -> None:
    """JSON, CBOR, f-strings and SQLite all see the plain value."""
    for member in enum:
        assert json.dumps({"k": member}) == json.dumps({"k": member.value})
        assert canonical.encode({"k": member}) == canonical.encode({"k": member.value})
        assert f"{member}" == str(member) == member.value
        with sqlite3.connect(":memory:") as conn:
            conn.execute("CREATE TABLE t (v TEXT)")
            conn.execute("INSERT INTO t VALUES (?)", (member,))
            assert conn.execute("SELECT v, typeof(v) FROM t WHERE v = ?",
                                (member.value,)).fetchone() == (member.value, "text")


@pytest.mark.postgres
def test_postgresql_stores_a_state_as_its_value(pg_cluster: Cluster) -> None:
    engine = make_engine(pg_cluster.create_database("states"))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (v TEXT)"))
            for enum in ALL:
                for member in enum:
                    conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": member})
            stored = list(conn.execute(text("SELECT v FROM t")).scalars())
            assert stored == [m.value for enum in ALL for m in enum]
            assert conn.execute(text("SELECT count(*) FROM t WHERE v = :v"),
                                {"v": OutboxStatus.PENDING}).scalar() == 1
    finally:
        engine.dispose()
