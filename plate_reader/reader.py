"""The reader: one object per lane that loads the models once and reads frames."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from plate_reader.detect import DET_MODEL, TextDetector
from plate_reader.edges import HalfFrame, half_frame
from plate_reader.frames import ReadableFrame, as_frame
from plate_reader.learned import LearnedFinder
from plate_reader.ocr import REC_MODEL, Recogniser, rapidocr_models_dir
from plate_reader.plates import PlateFinder
from plate_reader.qr import decode_qr
from plate_reader.results import FrameReads, PlateRead, QrRead

Image = npt.NDArray[np.uint8]


def check_frame(frame: object) -> ReadableFrame:
    """``frame`` as the reader reads it (`as_frame`), or `FrameError`."""
    return as_frame(frame)


class Finder(StrEnum):
    """How plates are found: the text detector (``learned``), or OpenCV rules alone."""

    LEARNED = "learned"
    CLASSICAL = "classical"


class Reader:
    """Reads pickup QR codes and plates from camera frames, single-threaded; a missing or
    broken model raises `ReaderError` at construction, not at the first car."""

    def __init__(
        self,
        *,
        qr: bool = True,
        plates: bool = True,
        models: Path | None = None,
        finder: Finder = Finder.LEARNED,
    ) -> None:
        # One core per lane; OpenCV's own thread pool would compete with the other lanes.
        cv2.setNumThreads(1)
        self._qr = qr
        self._plates: _PlateReading | None = None
        if plates:
            model_dir = models if models is not None else rapidocr_models_dir()
            recogniser = Recogniser(model_dir / REC_MODEL)
            learned = None
            if finder is Finder.LEARNED:
                learned = LearnedFinder(TextDetector(model_dir / DET_MODEL), recogniser)
            self._plates = _PlateReading(learned, PlateFinder(recogniser))
        self.read(np.zeros((64, 192, 3), np.uint8))

    def read(self, frame: object, expected: Collection[str] | None = None) -> FrameReads:
        """Every QR code and plate in ``frame``; with ``expected``, each plate is matched."""
        checked = check_frame(frame)
        if checked.scale != 1.0:  # read shrunk, reported in the caller's pixels
            return checked.reads_to_caller(self.read(checked.image, expected))
        image = checked.image
        start = time.perf_counter()
        # One grey and one half-scale copy serve both readers (a 1280x720 grey costs 0.5 ms).
        grey = _grey(image)
        half = half_frame(grey)
        qr = decode_qr(grey, half) if self._qr else ()
        plates = (
            () if self._plates is None else _read_plates(self._plates, image, grey, half, expected)
        )
        return FrameReads(qr, plates, round((time.perf_counter() - start) * 1000, 3))

    def read_qr(self, frame: object) -> tuple[QrRead, ...]:
        """The QR codes in ``frame``."""
        checked = check_frame(frame)
        return checked.qr_to_caller(decode_qr(checked.image))

    def read_plates(
        self, frame: object, expected: Collection[str] | None = None
    ) -> tuple[PlateRead, ...]:
        """The plates in ``frame``, best first."""
        checked = check_frame(frame)
        if checked.scale != 1.0:
            return checked.plates_to_caller(self.read_plates(checked.image, expected))
        image = checked.image
        if self._plates is None:
            return ()
        grey = _grey(image)
        return _read_plates(self._plates, image, grey, half_frame(grey), expected)


def _grey(image: Image) -> Image:
    return image if image.ndim == 2 else np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))


@dataclass(frozen=True, slots=True)
class _PlateReading:
    learned: LearnedFinder | None
    classical: PlateFinder


def _read_plates(
    finders: _PlateReading,
    image: Image,
    grey: Image,
    half: HalfFrame,
    expected: Collection[str] | None,
) -> tuple[PlateRead, ...]:
    colour = (
        image if image.ndim == 3 else np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), np.uint8)
    )
    if finders.learned is not None:
        plates = finders.learned.read(colour, expected)
        if plates:
            return plates
    # A tenth of the detector's cost; reads some small or blurred plates it misses.
    return finders.classical.read(colour, grey, expected, half=half)
