"""One camera's watch: motion gate, read schedule and reader turn a frame into an observation.

The reader costs 20-100 ms a frame, the gate about 1 ms, so the reader runs only while the
region is occupied, and less often once the visit's evidence has been sent: a car waiting
minutes at the window is still read every few frames (a code may come late), not every frame.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from core.codes import PickupCode
from core.errors import PickupCodeError
from core.plates import MatchKind
from edge_lane.config import CameraRole, CameraSettings, Thresholds
from edge_lane.motion import GateReading, MotionGate, MotionRules
from edge_lane.visits import Observation, PlateSighting, VisitView
from plate_reader import PlateRead, QrRead

Image = npt.NDArray[np.uint8]


class FrameReader(Protocol):
    """What the watch needs of `plate_reader.Reader`."""

    def read_qr(self, frame: object) -> tuple[QrRead, ...]: ...

    def read_plates(
        self, frame: object, expected: Collection[str] | None = None
    ) -> tuple[PlateRead, ...]: ...


@dataclass(frozen=True, slots=True)
class ReadPlan:
    qr: bool
    plates: bool

    @property
    def any(self) -> bool:
        return self.qr or self.plates


def plan_reads(
    role: CameraRole, occupied_frames: int, view: VisitView | None, thresholds: Thresholds
) -> ReadPlan:
    """What to read in the ``occupied_frames``-th occupied frame (0-based) of a camera."""
    wants_qr = role is CameraRole.WINDOW
    often = occupied_frames % thresholds.read_every == 0
    rarely = occupied_frames % thresholds.stationary_read_every == 0
    if view is None or view.arrivals == 0:
        return ReadPlan(wants_qr and often, often)
    # Evidence sent: keep looking for a code shown late, and re-read the plate now and then
    # (a better read, or the next car pulling up before the lane looked empty).
    return ReadPlan(wants_qr and (rarely if view.has_code else often), rarely)


def best_plate(plates: tuple[PlateRead, ...]) -> PlateSighting | None:
    """The frame's plate: one that matched an expected plate if any, else the best read."""
    for plate in plates:
        match = plate.match
        if match is not None and match.kind in (MatchKind.EXACT, MatchKind.NEAR):
            return PlateSighting(plate.text, plate.confidence, match.plate, plate.evidence)
    if not plates:
        return None
    return PlateSighting(plates[0].text, plates[0].confidence, evidence=plates[0].evidence)


def code_hashes(codes: tuple[QrRead, ...]) -> tuple[str, ...]:
    """SHA-256 of each valid pickup code; the code text goes no further than this."""
    hashes = []
    for qr in codes:
        if not qr.valid_code:
            continue
        try:
            hashes.append(PickupCode.parse(qr.text).sha256)
        except PickupCodeError:
            continue
    return tuple(dict.fromkeys(hashes))


class CameraWatch:
    """Turns one camera's frames into observations for the visit tracker."""

    def __init__(self, camera: CameraSettings, thresholds: Thresholds, reader: FrameReader) -> None:
        self.camera = camera
        self._thresholds = thresholds
        self._reader = reader
        self.gate = MotionGate(
            MotionRules(
                thresholds.motion_pixel,
                thresholds.occupied_fraction,
                thresholds.background_alpha,
                thresholds.occupied_background_alpha,
                thresholds.settle_frames,
            ),
            camera.roi,
        )
        self._occupied_frames = 0
        # The lane's state at start-up is unknown: the reader looks at the first frames even
        # though the gate, whose background is the first frame, sees nothing.
        self._startup_frames = thresholds.startup_frames
        self.reads = 0

    def observe(
        self,
        index: int,
        image: Image,
        view: VisitView | None,
        expected_plates: Collection[str],
    ) -> tuple[Observation, GateReading]:
        """Gate ``image``, read it if the schedule says so, and say what was seen."""
        reading = self.gate.check(image)
        starting = self._startup_frames > 0
        self._startup_frames = max(0, self._startup_frames - 1)
        if not reading.occupied and not starting:
            self._occupied_frames = 0
            return Observation(self.camera.name, index, False), reading
        plan = plan_reads(self.camera.role, self._occupied_frames, view, self._thresholds)
        self._occupied_frames += 1
        if not plan.any:
            return Observation(self.camera.name, index, reading.occupied), reading
        observation = self._read(index, image, plan, expected_plates, reading.occupied)
        if starting and observation.occupied and not reading.occupied:
            # A car was there before the first frame: it is in the background.
            self.gate.background_has_car()
        return observation, reading

    def _read(
        self,
        index: int,
        image: Image,
        plan: ReadPlan,
        expected_plates: Collection[str],
        occupied: bool,
    ) -> Observation:
        """Run the reader as ``plan`` says; unless ``occupied``, only evidence makes it so."""
        self.reads += 1
        region = np.ascontiguousarray(self.gate.crop(image))
        qr = self._reader.read_qr(region) if plan.qr else ()
        plates = self._reader.read_plates(region, expected_plates or None) if plan.plates else ()
        plate, codes = best_plate(plates), code_hashes(qr)
        seen = occupied or plate is not None or bool(codes)
        return Observation(self.camera.name, index, seen, True, plate, codes)
