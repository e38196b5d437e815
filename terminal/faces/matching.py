"""Identification among a kindergarten's enrolled children: pure, no I/O.

The library's default distance threshold (0.6) confuses children (its own README says so),
so Qatys uses a stricter threshold and also asks for a margin between the best and the
second-best child: an uncertain match falls back to "please scan your QR". The figures
behind the defaults are in docs/face-accuracy.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

LIBRARY_DEFAULT_THRESHOLD = 0.6
THRESHOLD = 0.45
"""Accept a child only nearer than this (Euclidean distance between 128-d encodings)."""
MARGIN = 0.08
"""…and only when the next child is at least this much further away."""


@dataclass(frozen=True)
class Match:
    result: str
    """match | unknown | uncertain"""
    child_id: str | None
    distance: float | None
    margin: float | None


def identify(encoding: np.ndarray, gallery: Mapping[str, Sequence[np.ndarray]],
             threshold: float = THRESHOLD, margin: float = MARGIN) -> Match:
    """The enrolled child this face belongs to, if the evidence is clear; each child may have
    several templates and is judged by the nearest one."""
    nearest: list[tuple[float, str]] = []
    for child_id, templates in gallery.items():
        if len(templates):
            distances = np.linalg.norm(np.asarray(templates) - encoding, axis=1)
            nearest.append((float(distances.min()), child_id))
    if not nearest:
        return Match("unknown", None, None, None)
    nearest.sort()
    best, child_id = nearest[0]
    gap = nearest[1][0] - best if len(nearest) > 1 else None
    if best >= threshold:
        return Match("unknown", None, round(best, 4), None if gap is None else round(gap, 4))
    if gap is not None and gap < margin:
        return Match("uncertain", None, round(best, 4), round(gap, 4))
    return Match("match", child_id, round(best, 4), None if gap is None else round(gap, 4))
