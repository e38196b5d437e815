"""From check-ins to money, end to end: a real terminal (its clock set to March 2026 with
libfaketime), a real server, absences and a closure → the statement a person computes by hand."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from openpyxl import load_workbook

from tests.helpers import QatysWorker, ServerProcess, run


def _statement(qatys: QatysWorker, server: ServerProcess, out: Path, fmt: str = "json",
               *extra: str) -> str:
    return qatys.run("funding", "statement", "--data", str(server.data_dir), "--kindergarten",
                     "KG1", "--month", "2026-03", "--format", fmt, "--out", str(out),
                     *extra).stdout.strip().splitlines()[-1]


def test_statement_equals_the_hand_computed_one(march: ServerProcess, qatys: QatysWorker,
                                                tmp_path: Path) -> None:
    total = _statement(qatys, march, tmp_path / "s.json")
    statement = json.loads((tmp_path / "s.json").read_text())
    # March 2026: 18 working days, minus the closure on 30–31 March → 16; norm 48,000.
    assert statement["working_days"] == 16
    assert statement["policy_version"] == "kz-default-2026.1"
    lines = {c["child_id"]: c for c in statement["children"]}
    assert len(lines) == 20
    expected = {"child-00001-x7q": (3, 0, "9000.00"),    # 48000 × 3 / 16
                "child-00002-x7q": (1, 0, "3000.00"),    # the Sunday check-in is not paid
                "child-00003-x7q": (1, 3, "12000.00"),   # illness with a certificate
                "child-00004-x7q": (0, 2, "6000.00")}    # corrected leave; illness unpaid
    for child, (present, paid, amount) in expected.items():
        line = lines[child]
        assert (line["present_days"], line["paid_absence_days"], line["amount"]) == \
            (present, paid, amount), child
    assert all(lines[c]["amount"] == "0.00" for c in lines if c not in expected)
    assert statement["total"] == total == "30000.00"


def test_same_inputs_give_the_same_bytes_in_every_format(march: ServerProcess, qatys: QatysWorker,
                                                          tmp_path: Path) -> None:
    for fmt in ("json", "csv", "xlsx", "pdf"):
        _statement(qatys, march, tmp_path / f"a.{fmt}", fmt)
        _statement(qatys, march, tmp_path / f"b.{fmt}", fmt)
        assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes(), fmt
    sheet = load_workbook(tmp_path / "a.xlsx").active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[1][0] == "Бала ID / ID ребёнка"
    assert ["Барлығы / Итого", None, None, None, None, None, 30000.0] in rows
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(tmp_path / "a.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    assert list(tmp_path.glob("page*.png"))


def test_tabel_and_why_this_amount(march: ServerProcess, qatys: QatysWorker,
                                   tmp_path: Path) -> None:
    data = str(march.data_dir)
    qatys.run("tabel", "--data", data, "--kindergarten", "KG1", "--month", "2026-03",
              "--format", "json", "--out", str(tmp_path / "t.json"))
    tabel = json.loads((tmp_path / "t.json").read_text())
    days = {c["child_id"]: {d["date"]: d for d in c["days"]} for c in tabel["children"]}
    assert days["child-00001-x7q"]["2026-03-02"]["code"] == "+р"  # present, manual entry
    assert days["child-00003-x7q"]["2026-03-11"]["code"] == "Б"   # paid illness
    assert days["child-00004-x7q"]["2026-03-02"]["code"] == "б"   # illness, no certificate
    assert days["child-00004-x7q"]["2026-03-18"]["code"] == "Н"   # leave corrected away
    assert days["child-00002-x7q"]["2026-03-08"]["code"] == "·"   # Sunday
    assert days["child-00001-x7q"]["2026-03-31"]["reason"] == "closure"
    qatys.run("tabel", "--data", data, "--kindergarten", "KG1", "--month", "2026-03",
              "--format", "csv", "--out", str(tmp_path / "t.csv"))
    assert (tmp_path / "t.csv").read_text(encoding="utf-8-sig").startswith("Бала ID")
    for fmt in ("xlsx", "pdf"):
        qatys.run("tabel", "--data", data, "--kindergarten", "KG1", "--month", "2026-03",
                  "--format", fmt, "--out", str(tmp_path / f"t.{fmt}"))
    assert load_workbook(tmp_path / "t.xlsx").active is not None
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "t.pdf"),
                    str(tmp_path / "tabel")], check=True, timeout=60)
    assert list(tmp_path.glob("tabel*.png"))

    why = qatys.run("funding", "why", "--data", data, "--kindergarten", "KG1", "--month",
                    "2026-03", "--child", "child-00003-x7q").stdout.splitlines()
    entries = [json.loads(x) for x in why]
    present = [e for e in entries[:-1] if e["mark"] == "present"]
    assert len(present) == 1
    assert present[0]["evidence"][0]["method"] == "manual"
    assert present[0]["evidence"][0]["event_id"].startswith("T-")
    paid = [e for e in entries[:-1] if e["mark"] == "paid_absence"]
    assert [e["date"] for e in paid] == ["2026-03-11", "2026-03-12", "2026-03-13"]
    assert paid[0]["absence_record"].startswith("ABS-")
    assert entries[-1]["amount"] == "12000.00"


def test_bad_money_input_exits_2(march: ServerProcess, qatys: QatysWorker, tmp_path: Path) -> None:
    data = str(march.data_dir)
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "x"\ncurrency = "KZT"\n[calendar]\ncountry = 1\n',
                      encoding="utf-8")
    for args, message in [
        (["funding", "statement", "--data", data, "--kindergarten", "KG1", "--month", "2026-13",
          "--format", "json", "--out", str(tmp_path / "x.json")], "YYYY-MM"),
        (["funding", "statement", "--data", data, "--kindergarten", "NOPE", "--month", "2026-03",
          "--format", "json", "--out", str(tmp_path / "x.json")], "does not exist"),
        (["funding", "statement", "--data", data, "--kindergarten", "KG1", "--month", "2026-03",
          "--format", "json", "--out", str(tmp_path / "x.json"), "--policy", str(policy)],
         "line 4: [calendar] country must be non-empty text"),
        (["absence", "add", "--data", data, "--child", "child-00001-x7q", "--from", "2026-03-05",
          "--to", "2026-03-01", "--reason", "illness"], "is before"),
        (["absence", "add", "--data", data, "--child", "nobody", "--from", "2026-03-05",
          "--to", "2026-03-06", "--reason", "illness"], "no child"),
        (["closure", "add", "--data", data, "--kindergarten", "KG1", "--from", "2026-03-05",
          "--to", "2026-03-06", "--reason", " "], "needs a reason"),
        (["absence", "add", "--data", data, "--child", "child-00001-x7q", "--from",
          "2026-03-05", "--to", "2026-03-06", "--reason", "cancelled"], "--replaces"),
        (["absence", "add", "--data", data, "--child", "child-00001-x7q", "--from",
          "2026-03-05", "--to", "2026-03-06", "--reason", "leave", "--replaces", "9999"],
         "no absence record 9999"),
    ]:
        out = qatys.run(*args, check=False)
        assert out.returncode == 2, args
        assert message in out.stderr, (args, out.stderr)
    assert not (tmp_path / "x.json").exists()


def test_month_end_run_for_every_kindergarten_matches_the_single_statement(
        march: ServerProcess, qatys: QatysWorker, tmp_path: Path) -> None:
    _statement(qatys, march, tmp_path / "single.json")
    out = run("funding", "statements", "--data", str(march.data_dir), "--month", "2026-03",
              "--out-dir", str(tmp_path / "all"), "--workers", "2")
    assert "2 statements" in out.stdout
    assert (tmp_path / "all" / "KG1-2026-03.json").read_bytes() == \
        (tmp_path / "single.json").read_bytes()
    assert json.loads((tmp_path / "all" / "KG2-2026-03.json").read_text())["total"] == "0.00"


def test_anomalies_flag_the_check_in_on_a_closure_day(march: ServerProcess,
                                                      qatys: QatysWorker) -> None:
    out = qatys.run("funding", "anomalies", "--data", str(march.data_dir), "--kindergarten",
                    "KG1", "--month", "2026-03").stdout.splitlines()
    flags = [json.loads(x) for x in out]
    assert [(f["rule"], f["day"]) for f in flags] == [("present_on_closure", "2026-03-30")]
    assert len(flags[0]["event_ids"]) == 1
