"""Statements and табели as files finance staff open: JSON, CSV, XLSX, PDF; KZ and RU headings
from the server's catalogue (server/i18n/), both on one sheet: a file is passed on and read by
people of either language.

Every format is written deterministically (fixed order, fixed metadata dates), so the same
statement gives the same bytes (brief, invariant 7).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from protocol.events import Method
from server.domain.funding import ChildLine, DayEntry, DayMark, Statement
from server.i18n import Catalogue, both
from server.i18n.words import bilingual_legend
from server.registry.records import AbsenceReason

FORMATS = ("json", "csv", "xlsx", "pdf")
_FIXED_TIME = datetime(2000, 1, 1, tzinfo=UTC)
"""Creation date written into XLSX/PDF metadata: a real clock would change the bytes."""

STATEMENT_HEADINGS: list[tuple[str, Callable[[Catalogue], str]]] = [
    ("child_id", lambda c: c.gettext("Child ID")),
    ("funding_category", lambda c: c.gettext("Category")),
    ("norm", lambda c: c.gettext("Norm")),
    ("working_days", lambda c: c.gettext("Working days")),
    ("present_days", lambda c: c.gettext("Days present")),
    ("paid_absence_days", lambda c: c.gettext("Paid days absent")),
    ("amount", lambda c: c.gettext("Amount, ₸")),
]
"""Each column's field and heading; the sheets print the heading in Kazakh / Russian."""
METHOD_MARK: dict[str, str] = {Method.QR_CARD: "к", Method.QR_PHONE: "т", Method.FACE: "ф",
                               Method.MANUAL: "р"}
ABSENCE_MARK: dict[str, str] = {AbsenceReason.ILLNESS: "Б", AbsenceReason.QUARANTINE: "К",
                                AbsenceReason.SANATORIUM: "С", AbsenceReason.LEAVE: "О",
                                AbsenceReason.OTHER: "П"}
"""The табель's letters, the same in Kazakh and Russian (the legend says what they mean)."""


def legend() -> str:
    """What the letters mean, Kazakh / Russian (server/i18n/words.py)."""
    return bilingual_legend()


def day_mark(entry: DayEntry) -> str:
    if entry.mark == DayMark.PRESENT:
        methods = sorted({METHOD_MARK.get(e.method, "?") for e in entry.evidence})
        return "+" + "".join(methods)
    if entry.mark == DayMark.PAID_ABSENCE:
        return ABSENCE_MARK.get(entry.reason, "?")
    if entry.mark == DayMark.UNPAID_ABSENCE:
        return ABSENCE_MARK.get(entry.reason, "?").lower()
    return {DayMark.ABSENT: "Н", DayMark.NON_WORKING: "·", DayMark.NOT_ENROLLED: "—"}[entry.mark]


def _statement_rows(statement: Statement) -> list[list[str]]:
    rows = [[f"{getattr(c, key):.2f}" if key in ("norm", "amount") else str(getattr(c, key))
             for key, _ in STATEMENT_HEADINGS] for c in statement.children]
    rows.append([both(lambda c: c.pgettext("sheet", "Total")), "", "", "", "", "",
                 f"{statement.total:.2f}"])
    return rows


def _tabel_rows(statement: Statement) -> tuple[list[str], list[list[str]]]:
    lines: Sequence[ChildLine] = statement.children
    days = [d.day for d in lines[0].days] if lines else []
    header = [both(STATEMENT_HEADINGS[0][1]), *[str(d.day) for d in days],
              both(lambda c: c.pgettext("tabel column", "Present")),
              both(lambda c: c.pgettext("tabel column", "Paid absent"))]
    rows = [[c.child_id, *[day_mark(d) for d in c.days], str(c.present_days),
             str(c.paid_absence_days)] for c in lines]
    return header, rows


