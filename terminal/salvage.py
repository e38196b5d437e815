"""A page-walking reader of a damaged SQLite file: every table row still readable in the main
file and in its write-ahead log, whatever the b-tree around it has become.

SQLite's own ``.recover`` needs the ``sqlite_dbpage`` virtual table, which Debian's and
Raspberry Pi OS's ``libsqlite3`` (and so their ``sqlite3`` CLI and Python's module) are built
without ("no such table: sqlite_dbpage"), so the terminal reads the pages itself
(https://www.sqlite.org/fileformat2.html): each page that looks like a table b-tree leaf gives
its cells' records, following overflow chains where the pages are there. Nothing here trusts
what it reads: the caller checks each row (an event's hash, its chain links) before keeping it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

Value = int | float | bytes | str | None

_MAGIC = b"SQLite format 3\x00"
_WAL_HEADER = 32
_FRAME_HEADER = 24
_LEAF_TABLE = 0x0D
DEFAULT_PAGE_SIZE = 4096


@dataclass(frozen=True)
class Row:
    rowid: int
    values: tuple[Value, ...]
    source: str
    """Where it was read: ``db:<page>`` or ``wal:<frame>``."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(9):
        byte = data[at + i]
        if i == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    raise IndexError("varint")  # pragma: no cover - the loop always returns


def _page_size(head: bytes) -> int:
    if head[:16] == _MAGIC:
        size = struct.unpack(">H", head[16:18])[0]
        size = 65536 if size == 1 else size
        if size >= 512 and size & (size - 1) == 0:
            return size
    return DEFAULT_PAGE_SIZE  # the header itself is damaged: SQLite's default


def _record(payload: bytes) -> tuple[Value, ...]:
    header_size, at = _varint(payload, 0)
    if header_size > len(payload) or header_size < 1:
        raise ValueError("record header")
    types = []
    while at < header_size:
        kind, at = _varint(payload, at)
        types.append(kind)
    body = header_size
    values: list[Value] = []
    for kind in types:
        if kind == 0:
            values.append(None)
        elif 1 <= kind <= 6:
            size = (1, 2, 3, 4, 6, 8)[kind - 1]
            values.append(int.from_bytes(payload[body:body + size], "big", signed=True))
            body += size
        elif kind == 7:
            values.append(struct.unpack(">d", payload[body:body + 8])[0])
            body += 8
        elif kind in (8, 9):
            values.append(kind - 8)
        elif kind >= 12:
            size = (kind - 12) // 2
            chunk = payload[body:body + size]
            values.append(bytes(chunk) if kind % 2 == 0 else chunk.decode("utf-8"))
            body += size
        else:
            raise ValueError("reserved serial type")
        if body > len(payload):
            raise ValueError("record body")
    return tuple(values)


class Pages:
    """The page images of a main file and its WAL (the WAL's newest frame of a page wins for
    overflow chains; every image is scanned for rows)."""

    def __init__(self, db: Path, wal: Path | None = None) -> None:
        self.data = db.read_bytes() if db.exists() else b""
        self.size = _page_size(self.data[:100])
        self.usable = self.size - (self.data[20] if len(self.data) > 20
                                   and self.data[:16] == _MAGIC else 0)
        self.wal: list[tuple[int, bytes]] = []
        if wal is not None and wal.exists():
            raw = wal.read_bytes()
            if len(raw) >= _WAL_HEADER:
                size = struct.unpack(">I", raw[8:12])[0]
                if self.data[:16] != _MAGIC and 512 <= size <= 65536 and size & (size - 1) == 0:
                    self.size = self.usable = size  # the file's header is gone: the WAL's
                size = self.size
                at = _WAL_HEADER
                while at + _FRAME_HEADER + size <= len(raw):
                    number = struct.unpack(">I", raw[at:at + 4])[0]
                    self.wal.append((number, raw[at + _FRAME_HEADER:at + _FRAME_HEADER + size]))
                    at += _FRAME_HEADER + size
        self._latest = {n: image for n, image in self.wal}

    def page(self, number: int) -> bytes | None:
        if number in self._latest:
            return self._latest[number]
        start = (number - 1) * self.size
        if number < 1 or start + self.size > len(self.data):
            return None
        return self.data[start:start + self.size]

    def images(self) -> Iterator[tuple[int, bytes, str]]:
        for index in range(len(self.data) // self.size):
            yield index + 1, self.data[index * self.size:(index + 1) * self.size], \
                f"db:{index + 1}"
        for frame, (number, image) in enumerate(self.wal):
            yield number, image, f"wal:{frame}"

    def _overflow(self, first: int, wanted: int) -> bytes:
        chunks, seen, number = [], set(), first
        while wanted > 0 and number and number not in seen:
            seen.add(number)
            image = self.page(number)
            if image is None:
                raise ValueError("overflow page missing")
            chunk = image[4:self.usable][:wanted]
            chunks.append(chunk)
            wanted -= len(chunk)
            number = struct.unpack(">I", image[:4])[0]
        if wanted > 0:
            raise ValueError("overflow chain short")
        return b"".join(chunks)

    def rows(self) -> Iterator[Row]:
        """Every record of every table leaf image that still parses."""
        usable = self.usable
        max_local = usable - 35
        min_local = ((usable - 12) * 32 // 255) - 23
        for number, image, source in self.images():
            base = 100 if number == 1 else 0
            if len(image) < base + 8 or image[base] != _LEAF_TABLE:
                continue
            cells = struct.unpack(">H", image[base + 3:base + 5])[0]
            for i in range(min(cells, (len(image) - base - 8) // 2)):
                try:
                    pointer = struct.unpack(">H", image[base + 8 + 2 * i:base + 10 + 2 * i])[0]
                    if pointer < base + 8 or pointer >= len(image):
                        continue
                    size, at = _varint(image, pointer)
                    rowid, at = _varint(image, at)
                    if size <= max_local:
                        payload = image[at:at + size]
                        if len(payload) < size:
                            continue
                    else:
                        local = min_local + (size - min_local) % (usable - 4)
                        local = local if local <= max_local else min_local
                        overflow = struct.unpack(">I", image[at + local:at + local + 4])[0]
                        payload = image[at:at + local] + self._overflow(overflow, size - local)
                    yield Row(rowid, _record(payload), source)
                except (ValueError, IndexError, UnicodeDecodeError, struct.error):
                    continue
