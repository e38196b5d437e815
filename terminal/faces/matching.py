"""Identification among a kindergarten's enrolled children: pure, no I/O.

The library's default distance threshold (0.6) confuses children (its own README says so),
so Qatys uses a stricter threshold and also asks for a margin between the best and the
second-best child: an uncertain match falls back to "please scan your QR". The figures
behind the defaults are in docs/face-accuracy.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

LIBRARY_DEFAULT_THRESHOLD = 0.6
THRESHOLD = 0.45
"""Accept a child only nearer than this (Euclidean distance between 128-d encodings)."""
MARGIN = 0.08
"""…and only when the next child is at least this much further away."""


class FaceVerdict(StrEnum):
    """What a face at the door is (``qatys face identify``'s ``result``, docs/cli.md)."""
    MATCH = "match"
    """One enrolled child, clearly."""
    UNKNOWN = "unknown"
    """Nobody enrolled is near enough."""
    UNCERTAIN = "uncertain"
    """Two children are too close to tell."""
    NO_FACE = "no_face"
    """No usable face in the picture (the door)."""
    SPOOF = "spoof"
    """A picture held up, or no blink or turn (the door)."""


@dataclass(frozen=True)
class Match:
    result: FaceVerdict
    """match, unknown or uncertain"""
    child_id: str | None
    distance: float | None
    margin: float | None


class Gallery:
    """Every enrolled encoding in one matrix, so a face is compared with all of them at once
    (600 children with several encodings each in well under a millisecond)."""

    def __init__(self, templates: Mapping[str, Sequence[np.ndarray]]) -> None:
        children, rows = [], []
        for child_id, encodings in templates.items():
            for encoding in encodings:
                children.append(child_id)
                rows.append(np.asarray(encoding, dtype=np.float32))
        self.children = tuple(sorted(set(children)))
        index = {child: i for i, child in enumerate(self.children)}
        self._owner = np.asarray([index[c] for c in children], dtype=np.intp)
        self._matrix = np.vstack(rows) if rows else np.zeros((0, 128), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.children)

    def nearest(self, encoding: np.ndarray) -> np.ndarray:
        """The distance from ``encoding`` to each child's nearest encoding (by child index)."""
        distances = np.linalg.norm(self._matrix - encoding.astype(np.float32), axis=1)
        per_child = np.full(len(self.children), np.inf, dtype=np.float64)
        np.minimum.at(per_child, self._owner, distances)
        return per_child


def identify(encoding: np.ndarray, gallery: Gallery | Mapping[str, Sequence[np.ndarray]],
             threshold: float = THRESHOLD, margin: float = MARGIN) -> Match:
    """The enrolled child this face belongs to, if the evidence is clear; each child may have
    several encodings and is judged by the nearest one."""
    if not isinstance(gallery, Gallery):
        gallery = Gallery(gallery)
    if not len(gallery):
        return Match(FaceVerdict.UNKNOWN, None, None, None)
    per_child = gallery.nearest(encoding)
    order = np.argsort(per_child)
    best = float(per_child[order[0]])
    gap = round(float(per_child[order[1]]) - best, 4) if len(order) > 1 else None
    if best >= threshold:
        return Match(FaceVerdict.UNKNOWN, None, round(best, 4), gap)
    if gap is not None and gap < margin:
        return Match(FaceVerdict.UNCERTAIN, None, round(best, 4), gap)
    return Match(FaceVerdict.MATCH, gallery.children[int(order[0])], round(best, 4), gap)
