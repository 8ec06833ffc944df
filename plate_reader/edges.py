"""The frame at half scale and where its edges are, computed once and shared by both readers.

The plate finder looks for text at half scale, and the QR reader uses the same edges to skip
the plain parts of the frame: one resize and one gradient serve both.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
_SQUARE = np.ones((3, 3), np.uint8)


def edge_strength(grey: Image) -> Image:
    """Each pixel's 3x3 morphological gradient: how far grey levels swing around it."""
    return np.asarray(cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, _SQUARE), np.uint8)


@dataclass(frozen=True, slots=True)
class HalfFrame:
    """A grey frame at half scale (``grey``) and its `edge_strength` (``edges``)."""

    grey: Image
    edges: Image


def halved(image: Image) -> Image:
    """``image`` at half scale by area, as the plate finder has always made it, never empty."""
    h, w = image.shape[:2]
    if min(h, w) < 2:  # a side of one pixel would halve to none
        return np.asarray(cv2.resize(image, (max(1, w // 2), max(1, h // 2))), np.uint8)
    return np.asarray(
        cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), np.uint8
    )


def half_frame(grey: Image) -> HalfFrame:
    """``grey`` (a full frame) at half scale, with its edges."""
    small = halved(grey)
    return HalfFrame(small, edge_strength(small))
