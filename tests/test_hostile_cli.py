"""Hostile input at the command line (issue 22): Excel's rosters, huge fields, impossible
birth dates, control characters, a policy of an unknown country or in Windows-1251, texts
longer than their column. Each runs the real `qatys` command and asserts exit 2, the line
named, and that nothing was stored."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from provisioning.iin import generated
from server.datadir import open_data_dir
from server.domain.policy import default_policy_text
from server.storage import db
from tests.helpers import HEADER, Command, qatys_batch, roster_csv, run

ENGLISH = {"QATYS_LANG": "en"}


@dataclass(frozen=True)
class Data:
    path: Path
    child: str
    """A child on the roster of kindergarten HK (absences are recorded for it)."""

    def count(self, table: db.Table) -> int:
        engine = open_data_dir(self.path).engine
        try:
            with engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        finally:
            engine.dispose()

    def stored(self) -> dict[str, int]:
        return {t.name: self.count(t) for t in (db.children, db.roster_imports, db.absences,
                                                db.closures, db.consent_records,
                                                db.guardian_invitations, db.approvals,
                                                db.outbox)}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    base = tmp_path_factory.mktemp("hostile")
    path = base / "data"
    roster = base / "roster.csv"
    text, people = roster_csv(2, prefix="hk")
    roster.write_text(text, encoding="utf-8")
    qatys_batch(Command(["server", "init", "--data", path]),
                Command(["kindergarten", "add", "--data", path, "--code", "HK", "--name", "H"]),
                Command(["kindergarten", "add", "--data", path, "--code", "EMPTY", "--name",
                         "E"]),
                Command(["roster", "import", "--data", path, "--kindergarten", "HK", roster]))
    return Data(path, people[0]["child_id"])


def _row(child_id: str, iin: str, last: str = "Testova", first: str = "Aru",
         born: str = "2020-03-15", group: str = "Group A", enrolled: str = "2025-09-01") -> str:
    return f"{child_id},{iin},{last},{first},{born},{group},age3-full-state,{enrolled},"


def _iin(first_seven: str, nth: int = 0) -> str:
    """A valid IIN beginning with ``first_seven`` (birth date and century digit)."""
    numbers = generated(first_seven)
    for _ in range(nth):
        next(numbers)
    return next(numbers)


def _refused(data: Data, args: list[str]) -> str:
    """Run a command that must be refused: exit 2, nothing stored; its stderr."""
    before = data.stored()
    done = run(*args, "--data", str(data.path), env=ENGLISH, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert data.stored() == before
    return done.stderr


def _import_refused(data: Data, tmp_path: Path, raw: bytes) -> str:
    path = tmp_path / "roster.csv"
    path.write_bytes(raw)
    return _refused(data, ["roster", "import", "--kindergarten", "EMPTY", str(path)])


def test_a_roster_saved_by_excel_in_windows_1251_is_read(data: Data, tmp_path: Path) -> None:
    text = "\r\n".join([HEADER, _row("cp-1", _iin("2003155"), "Иванова", "Аружан"),
                        _row("cp-2", _iin("2003156"), "Ёлкина", "Дана")]) + "\r\n"
    path = tmp_path / "excel.csv"
    path.write_bytes(text.encode("cp1251"))
    run("kindergarten", "add", "--data", str(data.path), "--code", "CP", "--name", "C")
    done = run("roster", "import", "--data", str(data.path), "--kindergarten", "CP", str(path),
               env=ENGLISH)
    assert "2 added" in done.stdout
    engine = open_data_dir(data.path).engine
    with engine.connect() as conn:
        names = sorted(conn.execute(select(db.children.c.last_name)
                                    .where(db.children.c.kindergarten == "CP")).scalars())
    engine.dispose()
    assert names == ["Ёлкина", "Иванова"]


def test_a_semicolon_roster_with_a_bom_is_read(data: Data, tmp_path: Path) -> None:
    text = "\n".join([HEADER, _row("sc-1", _iin("2003155", 2), "Сәрсен", "Әлия")]) + "\n"
    path = tmp_path / "semicolon.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace(",", ";").encode("utf-8"))
    run("kindergarten", "add", "--data", str(data.path), "--code", "SC", "--name", "S")
    done = run("roster", "import", "--data", str(data.path), "--kindergarten", "SC", str(path),
               env=ENGLISH)
    assert "1 added" in done.stdout


def test_windows_1251_that_lost_kazakh_letters_is_refused_naming_the_line(
        data: Data, tmp_path: Path) -> None:
    text = "\n".join([HEADER, _row("q-1", _iin("2003155"), "Иванова", "Аружан"),
                      _row("q-2", _iin("2003156"), "Сәрсен", "Әлия")]) + "\n"
    told = _import_refused(data, tmp_path, text.encode("cp1251", errors="replace"))
    assert "line 3 has '?'" in told
    assert "CSV UTF-8" in told
    assert "line 2" not in told


def test_text_neither_utf8_nor_windows_1251_is_refused_naming_the_line(
        data: Data, tmp_path: Path) -> None:
    good = "\n".join([HEADER, _row("x-1", _iin("2003155"))]).encode("utf-8")
    told = _import_refused(data, tmp_path, good + b"\n" + _row("x-2", _iin("2003156"))
                           .encode("ascii").replace(b"Testova", b"Test\x89\x99va") + b"\n")
    assert "line 3 is neither UTF-8 nor Windows-1251" in told
    told = _import_refused(data, tmp_path, b"\xef\xbb\xbf" + good + b"\n\xff\xfe\n")
    assert "line 3 is not UTF-8 although the file begins as UTF-8" in told


def test_a_10_mb_field_is_refused_naming_the_line(data: Data, tmp_path: Path) -> None:
    text = "\n".join([HEADER, _row("big-1", _iin("2003155")),
                      _row("big-2", _iin("2003156"), last="A" * 10_000_000)]) + "\n"
    told = _import_refused(data, tmp_path, text.encode("ascii"))
    assert "line 3 cannot be read as CSV" in told
    assert "Traceback" not in told


def test_impossible_births_and_control_characters_are_refused_line_by_line(
        data: Data, tmp_path: Path) -> None:
    lines = [HEADER,
             _row("ok-1", _iin("2003155")),                                       # 2
             _row("future", _iin("9001016"), born="2090-01-01"),               # 3
             _row("early", _iin("2405055"), born="2024-05-05", enrolled="2023-09-01"),  # 4
             _row("old", _iin("0001011"), born="1800-01-01"),                     # 5
             _row("other", _iin("1505205")),                                      # 6
             _row("nul", _iin("2003156"), first="Aru\x00zhan"),                # 7
             _row("rtl", _iin("2003155", 2), last="Test\u202eova"),             # 8
             _row("long", _iin("2003155", 3), group="G" * 150)]             # 9
    told = _import_refused(data, tmp_path, ("\n".join(lines) + "\n").encode("utf-8"))
    assert "nothing imported" in told
    for expected in ("line 3: birth_date 2090-01-01 is in the future",
                     "line 4: birth_date 2024-05-05 is after enrolled_on 2023-09-01",
                     "line 5: birth_date 1800-01-01 is before 2000-01-01",
                     "line 6: birth_date 2020-03-15 is not the date the iin begins with "
                     "(2015-05-20)",
                     "line 7: first_name holds the control character U+0000",
                     "line 8: last_name holds the control character U+202E",
                     "line 9: group must be 1-100 characters"):
        assert expected in told, told
    assert "line 2" not in told


def _policy(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "policy.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_a_policy_of_an_unknown_country_is_refused_naming_the_line(
        data: Data, tmp_path: Path) -> None:
    text = default_policy_text()
    line = text.splitlines().index('country = "KZ"') + 1
    path = _policy(tmp_path, text.replace('country = "KZ"', 'country = "XX"'))
    out = tmp_path / "statement.json"
    told = _refused(data, ["funding", "statement", "--kindergarten", "HK", "--month", "2026-01",
                           "--format", "json", "--out", str(out), "--policy", str(path)])
    assert f"line {line}: [calendar] country 'XX' is not a country code" in told
    assert not out.exists()


def test_a_policy_saved_in_windows_1251_is_refused_naming_the_line(
        data: Data, tmp_path: Path) -> None:
    text = default_policy_text().replace("# Norm amounts", "# Нормы: Norm amounts")
    line = next(n for n, t in enumerate(text.splitlines(), start=1) if "Нормы" in t)
    path = _policy(tmp_path, text.encode("cp1251", errors="replace"))
    out = tmp_path / "statement.json"
    told = _refused(data, ["funding", "statement", "--kindergarten", "HK", "--month", "2026-01",
                           "--format", "json", "--out", str(out), "--policy", str(path)])
    assert f"line {line}: the file is not UTF-8 text" in told
    assert not out.exists()


@pytest.mark.parametrize("option", ["--document", "--by"])
def test_an_absence_text_longer_than_its_column_is_refused(data: Data, option: str) -> None:
    told = _refused(data, ["absence", "add", "--child", data.child, "--from", "2026-01-12",
                           "--to", "2026-01-13", "--reason", "illness", option, "д" * 300])
    assert f"{option} is 300 characters long; at most 200 are stored" in told


def test_an_absence_document_of_200_characters_is_stored(data: Data) -> None:
    before = data.count(db.absences)
    run("absence", "add", "--data", str(data.path), "--child", data.child, "--from",
        "2026-01-12", "--to", "2026-01-13", "--reason", "illness", "--document", "д" * 200)
    assert data.count(db.absences) == before + 1


@pytest.mark.parametrize(("option", "length", "limit"), [("--by", 201, 200),
                                                          ("--reason", 1001, 1000)])
def test_a_closure_text_longer_than_its_column_is_refused(data: Data, option: str, length: int,
                                                          limit: int) -> None:
    args = {"--by": "administrator", "--reason": "repairs", option: "x" * length}
    told = _refused(data, ["closure", "add", "--kindergarten", "HK", "--from", "2026-01-12",
                           "--to", "2026-01-13", "--reason", args["--reason"], "--by",
                           args["--by"]])
    assert f"{option} is {length} characters long; at most {limit} are stored" in told


@pytest.mark.parametrize(("args", "option", "limit"), [
    (["consent", "grant", "--paper", "p" * 201], "--paper", 200),
    (["consent", "grant", "--paper", "scan-1", "--by", "d" * 65], "--by", 64),
    (["guardian", "invite", "--by", "d" * 65], "--by", 64),
])
def test_a_families_text_longer_than_its_column_is_refused(data: Data, args: list[str],
                                                           option: str, limit: int) -> None:
    told = _refused(data, [*args, "--child", data.child])
    assert f"{option} is {limit + 1} characters long; at most {limit} are stored" in told


def test_an_approver_longer_than_its_column_is_refused(data: Data) -> None:
    told = _refused(data, ["funding", "approve", "--kindergarten", "HK", "--month", "2026-01",
                           "--by", "f" * 65])
    assert "--by is 65 characters long; at most 64 are stored" in told
