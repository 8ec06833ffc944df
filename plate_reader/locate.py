"""The classical finder's first step: bands of dense gradient at a few scales, candidate
plate lines; ``layout.py`` weeds out signs and badges, so recall matters more here."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from plate_reader.edges import HalfFrame, edge_strength, halved

Image = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]
# A tilted plate merged with a dark mudguard's edge fills a little under half its box.
LEAST_FILL = 0.43


@dataclass(frozen=True, slots=True)
class Candidate:
    """A region that may hold a plate's main line; ``score`` ranks candidates in one frame."""

    box: Box
    score: float


def _text_bands(grad: Image, scale: float) -> list[Candidate]:
    """Bands of dense gradient in ``grad`` (the frame at ``scale``), in frame coordinates."""
    level, binary = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    if level < 28.0:
        # Otsu on a flat frame picks noise; demand some absolute contrast as well.
        _, binary = cv2.threshold(grad, 28.0, 255, cv2.THRESH_BINARY)
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, cv2.getStructuringElement(
        cv2.MORPH_RECT, (9, 3)))  # fmt: skip
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found: list[Candidate] = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if h < 6 or w < 14 or not 1.2 <= w / h <= 9.0:
            continue
        fill = cv2.contourArea(contour) / float(w * h)
        if fill < LEAST_FILL:
            continue
        density = float(cv2.mean(grad[y : y + h, x : x + w])[0]) / 255.0
        aspect = w / h
        shape = 1.0 if 1.8 <= aspect <= 6.5 else 0.6
        score = fill * density * shape * min(1.0, h / 10.0)
        inv = 1.0 / scale
        found.append(Candidate((int(x * inv), int(y * inv), int(w * inv), int(h * inv)), score))
    return found


def _overlap(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    # Intersection over union: a small band inside a plate's (its expiry line) must not hide it.
    return inter / float(aw * ah + bw * bh - inter or 1)


def find_candidates(
    image: Image, *, limit: int = 6, half: HalfFrame | None = None
) -> list[Candidate]:
    """Likely plate main lines in ``image``, best first, without overlaps (``half``: it at
    half scale, if at hand)."""
    grey: Image = image if image.ndim == 2 else np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    longest = max(grey.shape[:2])
    # Gaps close into a band at some scale; a frame's 13-50 px characters need no full scale.
    steps = (0.5, 0.25) if longest > 720 else (1.0, 0.5, 0.25)
    scales = [s for s in steps if longest * s >= 120] or [1.0]
    pooled: list[Candidate] = []
    small, at = grey, 1.0
    for scale in scales:
        if scale == 0.5 and half is not None:
            small, at, edges = half.grey, scale, half.edges
        else:
            while at > scale:
                small, at = halved(small), at / 2
            edges = edge_strength(small)
        pooled.extend(_text_bands(edges, scale))
    pooled.sort(key=lambda c: -c.score)
    kept: list[Candidate] = []
    for candidate in pooled:
        if all(_overlap(candidate.box, other.box) < 0.5 for other in kept):
            kept.append(candidate)
        if len(kept) >= limit:
            break
    return kept


def expand(box: Box, shape: tuple[int, ...], fx: float, fy_top: float, fy_bottom: float) -> Box:
    """``box`` grown by fractions of its size on each side, clipped to the image."""
    x, y, w, h = box
    x0 = max(0, int(x - fx * w))
    y0 = max(0, int(y - fy_top * h))
    x1 = min(shape[1], int(x + w + fx * w))
    y1 = min(shape[0], int(y + h + fy_bottom * h))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)
