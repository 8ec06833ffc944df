"""The gaps between a plate's groups, measured in the line image for ``decode.py``: the
recogniser's 8-px output frames cannot see a group break (``R 809 I`` against ``R 8091``);
a run of ink-free columns between two characters can."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
# Line heights; 3x the usual spacing, as a narrow ``1`` leaves twice it (docs/plate_reader.md).
CLEAR_GAP = 0.13
_OVER_USUAL = 3.0
# A gap this narrow is no group break, when the line shows clear gaps elsewhere.
NO_GAP = 0.06


def character_gaps(line: Image, positions: Sequence[float]) -> tuple[float, ...]:
    """Between each pair of neighbouring characters, the widest run of ink-free columns, in
    line heights; ``positions`` are where the recogniser read them (fractions of the width).
    Ink is taken from the middle half of the rows, so a rim does not fill the gaps."""
    if len(positions) < 2 or line.size == 0:
        return ()
    grey = line if line.ndim == 2 else np.asarray(cv2.cvtColor(line, cv2.COLOR_BGR2GRAY))
    h, w = grey.shape
    xs = [min(w - 1, max(0, int(p * w))) for p in positions]
    # Only the span of the characters: the car body beside a plate would sway the threshold.
    margin = h // 3
    left, right = max(0, xs[0] - margin), min(w, xs[-1] + margin + 1)
    band = np.ascontiguousarray(grey[h // 4 : max(h // 4 + 1, (3 * h) // 4), left:right])
    _, ink = cv2.threshold(band, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    # Either polarity may be ink: the one leaving the wider gaps is. A pixel or two in a
    # column is a speck or a tilted rim.
    least = max(2, band.shape[0] // 8)
    columns = [mask.sum(axis=0) >= least for mask in (ink, 1 - ink)]
    found = [_widest_runs(inked, [x - left for x in xs]) for inked in columns]
    return tuple(g / h for g in max(found, key=sum))


def _widest_runs(inked: npt.NDArray[np.bool_], xs: list[int]) -> list[int]:
    """Between each pair of neighbouring ``xs``, the longest run of columns without ink."""
    runs: list[int] = []
    for left, right in itertools.pairwise(xs):
        widest = run = 0
        for filled in inked[left : right + 1].tolist():
            run = 0 if filled else run + 1
            widest = max(widest, run)
        runs.append(widest)
    return runs


def group_breaks(gaps: Sequence[float]) -> tuple[frozenset[int], frozenset[int]]:
    """Boundaries (``j``: after character ``j``) clearly a break and clearly none; no claim
    on a line without a clear gap (blur joins everything)."""
    if not gaps:
        return frozenset(), frozenset()
    # The usual spacing leaves out the two widest gaps: a plate has at most two breaks.
    usual = float(np.median(sorted(gaps)[:-2])) if len(gaps) > 2 else 0.0
    clear = frozenset(j for j, g in enumerate(gaps) if g >= CLEAR_GAP and g >= _OVER_USUAL * usual)
    if not clear:
        return frozenset(), frozenset()
    return clear, frozenset(j for j, g in enumerate(gaps) if g <= NO_GAP)
