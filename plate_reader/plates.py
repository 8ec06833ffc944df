"""The classical finder (the learned finder's fallback) and the spelling of a read line:
recognition is the costly step, so only plate-like regions (``layout.py``) are read, most
plate-like first, until a sure grammatical read. ``spell_line`` serves both finders."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from core.plates import Plate, correct_plate, grammar_candidates, match_plate
from plate_reader.decode import NO_BREAKS, spellings
from plate_reader.edges import HalfFrame
from plate_reader.gaps import character_gaps, group_breaks
from plate_reader.layout import MIN_PLATE_LIKE, LineLayout, plate_layout
from plate_reader.locate import Box, expand, find_candidates
from plate_reader.ocr import Recogniser, TextLine
from plate_reader.results import PlateRead

Image = npt.NDArray[np.uint8]
# A read this sure ends the search; recognition past it rarely changes the answer.
CONFIDENT = 0.85
# Plates read at 0.9 and more, signs that pass the layout test well under (docs/plate_reader.md).
MIN_CONFIDENCE = 0.65
_EDGE_NOISE = "I1|LJ"
# Line heights: a plate's groups are ~0.2 apart, so an end character this far off is the rim.
_STRAY_GAP = 0.45
# Digits whose twin in the plate typeface starts region codes: Z, S, B, G.
_LETTER_TWINS = "2586"
# Text recognised at least this surely is legible: if it is not a plate, no variant will be.
LEGIBLE = 0.9
# Line heights a line is widened each side when it may be cut short.
_WIDEN = 0.8
# A main line of nine characters is at most 5.4 times as wide as high; a wider band is a sign.
# Applied here, not in the finder, so a wide band still keeps those it overlaps out of the six.
WIDEST_BAND = 5.6


@dataclass(frozen=True, slots=True)
class _Reading:
    line: LineReading
    box: Box

    @property
    def plate(self) -> Plate:
        return self.line.plate

    @property
    def confidence(self) -> float:
        return self.line.confidence


def interpret(line: TextLine) -> tuple[Plate | None, tuple[str, ...]]:
    """The plate in a recognised line (or None) and the runner-up readings of it."""
    plate, others, _ = read_line(line)
    return plate, others


@dataclass(frozen=True, slots=True)
class LineReading:
    """A line read as a plate, with the model's per-character probabilities (may be empty)."""

    plate: Plate
    others: tuple[str, ...]
    confidence: float
    evidence: tuple[npt.NDArray[np.float32], ...] = ()


def read_line(
    line: TextLine, image: Image | None = None
) -> tuple[Plate | None, tuple[str, ...], float]:
    """The plate (or None), the runners-up and the confidence: `spell_line` without evidence."""
    reading = spell_line(line, image)
    if reading is None:
        return None, (), 0.0
    return reading.plate, reading.others, reading.confidence


