"""The gaps between a plate's groups, measured in the line image rather than by the model.

A TNKB plate leaves a wide space between the region, the number and the suffix, about a fifth
of the line's height, against a few hundredths between the characters of one group. The
recogniser's output frames are 8 px of a 48-px line, too coarse to see that space reliably:
``R 809 I`` reads as ``R 8091`` with the model sure of every character, and both spellings
are plates. The image shows it: a run of columns with no ink between the two characters'
positions. This module measures, between each pair of neighbouring characters, the widest
such run; ``decode.py`` weighs a split of the line by whether its group breaks fall where
the image has its clear gaps.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
# A gap this wide (in line heights) and well over the line's usual spacing is a group break.
# "Well over" is three times: a narrow glyph (``1``, ``I``) in a plate's fixed-pitch typeface
# leaves side bearings of twice the usual spacing, and a plate with its groups set close
# (``AB12XY``) then showed a break after the 1 and read ``AB 1 ZXY``.
CLEAR_GAP = 0.13
_OVER_USUAL = 3.0
# A gap this narrow is no group break, when the line shows clear gaps elsewhere.
NO_GAP = 0.06


def character_gaps(line: Image, positions: Sequence[float]) -> tuple[float, ...]:
    """Between each pair of neighbouring characters, the widest run of ink-free columns.

    ``line`` is the BGR or grey line image the recogniser read, ``positions`` where each
    character was read (fractions of the line's width). Widths are in line heights. Ink is
    taken from the middle half of the line's rows (a rim above or below does not fill the
    gaps) and is the minority class of an Otsu threshold, so both polarities work.
    """
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
    # Either class may be the ink: the background reaches into nearly every column, so the
    # polarity whose ink leaves the wider gaps between the characters is the right one.
    # A column with a pixel or two of ink is a speck or a thin line across the gap (the rim
    # of a tilted plate), not a character.
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
    """Where the image clearly shows a group break, and where it clearly shows none.

    Index ``j`` is the boundary after character ``j``. No claim either way on a line without
    a clear gap (blur joins everything) or where a gap is neither wide nor narrow.
    """
    if not gaps:
        return frozenset(), frozenset()
    # The usual spacing leaves out the two widest gaps: a plate has at most two breaks.
    usual = float(np.median(sorted(gaps)[:-2])) if len(gaps) > 2 else 0.0
    clear = frozenset(j for j, g in enumerate(gaps) if g >= CLEAR_GAP and g >= _OVER_USUAL * usual)
    if not clear:
        return frozenset(), frozenset()
    return clear, frozenset(j for j, g in enumerate(gaps) if g <= NO_GAP)
