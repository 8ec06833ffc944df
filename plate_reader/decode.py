"""Spelling: the plate a recognised line spells, from the recogniser's per-character
probabilities through the grammar, for every region / number / suffix split, weighed with
the gaps the model and the line image (``gaps.py``) saw; and the visit's vote."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from core.plates import REGION_CODES, Plate
from plate_reader.ocr import ALPHABET

Scores = npt.NDArray[np.float32]
_DIGITS = np.arange(10)
_NONZERO = np.arange(1, 10)
_LETTERS = np.arange(10, 36)
_INDEX = {char: index for index, char in enumerate(ALPHABET)}
_REGIONS = {n: sorted(code for code in REGION_CODES if len(code) == n) for n in (1, 2)}
# A probability floor so that one impossible-looking character does not sink a reading.
_FLOOR = 1e-4
# The model rarely reads a gap that is not there.
_GAP_PENALTY = math.log(20.0)
# The image measures a gap in pixels, finer than the model's output frames.
_IMAGE_GAP_PENALTY = math.log(100.0)
# Where the image shows a clear gap after a character (index), and where clearly none.
Breaks = tuple[frozenset[int], frozenset[int]]
NO_BREAKS: Breaks = (frozenset(), frozenset())
# The plate's rim read as one of these at either end may be dropped, at this cost.
_RIM = "I1LJ"
_RIM_PENALTY = math.log(4.0)
# Look-alikes (DESIGN.md) swap at any probability; another class needs _OTHER_SWAP, or a
# sign's K becomes a 6.
_LOOK_ALIKES = frozenset(
    frozenset(pair)
    for pair in (
        "0O", "0D", "0Q", "0U", "1I", "1L", "1J", "1T", "2Z", "5S", "8B", "6G", "4A", "7T",
    )
)  # fmt: skip
_OTHER_SWAP = 0.1
_ALIKE = np.zeros((len(ALPHABET), len(ALPHABET)), bool)
for _pair in _LOOK_ALIKES:
    _a, _b = (_INDEX[c] for c in _pair)
    _ALIKE[_a, _b] = _ALIKE[_b, _a] = True
# The typeface's twins: the model's odds between them say little, so a swap to the one the
# grammar needs costs at most log(50). Not 8/B: ``AB 12 XY`` read as ``A 812 XY``.
_TWIN = np.zeros_like(_ALIKE)
for _twins in ("0O", "1I", "2Z", "5S", "6G"):
    _a, _b = (_INDEX[c] for c in _twins)
    _TWIN[_a, _b] = _TWIN[_b, _a] = True
_TWIN_FLOOR = 0.02


@dataclass(frozen=True, slots=True)
class Spelling:
    """A line read as a plate: log-probability, confidence, characters changed, rim trimmed."""

    plate: Plate
    log_prob: float
    confidence: float
    changed: int
    trimmed: tuple[int, int] = (0, 0)


def _pick(scores: Scores, allowed: npt.NDArray[np.intp]) -> tuple[int, float]:
    """The best class among ``allowed`` and its probability."""
    best = int(allowed[int(np.argmax(scores[allowed]))])
    return best, float(scores[best])


def _shapes(scores: Scores) -> Scores:
    """The probabilities with the first choice's twin raised to `_TWIN_FLOOR` of it."""
    top = int(np.argmax(scores))
    shaped = scores.copy()
    twin = _TWIN[top]
    shaped[twin] = np.maximum(scores[twin], _TWIN_FLOOR * scores[top])
    return shaped


def _spell(
    chars: list[Scores], shaped: list[Scores], region_len: int, number_len: int
) -> Spelling | None:
    """The most probable plate with this split (chosen on ``shaped``), or None."""
    picked: list[int] = []
    best_region: tuple[float, str] | None = None
    for code in _REGIONS[region_len]:
        value = sum(math.log(max(float(shaped[i][_INDEX[c]]), _FLOOR)) for i, c in enumerate(code))
        if best_region is None or value > best_region[0]:
            best_region = (value, code)
    if best_region is None:
        return None
    region = best_region[1]
    picked.extend(_INDEX[c] for c in region)
    for position in range(region_len, len(chars)):
        if position == region_len:
            allowed = _NONZERO
        elif position < region_len + number_len:
            allowed = _DIGITS
        else:
            allowed = _LETTERS
        picked.append(_pick(shaped[position], allowed)[0])
    text = "".join(ALPHABET[index] for index in picked)
    top = [int(np.argmax(c)) for c in chars]
    sure: list[float] = []
    for index, first, scores in zip(picked, top, chars, strict=True):
        p = float(scores[index])
        if index == first:
            sure.append(p)
        elif _TWIN[index, first]:
            # The model was sure of the shape, and the grammar says which twin it is.
            sure.append(p + float(scores[first]))
        elif p < _OTHER_SWAP and not _ALIKE[index, first]:
            return None
        else:
            sure.append(p)
    likelihood = [float(s[index]) for index, s in zip(picked, shaped, strict=True)]
    return Spelling(
        Plate(region, text[region_len : region_len + number_len], text[region_len + number_len :]),
        sum(math.log(max(p, _FLOOR)) for p in likelihood),
        float(np.mean(sure)),
        sum(index != first for index, first in zip(picked, top, strict=True)),
    )


