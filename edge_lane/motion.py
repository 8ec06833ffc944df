"""Motion gate: is anything in the region of interest? Cheap enough to run on every frame.

The region is shrunk to a small grey image (160x90 for a full frame) and compared with a
running-average background of the empty lane. The background learns fast while the lane is
empty (light changes) and almost not at all while it is occupied, so a car waiting minutes at
the window still counts as there: it differs from the empty lane even when it does not move.

The first frame becomes the background, so a car already there when the edge starts would
hide in it. The watch reads the first frames anyway; when they show a car it calls
`MotionGate.background_has_car`, and the gate then counts the lane as occupied until the
scene has changed and stood still again for ``settle_frames``: that new scene is the empty
lane, and becomes the background.
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
    settle_frames: int = 10


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
        self._small: tuple[int, int] = (1, 1)
        self._middle: tuple[int, int] | None = None
        # Set when the background turned out to show a car: the lane is occupied until the
        # scene changes and settles again (``_still`` frames in a row without motion).
        self._car_in_background = False
        self._previous: Image | None = None
        self._still = 0

    def background_has_car(self) -> None:
        """The background shows a car (seen at start-up): occupied until the scene settles."""
        self._car_in_background = True
        self._previous = None
        self._still = 0

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
        changed = self._changed(small, np.asarray(cv2.convertScaleAbs(self._background), np.uint8))
        occupied = changed >= self._rules.occupied_fraction
        if self._car_in_background:
            return self._wait_for_the_lane(small, occupied, changed)
        alpha = self._rules.occupied_background_alpha if occupied else self._rules.background_alpha
        if alpha > 0:
            cv2.accumulateWeighted(small, self._background, alpha)
        return GateReading(occupied, round(changed, 4))

    def _changed(self, small: Image, reference: Image) -> float:
        diff = cv2.absdiff(small, reference)
        return float(np.count_nonzero(diff > self._rules.pixel_threshold)) / diff.size

    def _wait_for_the_lane(self, small: Image, moved: bool, changed: float) -> GateReading:
        """With a car in the background: occupied until a different scene stands still."""
        previous, self._previous = self._previous, small
        still = previous is not None and (
            self._changed(small, previous) < self._rules.occupied_fraction
        )
        self._still = self._still + 1 if still else 0
        if moved and self._still >= self._rules.settle_frames:
            self._background = small.astype(np.float32)
            self._car_in_background = False
            self._previous = None
            return GateReading(False, 0.0)
        return GateReading(True, round(changed, 4))

    def _shrink(self, region: Image) -> Image:
        height, width = region.shape[:2]
        if self._size is None or self._size[0] != width or self._size[1] != height:
            scale = min(1.0, SMALL_WIDTH / max(1, width))
            self._size = (width, height)
            self._small = (max(1, round(width * scale)), max(1, round(height * scale)))
            middle = (2 * self._small[0], 2 * self._small[1])
            self._middle = middle if width >= 2 * middle[0] else None
        if self._middle is not None:
            # A bilinear step to twice the target size first: INTER_AREA over a whole
            # 1280x720 frame costs ~2 ms, this ~0.2 ms, and each small pixel still averages
            # 16 samples, plenty against sensor noise (measured: frame-to-frame difference of
            # a still lane at most 4 grey levels against the threshold's 25).
            region = np.asarray(
                cv2.resize(region, self._middle, interpolation=cv2.INTER_LINEAR), np.uint8
            )
        # Averaging blocks of pixels also averages the sensor noise away.
        small = cv2.resize(region, self._small, interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return np.asarray(small, np.uint8)