def spell_line(line: TextLine, image: Image | None = None) -> LineReading | None:
    """The plate in a recognised line, or None; with the line's ``image``, its gaps say
    where the groups break. Signs and badges fit the bare pattern often, so a line with no
    letter or digit of its own, or needing over a quarter of it changed, is refused."""
    raw = line.text.strip()
    groups = raw.split()
    squeezed = "".join(groups)
    breaks = NO_BREAKS
    scores = list(line.scores)
    if image is not None and len(line.positions) == len(squeezed) == len(scores):
        gaps = list(character_gaps(image, line.positions))
        while len(gaps) > 2 and _stray(gaps[-1], gaps[:-1], scores[-1]):
            squeezed, scores, gaps = squeezed[:-1], scores[:-1], gaps[:-1]
            groups = _cut_groups(groups, tail=True)
        while len(gaps) > 2 and _stray(gaps[0], gaps[1:], scores[0]):
            squeezed, scores, gaps = squeezed[1:], scores[1:], gaps[1:]
            groups = _cut_groups(groups, tail=False)
        breaks = group_breaks(gaps)
    if not any(c.isdigit() for c in squeezed) or not (
        any(c.isalpha() for c in squeezed) or _twin_region(squeezed, breaks[0])
    ):
        return None
    if len(scores) != len(squeezed):
        plate, others = _interpret_text(raw)
        return None if plate is None else LineReading(plate, others, line.confidence)
    most = max(1, len(squeezed) // 4)
    lengths = [len(g) for g in groups]
    chars = scores
    readings = [s for s in spellings(chars, lengths, breaks=breaks) if s.changed <= most]
    if not readings:
        # The plate's rim is often read as an I or a 1 at either end.
        trimmed = spellings(chars, lengths, trim_rim=True, breaks=breaks)
        readings = [s for s in trimmed if s.changed <= most]
    if not readings:
        return None
    best = readings[0]
    head, tail = best.trimmed
    return LineReading(
        best.plate,
        tuple(s.plate.text for s in readings[1:5]),
        best.confidence,
        tuple(chars[head : len(chars) - tail]),
    )


def _stray(gap: float, others: list[float], scores: npt.NDArray[np.float32]) -> bool:
    """Whether an end character ``gap`` line heights from its neighbour is no character."""
    return gap >= _STRAY_GAP and gap >= 2 * max(others) and float(scores.max()) < 0.5


def _cut_groups(groups: list[str], *, tail: bool) -> list[str]:
    """The model's groups with the last (``tail``) or first character dropped."""
    cut = [*groups[:-1], groups[-1][:-1]] if tail else [groups[0][1:], *groups[1:]]
    return [g for g in cut if g]


def _twin_region(squeezed: str, clear: frozenset[int]) -> bool:
    """Whether a digits-only line starts with region twins set apart (``2913``: ``Z 913``)."""
    return any(
        j in clear and len(squeezed) > j + 1 and all(c in _LETTER_TWINS for c in squeezed[: j + 1])
        for j in (0, 1)
    )


def _interpret_text(raw: str) -> tuple[Plate | None, tuple[str, ...]]:
    """The grammar's reading of text alone; the recogniser's gaps (``AB 822 1``) settle
    splits the grammar cannot."""
    groups = raw.split()
    squeezed = "".join(groups)
    options = grammar_candidates(squeezed, limit=8)
    best = correct_plate(squeezed)
    if best is None and len(squeezed) > 3:
        for trimmed in (squeezed[1:], squeezed[:-1], squeezed[1:-1]):
            if squeezed[0] in _EDGE_NOISE or squeezed[-1] in _EDGE_NOISE:
                best = correct_plate(trimmed)
                if best is not None:
                    break
    if best is not None and len(groups) in (2, 3):
        lengths = [len(g) for g in groups]
        for candidate in options:
            p = candidate.plate
            split = [len(p.region), len(p.number)] + ([len(p.suffix)] if p.suffix else [])
            if split == lengths and correct_plate(p.text) is not None:
                best = candidate.plate
                break
    if best is None:
        return None, ()
    others = tuple(
        c.plate.text
        for c in options
        if c.plate.text != best.text and correct_plate(c.plate.text) is not None
    )
    return best, others


def _variants(line: Image) -> list[Image]:
    """The crop inverted and contrast-stretched: second tries for hard plates."""
    grey = np.asarray(cv2.cvtColor(line, cv2.COLOR_BGR2GRAY))
    stretched = np.asarray(cv2.normalize(grey, grey.copy(), 0, 255, cv2.NORM_MINMAX))
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(2, 8)).apply(stretched)
    return [
        np.asarray(cv2.cvtColor(clahe, cv2.COLOR_GRAY2BGR), np.uint8),
        np.asarray(cv2.cvtColor(cv2.bitwise_not(stretched), cv2.COLOR_GRAY2BGR), np.uint8),
    ]


def _crop(image: Image, box: Box) -> Image:
    x, y, w, h = box
    return image[y : y + h, x : x + w]


