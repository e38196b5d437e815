"""The Raspberry Pi path, proven on this machine through qemu-user: the ``linux_aarch64``
bundle installed by hardware/install-terminal.sh in a Debian 12 arm64 system and used there —
``qatys --version``, ``qatys terminal selfcheck``, every compiled module an aarch64 build that
imports, enrolment against a server on this machine, a card picture and a phone-code
screenshot scanned, a face enrolled and identified from the shared pictures, sync, and
``qatys-update apply`` of a newer bundle then ``rollback``.

Built and run in the background by tests/arm64_install.py (slow under emulation: see its
``timings``); these tests read what it recorded. Skipped where qemu-user is missing, required
under ``make test`` (QATYS_REQUIRE_ARM64=1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.arm64_install import CHILD_CARD, CHILD_FACE, CHILD_PHONE
from tests.browser import artefact

pytestmark = pytest.mark.timeout(2700)
"""The first test waits for the background build (the fixture's own limit is 40 minutes)."""


@pytest.fixture(scope="module")
def result(arm64_build: Path) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads((arm64_build / "result.json").read_text())
    log = (arm64_build / "log.txt").read_text(errors="replace") if (
        arm64_build / "log.txt").exists() else ""
    # kept beside the kiosk screenshots, of a failed build too (how far it got, how long each
    # phase took): the wall times docs/performance.md quotes
    artefact("arm64-timings.json").write_text(json.dumps(
        {"cached_debian": recorded.get("cached_debian"), "failed": "failed" in recorded,
         "seconds": recorded.get("timings", {})}, indent=1))
    assert "failed" not in recorded, (recorded, log[-3000:])
    assert recorded["install_exit"] == 0, (recorded, log[-3000:])
    return recorded


def _lines(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in answer["stdout"].splitlines()
            if line.startswith("{")]


def _step(result: dict[str, Any], *args: str) -> dict[str, Any]:
    """The batch's answer to the qatys command beginning with ``args``."""
    for answer in result["answers"]:
        if answer["step"].get("qatys", [])[:len(args)] == list(args):
            assert "error" not in answer, answer["error"]
            return dict(answer)
    raise AssertionError(f"the batch did not get to qatys {' '.join(args)}: "
                         f"{result['batch']['stderr']}")


def test_the_aarch64_release_installs_and_starts(result: dict[str, Any]) -> None:
    assert result["version"]["exit"] == 0, result["version"]
    assert result["version"]["stdout"].startswith("qatys, version 0.1.0")
    check = result["selfcheck"]
    assert check["exit"] == 0, check
    assert json.loads(check["stdout"].strip().splitlines()[-1])["result"] == "ok"


def test_every_compiled_module_is_an_aarch64_build_and_loads(result: dict[str, Any]) -> None:
    files = result["native_files"]
    assert len(files) > 50, files  # numpy, OpenCV, dlib, zxing-cpp, cryptography, …
    foreign = {name: kind for name, kind in files.items()
               if "ELF" in kind and "ARM aarch64" not in kind}
    assert foreign == {}
    for wheel in ("numpy", "cv2", "dlib", "zxingcpp", "cryptography"):
        assert any(name.split("/")[2].startswith((wheel, f"_{wheel}")) for name in files), wheel
    machine = result["answers"][0]
    assert machine["machine"] == "aarch64", machine
    assert machine["python"].startswith("3.11."), machine
    failed = {name: m["error"] for name, m in machine["modules"].items() if "error" in m}
    assert failed == {}
    assert machine["server_packages"] == []  # a terminal's release: the base set only


def test_the_arm64_terminal_enrols_scans_identifies_and_syncs(result: dict[str, Any]) -> None:
    assert result["batch"]["exit"] == 0, result["batch"]
    assert [a["error"] for a in result["answers"] if "error" in a] == []
    for args in (("terminal", "enroll"), ("terminal", "selfcheck")):
        assert _step(result, *args)["code"] == 0, _step(result, *args)
    enrolled = _lines(_step(result, "terminal", "selfcheck"))[-1]
    assert (enrolled["result"], enrolled["enrolled"]) == ("ok", True), enrolled

    face = _step(result, "face", "enroll")
    assert face["code"] == 0, face
    identified = _step(result, "face", "identify")
    assert identified["code"] == 0, identified
    match = _lines(identified)[-1]
    assert (match["result"], match["child_id"]) == ("match", CHILD_FACE), match

    scans = _step(result, "terminal", "scan")
    assert scans["code"] == 0, scans
    card, screen = _lines(scans)
    assert (card["result"], card["method"], card["child_id"]) == (
        "accepted", "qr-card", CHILD_CARD), card
    assert (screen["result"], screen["method"], screen["child_id"]) == (
        "accepted", "qr-phone", CHILD_PHONE), screen

    synced = [a for a in result["answers"] if a["step"].get("qatys", [])[:2] == ["terminal",
                                                                             "sync"]]
    assert len(synced) == 2
    assert all(a["code"] == 0 for a in synced), synced
    on_server = {(e["child_id"], e["method"]) for e in result["server_events"]}
    assert {(CHILD_CARD, "qr-card"), (CHILD_PHONE, "qr-phone")} <= on_server, on_server


def test_qatys_update_applies_a_newer_aarch64_bundle_and_rolls_back(
        result: dict[str, Any]) -> None:
    applied = result["apply"]
    assert applied["exit"] == 0, applied
    assert json.loads(applied["stdout"].strip().splitlines()[-1])["version"] == "0.1.1"
    after = json.loads(result["status_after_apply"]["stdout"])
    assert (after["current"], after["previous"]) == ("0.1.1", "0.1.0"), after
    back = result["rollback"]
    assert back["exit"] == 0, back
    status = json.loads(result["status_after_rollback"]["stdout"])
    assert (status["current"], status["previous"]) == ("0.1.0", "0.1.1"), status
