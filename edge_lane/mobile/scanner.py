"""The team's camera: pickup QR codes read from frames and checked offline at once.

The same code held in front of the camera for several seconds is one scan, not many; a code
that is not a well-formed ``DT1:`` code is ignored (a poster's QR is not a refusal).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from core.codes import PickupCode
from edge_lane.mobile.device import TeamDevice
from edge_lane.sources import FrameSource

log = logging.getLogger(__name__)


class QrCodes(Protocol):
    """What the scanner needs of a reader: `plate_reader.Reader.read_qr`'s texts."""

    def __call__(self, frame: object) -> list[str]: ...


def plate_reader_codes() -> QrCodes:
    """`plate_reader.Reader` for QR codes only (no OCR model), loaded when a camera runs."""
    from plate_reader import Reader

    reader = Reader(qr=True, plates=False)

    def codes(frame: object) -> list[str]:
        return [read.text for read in reader.read_qr(frame) if read.valid_code]

    return codes


class CodeScanner:
    """Reads a frame source in a thread and hands each new code to the device."""

    def __init__(
        self,
        device: TeamDevice,
        source: FrameSource,
        codes: QrCodes,
        *,
        rescan_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self.source = source
        self.codes = codes
        self.rescan_seconds = rescan_seconds
        self._clock = clock
        self._seen: dict[str, float] = {}  # code hash -> when last seen
        self.scans = 0
        self._thread: threading.Thread | None = None

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(stop,), name="team-camera", daemon=True
        )
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, stop: threading.Event) -> None:
        for frame in self.source.frames(stop):
            try:
                texts = self.codes(frame.image)
            except ValueError as error:
                log.warning("frame tidak terbaca / unreadable frame: %s", error)
                continue
            for text in texts:
                self.offer(text)
        log.info("kamera selesai / camera ended")

    def offer(self, text: str) -> bool:
        """Check ``text`` unless the same code was seen moments ago; True when checked."""
        key = PickupCode.parse(text).sha256 if PickupCode.is_well_formed(text) else None
        if key is None:
            return False
        now = self._clock()
        last = self._seen.get(key)
        self._seen[key] = now
        if last is not None and now - last < self.rescan_seconds:
            return False
        self._seen = {k: t for k, t in self._seen.items() if now - t < self.rescan_seconds}
        self._seen[key] = now
        self.scans += 1
        self.device.check_code(text, "camera")
        return True