def _line_box(
    image: Image, grey: Image, region: Box, band: Box | None
) -> tuple[Box, LineLayout | None]:
    """The main line inside ``region``, padded so no stroke is cut, in frame coordinates."""
    rx, ry, rw, rh = region
    found = plate_layout(_crop(image, region), band, _crop(grey, region))
    if found is None:
        # No characters separated (blur, tiny plate): take the upper band above the expiry.
        return (rx, ry, rw, max(1, int(rh * 0.72))), None
    lx, ly, lw, lh = found.box
    if band is None:
        # A tight crop: characters touching the rim drop out of the row; trust its height only.
        return expand((rx, ry + ly, rw, lh), image.shape, 0.0, 0.18, 0.18), found
    # The band keeps characters that left the row; no wider, as recognition cost grows with it.
    pad = lh // 3
    x0 = max(rx + min(band[0], lx) - pad, 0)
    x1 = min(rx + max(band[0] + band[2], lx + lw) + pad, image.shape[1])
    return expand((x0, ry + ly, x1 - x0, lh), image.shape, 0.0, 0.18, 0.18), found


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One line's versions read: the plate if any, calls spent, whether legible non-plate
    text was read, whether it may be a plate cut short."""

    found: LineReading | None
    calls: int
    legible: bool
    maybe_cut: bool


_Region = tuple[Box, Box, LineLayout | None]
MIN_PLATENESS = MIN_PLATE_LIKE


class PlateFinder:
    """Reads the plates in a frame or a tight crop with a shared `Recogniser`."""

    def __init__(self, recogniser: Recogniser, *, max_lines: int = 4) -> None:
        self._recognise = recogniser
        self._max_lines = max_lines

    def _regions(self, image: Image, grey: Image, half: HalfFrame | None) -> list[_Region]:
        """(region, line, layout) worth reading, most plate-like first; a tight crop first.

        In a frame only regions with an expiry line are read: badges read as valid plates
        (``D-4D`` as ``D 40``) at 0.99, and an empty lane then costs no recognition call.
        """
        h, w = image.shape[:2]
        regions: list[_Region] = []
        if max(h, w) <= 720 and w / h <= 7.0:
            whole = (0, 0, w, h)
            regions.append((whole, *_line_box(image, grey, whole, None)))
        ranked = []
        for candidate in find_candidates(grey, limit=6, half=half):
            region = expand(candidate.box, image.shape, 0.12, 0.35, 0.8)
            cx, cy, cw, ch = candidate.box
            if cw > WIDEST_BAND * ch:
                continue  # wider than any plate's main line
            band = (cx - region[0], cy - region[1], cw, ch)
            line, layout = _line_box(image, grey, region, band)
            if layout is None or layout.plateness < MIN_PLATENESS:
                continue
            rank = (layout.plateness, min(layout.characters, 9), candidate.score)
            ranked.append((rank, (region, line, layout)))
        ranked.sort(key=lambda item: item[0], reverse=True)
        return regions + [entry for _, entry in ranked]

    def read(
        self,
        image: Image,
        grey: Image,
        expected: Collection[str] | None = None,
        *,
        half: HalfFrame | None = None,
    ) -> tuple[PlateRead, ...]:
        """Plates in a BGR frame, best first (``grey`` and ``half`` the same frame)."""
        readings: list[_Reading] = []
        unread: list[tuple[Box, Image]] = []
        regions = self._regions(image, grey, half)
        self._read_regions(image, regions, self._max_lines, readings, unread)
        if not any(r.confidence >= CONFIDENT for r in readings):
            for region, line in unread[:1]:
                found = self._best_of(_variants(line)).found
                if found is not None:
                    readings.append(_Reading(found, region))
        return tuple(_to_result(r, expected) for r in _unique(readings))

    def _read_regions(
        self,
        image: Image,
        regions: list[_Region],
        budget: int,
        readings: list[_Reading],
        unread: list[tuple[Box, Image]],
    ) -> int:
        """Read ``regions`` in order into ``readings`` until a sure plate; the budget left."""
        for region, line_box, _ in regions:
            if budget <= 0:
                break
            if any(_inside(region, r.box) for r in readings):
                continue
            line = _crop(image, line_box)
            if line.shape[0] < 4 or line.shape[1] < 8:
                continue
            tried = self._best_of([line])
            budget -= tried.calls
            found = tried.found
            if (found is None or found.confidence < CONFIDENT) and tried.maybe_cut and budget > 0:
                # Band and row may stop short of an end character: read it widened once.
                grow = _WIDEN * line_box[3] / max(1, line_box[2])
                wider = _crop(image, expand(line_box, image.shape, grow, 0.0, 0.0))
                if wider.shape[1] > line.shape[1]:
                    again = self._best_of([wider])
                    budget -= again.calls
                    if again.found is not None and (
                        found is None or again.found.confidence > found.confidence
                    ):
                        found, line = again.found, wider
            if found is None:
                if not tried.legible:
                    unread.append((region, line))
                continue
            readings.append(_Reading(found, region))
            if found.confidence >= CONFIDENT:
                break
        return budget

    def _best_of(self, attempts: list[Image]) -> _Attempt:
        """Read each version of a line until one is a confident plate; vote among the rest."""
        used = 0
        best: LineReading | None = None
        votes: dict[str, float] = {}
        legible = maybe_cut = False
        for attempt in attempts:
            text_line = self._recognise([attempt])[0]
            used += 1
            reading = spell_line(text_line, attempt)
            # Legible text that is no plate reads the same inverted: no variants for it.
            legible = legible or (reading is None and text_line.confidence >= LEGIBLE)
            # A plate cut short still shows a digit and is short; a sign's words are not.
            squeezed = text_line.text.replace(" ", "")
            maybe_cut = maybe_cut or (any(c.isdigit() for c in squeezed) and len(squeezed) <= 8)
            if reading is None:
                continue
            text = reading.plate.text
            votes[text] = votes.get(text, 0.0) + reading.confidence
            if best is None or reading.confidence > best.confidence:
                best = reading
            if reading.confidence >= CONFIDENT:
                break
        if best is None or best.confidence < MIN_CONFIDENCE:
            return _Attempt(None, used, legible, maybe_cut)
        winner = max(votes, key=lambda text: votes[text])
        others = tuple(dict.fromkeys([t for t in votes if t != winner] + list(best.others)))
        if winner != best.plate.text:
            plate = correct_plate(winner) or best.plate
            best = LineReading(plate, best.others, best.confidence)
        found = replace(best, others=tuple(o for o in others if o != best.plate.text)[:4])
        return _Attempt(found, used, legible, maybe_cut)


def _inside(a: Box, b: Box) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    cx, cy = ax + aw / 2, ay + ah / 2
    return bx <= cx <= bx + bw and by <= cy <= by + bh


def _unique(readings: list[_Reading]) -> list[_Reading]:
    best: dict[str, _Reading] = {}
    for r in readings:
        if r.plate.text not in best or r.confidence > best[r.plate.text].confidence:
            best[r.plate.text] = r
    return sorted(best.values(), key=lambda r: -r.confidence)


def _to_result(reading: _Reading, expected: Collection[str] | None) -> PlateRead:
    match = None if expected is None else match_plate(reading.plate.text, expected)
    return PlateRead(
        text=reading.plate.text,
        confidence=round(min(1.0, max(0.0, reading.confidence)), 3),
        box=reading.box,
        alternatives=reading.line.others,
        match=match,
        evidence=evidence_of(reading.line),
    )


def evidence_of(reading: LineReading) -> tuple[tuple[float, ...], ...]:
    """The reading's per-character probabilities as plain numbers (3 decimals)."""
    if len(reading.evidence) != len(reading.plate.text):
        return ()
    return tuple(tuple(round(float(p), 3) for p in row) for row in reading.evidence)