def write_statement(statement: Statement, fmt: str, out: Path) -> None:
    title = (f"{both(lambda c: c.gettext('Funding statement'))} — {statement.kindergarten}, "
             f"{statement.month}, {statement.policy_version}")
    headings = [both(words) for _, words in STATEMENT_HEADINGS]
    if fmt == "json":
        out.write_bytes(statement.to_json())
    elif fmt == "csv":
        out.write_bytes(_csv([headings, *_statement_rows(statement)]))
    elif fmt == "xlsx":
        _xlsx(out, title, headings, _statement_rows(statement), statement.inputs_digest)
    elif fmt == "pdf":
        _pdf(out, title, headings, _statement_rows(statement), statement.inputs_digest,
             landscape=False)
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")


def write_tabel(statement: Statement, fmt: str, out: Path) -> None:
    title = (f"{both(lambda c: c.gettext('Attendance sheet'))} — {statement.kindergarten}, "
             f"{statement.month}")
    header, rows = _tabel_rows(statement)
    key = legend()
    if fmt == "json":
        body = {"kindergarten": statement.kindergarten, "month": statement.month,
                "working_days": statement.working_days, "legend": key,
                "children": [{"child_id": c.child_id, "present_days": c.present_days,
                              "paid_absence_days": c.paid_absence_days,
                              "days": [{"date": d.day.isoformat(), "mark": d.mark,
                                        "code": day_mark(d), "reason": d.reason,
                                        "events": [e.event_id for e in d.evidence],
                                        "absence_record": d.absence_record}
                                       for d in c.days]} for c in statement.children]}
        out.write_bytes((json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode())
    elif fmt == "csv":
        out.write_bytes(_csv([header, *rows, [key]]))
    elif fmt == "xlsx":
        _xlsx(out, title, header, rows, statement.inputs_digest, legend=key)
    elif fmt == "pdf":
        _pdf(out, title, header, rows, statement.inputs_digest, landscape=True, legend=key)
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel reads UTF-8 then


def _xlsx(out: Path, title: str, header: list[str], rows: list[list[str]], digest: str,
          legend: str = "") -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Qatys"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True)
    sheet.append(header)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_number(v) for v in row])
    if legend:
        sheet.append([legend])
    sheet.append([f"inputs sha256 {digest}"])
    book.properties.created = book.properties.modified = _FIXED_TIME.replace(tzinfo=None)
    book.properties.creator = "Qatys"
    buffer = io.BytesIO()
    book.save(buffer)
    out.write_bytes(_stable_zip(buffer.getvalue()))


def _number(value: str) -> object:
    """Amounts and counts as numbers in Excel (exact decimal text is kept in CSV/JSON)."""
    try:
        return int(value) if value.isdigit() else float(value) if "." in value and \
            value.replace(".", "", 1).isdigit() else value
    except ValueError:
        return value


def _stable_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed member dates and a fixed "modified" property (openpyxl
    stamps the save time there), so the same workbook gives the same bytes."""
    import re
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            member = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                member = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)",
                                rb"\g<1>2000-01-01T00:00:00Z\g<2>", member)
            target.writestr(fixed, member)
    return buffer.getvalue()


def _pdf(out: Path, title: str, header: list[str], rows: list[list[str]], digest: str,
         landscape: bool, legend: str = "") -> None:
    from fpdf import FPDF

    from provisioning.card_print import font_path

    pdf = FPDF(orientation="L" if landscape else "P", unit="mm", format="A4")
    pdf.set_creation_date(_FIXED_TIME)
    pdf.add_font("DejaVu", "", str(font_path()))
    pdf.add_font("DejaVu", "B", str(font_path(bold=True)))
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 10)
    pdf.multi_cell(0, 5, title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    many = len(header) > 10
    first = 30.0 if many else pdf.epw * 0.2
    widths = (first, *[(pdf.epw - first) / (len(header) - 1)] * (len(header) - 1))
    pdf.set_font("DejaVu", "", 5.5 if many else 8)
    with pdf.table(col_widths=widths, text_align="CENTER", line_height=3 if many else 4.5,
                   first_row_as_headings=True) as table:
        for row in [header, *rows]:
            cells = table.row()
            for value in row:
                cells.cell(value)
    pdf.set_font("DejaVu", "", 6)
    if legend:
        pdf.multi_cell(0, 3, legend, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 3, f"inputs sha256 {digest}", new_x="LMARGIN", new_y="NEXT")
    out.write_bytes(bytes(pdf.output()))
