"""The learned finder, the reader's first: detected text lines (``detect.py``) joined into
plate lines (``plate_lines.py``), straightened, recognised and spelled. The grammar refuses
what is no plate, so the finder needs no rule about how a plate looks."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from core.plates import match_plate
from plate_reader.detect import TextBox, TextDetector
from plate_reader.ocr import Recogniser
from plate_reader.plate_lines import LineCandidate, plate_lines
from plate_reader.plates import (
    CONFIDENT,
    MIN_CONFIDENCE,
    LineReading,
    evidence_of,
    spell_line,
)
from plate_reader.results import PlateRead

Image = npt.NDArray[np.uint8]
# rapidocr's default; enlarging small photos finds small plates far more often.
DETECT_SIDE = 736
_MOST_ENLARGED = 2.0
# Line heights: an end character is often only partly inside the detector's box.
_PAD_ALONG = 0.3
_PAD_ACROSS = 0.08
# The grammar takes almost any short mix (a ``D-4D`` badge): this short needs the expiry
# line, this long rarely fits by chance.
_SHORT = 3
_LONG = 5
# `main_row`: a pixel row holds characters when _ROW_INK of the middle has edges over
# _ROW_EDGE; the tallest run, at least _LEAST_ROW of the line, is cut with _ROW_PAD.
_ROW_INK = 0.06
_LEAST_ROW = 0.35
_ROW_PAD = 0.15
_ROW_SPAN = 0.2
_ROW_EDGE = 40
_EXPIRY_BONUS = 0.2


@dataclass(frozen=True, slots=True)
class _Found:
    reading: LineReading
    box: tuple[int, int, int, int]
    rank: float


class LearnedFinder:
    """Reads the plates in a frame: detector, plate lines, recogniser, grammar."""

    def __init__(
        self,
        detector: TextDetector,
        recogniser: Recogniser,
        *,
        detect_side: int = DETECT_SIDE,
        max_lines: int = 5,
    ) -> None:
        self._detect = detector
        self._recognise = recogniser
        self._side = detect_side
        self._max_lines = max_lines

    def candidates(self, image: Image) -> list[LineCandidate]:
        """The lines of ``image`` that may be a plate's main line, most plate-like first."""
        scale = min(self._side / max(image.shape[:2]), _MOST_ENLARGED)
        return plate_lines(self._detect(image, scale))

    def read(self, image: Image, expected: Collection[str] | None = None) -> tuple[PlateRead, ...]:
        """The plates in a BGR ``image``, best first; ``expected`` plates are matched.

        A sure reading ends the search only with an expiry line or when long: a badge reads
        as a short plate as surely as a plate does.
        """
        found: list[_Found] = []
        for candidate in self.candidates(image)[: self._max_lines]:
            reading = self._read_line(image, candidate)
            if reading is None:
                continue
            found.append(reading)
            sure = reading.reading.confidence >= CONFIDENT
            if sure and (candidate.expiry or len(reading.reading.plate.text) >= _LONG):
                break
        best: dict[str, _Found] = {}
        for f in found:
            text = f.reading.plate.text
            if text not in best or f.rank > best[text].rank:
                best[text] = f
        ordered = sorted(best.values(), key=lambda f: -f.rank)
        return tuple(_result(f, expected) for f in ordered)

    def _read_line(self, image: Image, candidate: LineCandidate) -> _Found | None:
        crop = main_row(straightened(image, candidate.box, _PAD_ALONG, _PAD_ACROSS))
        reading = spell_line(self._recognise([crop])[0], crop)
        if reading is None or reading.confidence < MIN_CONFIDENCE:
            return None
        if len(reading.plate.text) <= _SHORT and not candidate.expiry:
            return None
        rank = reading.confidence + (_EXPIRY_BONUS if candidate.expiry else 0.0)
        return _Found(reading, candidate.box.bounds, rank)


def straightened(image: Image, box: TextBox, pad_along: float, pad_across: float) -> Image:
    """The line ``box`` cut out of ``image`` and turned upright, with margins in line heights."""
    grown = TextBox(
        box.cx,
        box.cy,
        box.width + 2 * pad_along * box.height,
        box.height * (1 + 2 * pad_across),
        box.angle,
        box.score,
    )
    width = max(8, round(grown.width))
    height = max(4, round(grown.height))
    source = grown.corners[:3]
    target = np.array([(0, 0), (width, 0), (width, height)], np.float32)
    turn = cv2.getAffineTransform(source, target)
    out = cv2.warpAffine(
        image, turn, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(out, np.uint8)


def main_row(line: Image) -> Image:
    """The tallest row of strokes in a straightened line, with a margin (the detector's box
    often takes in the expiry line); the line whole when it shows one row."""
    h, w = line.shape[:2]
    middle = line[:, round(_ROW_SPAN * w) : round((1 - _ROW_SPAN) * w)]
    grey = np.asarray(cv2.cvtColor(middle, cv2.COLOR_BGR2GRAY), np.uint8)
    # Vertical strokes: a rim, paint, glare and shade have no edges across the line.
    across = np.abs(cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3))
    strong = across > max(_ROW_EDGE, 0.25 * float(across.max()))
    inked = strong.sum(axis=1) >= max(2, int(_ROW_INK * grey.shape[1]))
    rows: list[tuple[int, int]] = []
    start = -1
    for y, filled in enumerate([*inked.tolist(), False]):
        if filled and start < 0:
            start = y
        elif not filled and start >= 0:
            rows.append((start, y))
            start = -1
    if len(rows) < 2:
        return line
    top, bottom = max(rows, key=lambda row: row[1] - row[0])
    tall = bottom - top
    if tall < _LEAST_ROW * h:
        return line
    pad = round(_ROW_PAD * tall)
    return line[max(0, top - pad) : min(h, bottom + pad)]


def _result(found: _Found, expected: Collection[str] | None) -> PlateRead:
    reading = found.reading
    text = reading.plate.text
    return PlateRead(
        text=text,
        confidence=round(min(1.0, max(0.0, reading.confidence)), 3),
        box=found.box,
        alternatives=reading.others[:4],
        match=None if expected is None else match_plate(text, expected),
        evidence=evidence_of(reading),
    )
