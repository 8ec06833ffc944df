"""The learned finder's second step: the detector's lines joined into plate candidates (it
splits ``AA 1566`` from ``YB``), a smaller line centred under one marking its expiry line.
Nothing here depends on how a plate is drawn."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from plate_reader.detect import TextBox, upright

_SAME_HEIGHT = 0.6
# Line heights: a plate's groups stand about a character apart, the boxes reach past the ink.
_MOST_GAP = 1.2
_MOST_OFFSET = 0.35
_MOST_TURN = 12.0
# The expiry line's height and its centre's drop, in main-line heights (the main line's box
# often takes in part of it, so the drop can be small).
_EXPIRY_HEIGHT = (0.2, 0.8)
_EXPIRY_BELOW = (0.25, 1.8)
# ``DK 1 A`` to ``KB 8888 MMM`` with the detector's margins.
_ASPECT = (1.4, 9.0)
_LEAST_HEIGHT = 7.0


@dataclass(frozen=True, slots=True)
class LineCandidate:
    """A line that may be a plate's main line; ``prior`` ranks it before recognition."""

    box: TextBox
    parts: int
    expiry: bool
    prior: float


def plate_lines(boxes: Sequence[TextBox], limit: int = 8) -> list[LineCandidate]:
    """Joined lines, and their parts (one may be a sticker beside the plate), worth reading
    as a plate's main line, most plate-like first."""
    groups = _joined(boxes)
    lines: dict[tuple[int, ...], TextBox] = {}
    for group in groups:
        lines[tuple(group)] = boxes[group[0]] if len(group) == 1 else _union(boxes, group)
        if len(group) > 1:
            for index in group:
                lines.setdefault((index,), boxes[index])
    found = []
    for members, line in lines.items():
        aspect = line.width / max(1.0, line.height)
        if line.height < _LEAST_HEIGHT or not _ASPECT[0] <= aspect <= _ASPECT[1]:
            continue
        expiry = any(_is_expiry(line, other) for other in boxes)
        prior = line.score * (1.5 if expiry else 1.0) * min(1.0, line.height / 16.0)
        found.append(LineCandidate(line, len(members), expiry, prior))
    found.sort(key=lambda c: c.prior, reverse=True)
    return found[:limit]


def _joined(boxes: Sequence[TextBox]) -> list[list[int]]:
    """Indices of ``boxes`` grouped into lines (union-find over pairs that continue)."""
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            if _continues(a, boxes[j]):
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _continues(a: TextBox, b: TextBox) -> bool:
    """Whether ``b`` continues ``a``'s line: one height, one direction, side by side."""
    if min(a.height, b.height) < _SAME_HEIGHT * max(a.height, b.height):
        return False
    if abs(a.angle - b.angle) > _MOST_TURN:
        return False
    height = (a.height + b.height) / 2
    along, across = _offset(a, b.cx, b.cy)
    gap = abs(along) - (a.width + b.width) / 2
    return abs(across) <= _MOST_OFFSET * height and gap <= _MOST_GAP * height


def _offset(line: TextBox, x: float, y: float) -> tuple[float, float]:
    """Where (x, y) lies from ``line``'s centre: along its text and across it (down > 0)."""
    rad = math.radians(line.angle)
    dx, dy = x - line.cx, y - line.cy
    return dx * math.cos(rad) + dy * math.sin(rad), -dx * math.sin(rad) + dy * math.cos(rad)


def _is_expiry(line: TextBox, other: TextBox) -> bool:
    """Whether ``other`` is a smaller line centred under ``line``: a plate's expiry date."""
    if not _EXPIRY_HEIGHT[0] * line.height <= other.height <= _EXPIRY_HEIGHT[1] * line.height:
        return False
    along, across = _offset(line, other.cx, other.cy)
    return (
        _EXPIRY_BELOW[0] * line.height <= across <= _EXPIRY_BELOW[1] * line.height
        and abs(along) <= line.width / 2
    )


def _union(boxes: Sequence[TextBox], members: Sequence[int]) -> TextBox:
    points = np.concatenate([boxes[i].corners for i in members])
    merged = upright(cv2.minAreaRect(points))
    score = sum(boxes[i].score * boxes[i].width for i in members) / sum(
        boxes[i].width for i in members
    )
    # The parts' tilt against each other inflates the union's height.
    height = min(merged.height, max(boxes[i].height for i in members))
    return TextBox(merged.cx, merged.cy, merged.width, height, merged.angle, score)