def spellings(
    chars: list[Scores],
    groups: list[int],
    *,
    trim_rim: bool = False,
    breaks: Breaks = NO_BREAKS,
) -> list[Spelling]:
    """Every grammatical reading of a line, most probable first.

    ``chars``: class probabilities per character; ``groups``: the model's group lengths;
    ``breaks``: `gaps.group_breaks`. ``trim_rim`` (a last resort) may drop a rim-like end.
    """
    found: dict[str, tuple[float, Spelling]] = {}
    shaped = [_shapes(c) for c in chars]
    trims = [(0, 0, 0.0)]
    if trim_rim and len(chars) > 2:
        first, last = ALPHABET[int(np.argmax(chars[0]))], ALPHABET[int(np.argmax(chars[-1]))]
        if first in _RIM:
            trims.append((1, 0, _RIM_PENALTY))
        if last in _RIM:
            trims.append((0, 1, _RIM_PENALTY))
        if first in _RIM and last in _RIM and len(chars) > 3:
            trims.append((1, 1, 2 * _RIM_PENALTY))
    for head, tail, cost in trims:
        kept = chars[head : len(chars) - tail]
        kept_shaped = shaped[head : len(chars) - tail]
        seen = _trim_groups(groups, head, tail)
        clear = frozenset(j - head for j in breaks[0] if 0 <= j - head < len(kept) - 1)
        none = frozenset(j - head for j in breaks[1] if 0 <= j - head < len(kept) - 1)
        for region_len in (1, 2):
            for suffix_len in (0, 1, 2, 3):
                number_len = len(kept) - region_len - suffix_len
                if not 1 <= number_len <= 4:
                    continue
                spelling = _spell(kept, kept_shaped, region_len, number_len)
                if spelling is None:
                    continue
                split = [region_len, number_len] + ([suffix_len] if suffix_len else [])
                penalty = cost + _split_penalty(split, seen, clear, none)
                value = spelling.log_prob - penalty
                known = found.get(spelling.plate.text)
                if known is None or value > known[0]:
                    found[spelling.plate.text] = (value, replace(spelling, trimmed=(head, tail)))
    return [s for _, s in sorted(found.values(), key=lambda item: -item[0])]


def _boundaries(lengths: list[int]) -> frozenset[int]:
    """The indices of the characters that end a group, but the last group."""
    return frozenset(int(end) - 1 for end in np.cumsum(lengths[:-1]))


def _split_penalty(
    split: list[int], seen: list[int], clear: frozenset[int], none: frozenset[int]
) -> float:
    """What a split costs for disagreeing with the gaps the model and the image saw; a
    break the model missed is free where the image shows it clearly."""
    breaks = _boundaries(split)
    penalty = 0.0
    if len(seen) in (2, 3):
        model = _boundaries(seen)
        penalty += _GAP_PENALTY * len(model - breaks)
        penalty += _GAP_PENALTY * len(breaks - model - clear)
    penalty += _IMAGE_GAP_PENALTY * (len(clear - breaks) + len(breaks & none))
    return penalty


def _trim_groups(groups: list[int], head: int, tail: int) -> list[int]:
    """The group lengths once ``head`` and ``tail`` characters are dropped from the ends."""
    trimmed = list(groups)
    if trimmed and head:
        trimmed[0] -= head
    if trimmed and tail:
        trimmed[-1] -= tail
    return [g for g in trimmed if g > 0]


def vote(readings: Sequence[Sequence[Sequence[float]]], split: Sequence[int]) -> Spelling | None:
    """The plate several frames' readings (per-character probabilities, one length) spell
    together, or None: the geometric mean per position, spelled with ``split`` (region,
    number, suffix lengths, from the frames: probabilities alone miss the gaps)."""
    if not readings or len({len(r) for r in readings}) != 1 or sum(split) != len(readings[0]):
        return None
    stacked = np.log(np.maximum(np.asarray(readings, np.float32), _FLOOR)).mean(axis=0)
    probs = np.exp(stacked)
    probs /= probs.sum(axis=1, keepdims=True)
    groups = [n for n in split if n]
    for spelling in spellings([np.asarray(row, np.float32) for row in probs], groups):
        plate = spelling.plate
        if [len(plate.region), len(plate.number), len(plate.suffix)] == list(split):
            return spelling
    return None
