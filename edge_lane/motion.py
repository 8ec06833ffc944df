"""Motion gate: is anything in the region of interest? Cheap enough to run on every frame.

The region is shrunk to a small grey image (160x90 for a full frame) and compared with a
running-average background of the empty lane. The background learns fast while the lane is
empty (light changes) and almost not at all while it is occupied, so a car waiting minutes at
the window still counts as there: it differs from the empty lane even when it does not move.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge_lane.config import RegionOfInterest

Image = npt.NDArray[np.uint8]
SMALL_WIDTH = 160


@dataclass(frozen=True, slots=True)
class MotionRules:
    pixel_threshold: int = 25
    occupied_fraction: float = 0.02
    background_alpha: float = 0.05
    occupied_background_alpha: float = 0.0005


@dataclass(frozen=True, slots=True)
class GateReading:
    """``changed`` is the fraction of the region that differs from the empty lane."""

    occupied: bool
    changed: float


class MotionGate:
    """Decides per frame whether the reader should look at it (one per camera)."""

    def __init__(self, rules: MotionRules, roi: RegionOfInterest | None = None) -> None:
        self._rules = rules
        self._roi = roi or RegionOfInterest()
        self._background: npt.NDArray[np.float32] | None = None
        self._size: tuple[int, int] | None = None

    def crop(self, frame: Image) -> Image:
        """The region of interest of ``frame`` (a view, not a copy)."""
        x, y, w, h = self._roi.pixels(frame.shape[1], frame.shape[0])
        return frame[y : y + h, x : x + w]

    def check(self, frame: Image) -> GateReading:
        """Compare ``frame`` with the empty lane and learn from it."""
        small = self._shrink(self.crop(frame))
        if self._background is None or self._background.shape != small.shape:
            self._background = small.astype(np.float32)
            return GateReading(False, 0.0)
        background = cv2.convertScaleAbs(self._background)
        diff = cv2.absdiff(small, background)
        changed = float(np.count_nonzero(diff > self._rules.pixel_threshold)) / diff.size
        occupied = changed >= self._rules.occupied_fraction
        alpha = self._rules.occupied_background_alpha if occupied else self._rules.background_alpha
        if alpha > 0:
            cv2.accumulateWeighted(small, self._background, alpha)
        return GateReading(occupied, round(changed, 4))

    def _shrink(self, region: Image) -> Image:
        height, width = region.shape[:2]
        if self._size is None or self._size[0] != width or self._size[1] != height:
            scale = min(1.0, SMALL_WIDTH / max(1, width))
            self._size = (width, height)
            self._small = (max(1, round(width * scale)), max(1, round(height * scale)))
        # Averaging blocks of pixels also averages the sensor noise away.
        small = cv2.resize(region, self._small, interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return np.asarray(small, np.uint8)
