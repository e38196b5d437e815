"""Printable cards: one layout (ID-1 size, 85.6 × 54 mm), drawn to PNG (Pillow) or PDF (fpdf2).

The QR is drawn module by module from segno's matrix (crisp at any printer
resolution); text uses DejaVu Sans, which covers Kazakh and Russian letters
(Debian package fonts-dejavu-core).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import segno

from protocol.cards import Card
from provisioning.errors import InvalidInput
from qatys.sentences import Sentence

CARD_W, CARD_H = 85.6, 54.0
QR_BOX = (2.0, 4.0, 46.0)  # x, y, side in mm, quiet zone included
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
SHEET_COLUMNS, SHEET_ROWS = 2, 5
A4_W, A4_H = 210.0, 297.0


@dataclass(frozen=True)
class IssuedCard:
    """What is printed on one card: the signed card, its QR text and the names beside it."""

    card: Card
    text: str
    first_name: str
    kindergarten_name: str


@dataclass(frozen=True)
class TextItem:
    x: float
    y: float  # top of the line, mm
    size: float  # points
    text: str
    bold: bool = False


TEXT_X, TEXT_RIGHT = 50.0, CARD_W - 2.5
PT_MM = 25.4 / 72


def layout(issued: IssuedCard) -> list[TextItem]:
    """Where each line of text goes on the card (mm from the top-left corner); a line
    too wide for the card is set smaller, down to a readable minimum, then shortened."""
    card = issued.card
    lines = [
        (4.0, 6.5, issued.kindergarten_name, False),
        (12.0, 13.0, issued.first_name, True),
        (20.5, 6.0, "Келу картасы", False),
        (23.5, 6.0, "Карта посещения", False),
        (29.0, 8.0, f"№ {card.serial}", True),
        (34.5, 5.5, f"Жарамды / Действ. до {card.expires.isoformat()}", False),
        (43.0, 5.0, "Жоғалса — тәрбиешіге айтыңыз", False),
        (46.0, 5.0, "При утере сообщите воспитателю", False),
    ]
    return [TextItem(TEXT_X, y, *_fit(text, size, bold), bold=bold)
            for y, size, text, bold in lines]


def _fit(text: str, size: float, bold: bool) -> tuple[float, str]:
    room = TEXT_RIGHT - TEXT_X
    smallest = min(size, 5.0)
    while size > smallest and text_width_mm(text, size, bold) > room:
        size = max(smallest, size - 0.5)
    while len(text) > 1 and text_width_mm(text, size, bold) > room:
        text = text[:-2] + "…"
    return size, text


def text_width_mm(text: str, size_pt: float, bold: bool = False) -> float:
    return float(_measuring_font(bold).getlength(text)) / 100 * size_pt * PT_MM


@functools.cache
def _measuring_font(bold: bool) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path(bold)), 100)


def save_qr_png(text: str, path: Path) -> None:
    """A QR code of ``text`` as a PNG to print or show on a screen (error correction M, eight
    pixels a module, the standard quiet zone): enrolment tokens, unlock cards, invitations."""
    segno.make(text, error="m").save(str(path), scale=8, border=4)


def _matrix(text: str) -> list[list[bool]]:
    qr = segno.make(text, error="m")
    return [[bool(m) for m in row] for row in qr.matrix_iter(scale=1, border=4)]


def font_path(bold: bool = False) -> Path:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for directory in FONT_DIRS:
        if (directory / name).exists():
            return directory / name
    raise InvalidInput(Sentence("font %(name)s not found: install the Debian package "
                                "fonts-dejavu-core", name=name))


def write_png(issued: IssuedCard, out: Path, dpi: int = 300) -> None:
    from PIL import Image, ImageDraw, ImageFont

    px = dpi / 25.4
    image = Image.new("L", (round(CARD_W * px), round(CARD_H * px)), 255)
    draw = ImageDraw.Draw(image)
    x0, y0, side = QR_BOX
    matrix = _matrix(issued.text)
    module = side * px / len(matrix)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                draw.rectangle([round(x0 * px + c * module), round(y0 * px + r * module),
                                round(x0 * px + (c + 1) * module) - 1,
                                round(y0 * px + (r + 1) * module) - 1], fill=0)
    for item in layout(issued):
        font = ImageFont.truetype(str(font_path(item.bold)), round(item.size / 72 * dpi))
        draw.text((item.x * px, item.y * px), item.text, font=font, fill=0)
    draw.rectangle([0, 0, image.width - 1, image.height - 1], outline=160)
    image.save(out, format="PNG", dpi=(dpi, dpi))


def write_pdf(cards: Sequence[IssuedCard], out: Path, sheet: bool) -> None:
    """One card on a card-sized page, or A4 sheets of ten with dashed cut lines."""
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4" if sheet else (CARD_W, CARD_H))
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.add_font("DejaVu", "", str(font_path()))
    pdf.add_font("DejaVu", "B", str(font_path(bold=True)))
    per_page = SHEET_COLUMNS * SHEET_ROWS if sheet else 1
    left = (A4_W - SHEET_COLUMNS * CARD_W) / 2
    top = (A4_H - SHEET_ROWS * CARD_H) / 2
    for i, issued in enumerate(cards):
        if i % per_page == 0:
            pdf.add_page()
        slot = i % per_page
        ox = left + (slot % SHEET_COLUMNS) * CARD_W if sheet else 0.0
        oy = top + (slot // SHEET_COLUMNS) * CARD_H if sheet else 0.0
        _draw_card_pdf(pdf, issued, ox, oy, cut_lines=sheet)
    pdf.output(str(out))


def _draw_card_pdf(pdf: object, issued: IssuedCard, ox: float, oy: float,
                   cut_lines: bool) -> None:
    from fpdf import FPDF

    assert isinstance(pdf, FPDF)
    x0, y0, side = QR_BOX
    matrix = _matrix(issued.text)
    module = side / len(matrix)
    pdf.set_fill_color(0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):  # one rectangle per run of dark modules
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(ox + x0 + start * module, oy + y0 + r * module, (c - start) * module,
                     module, style="F")
    for item in layout(issued):
        pdf.set_font("DejaVu", "B" if item.bold else "", item.size)
        pdf.text(ox + item.x, oy + item.y + item.size * PT_MM, item.text)
    if cut_lines:
        pdf.set_draw_color(150)
        pdf.set_line_width(0.2)
        with pdf.local_context(dash_pattern={"dash": 2, "gap": 2}):
            pdf.rect(ox, oy, CARD_W, CARD_H)


def write_card(issued: IssuedCard, out: Path) -> None:
    suffix = out.suffix.lower()
    if suffix == ".png":
        write_png(issued, out)
    elif suffix == ".pdf":
        write_pdf([issued], out, sheet=False)
    else:
        raise InvalidInput(Sentence("the card file must end in .png or .pdf"))
