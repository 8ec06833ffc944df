"""The frame at half scale and its edges, made once for the classical finder and the QR
step (which skips the plain parts)."""

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
    """``image`` at half scale by area, never empty."""
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
