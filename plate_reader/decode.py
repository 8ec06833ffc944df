"""The plate a recognised line spells, chosen by the recogniser's own per-character evidence.

The grammar says which positions hold digits and which letters, but not where the number
ends when the look-alikes allow both (``W 23 O`` or ``W 230``, ``DD 87 S`` or ``DD 875``).
For every split of the line into region / number / suffix this takes, at each position, the
best class the grammar allows there from the model's probabilities, rather than swapping
the top letter through a fixed table; the split with the most probable spelling wins. The
gaps the model read between groups add evidence for the split they show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
# A split that disagrees with the gaps the model read costs as much as a 1-in-20 character:
# the model rarely sees a gap that is not there.
_GAP_PENALTY = math.log(20.0)
# The plate's rim read as one of these at either end may be dropped, at this cost.
_RIM = "I1LJ"
_RIM_PENALTY = math.log(4.0)
# Look-alikes in the plate typeface (DESIGN.md and `core.plates`): the model's first choice
# may be swapped for one of these at any probability; for any other class the model must
# have given it at least _OTHER_SWAP, or a shop sign's K becomes a 6.
_LOOK_ALIKES = frozenset(
    frozenset(pair)
    for pair in (
        "0O", "0D", "0Q", "0U", "1I", "1L", "1J", "1T", "2Z", "5S", "8B", "6G", "4A", "7T",
    )
)  # fmt: skip
_OTHER_SWAP = 0.1


@dataclass(frozen=True, slots=True)
class Spelling:
    """A reading of a line as a plate: the plate, its log-probability, how sure each
    character is, and how many characters differ from the model's first choice."""

    plate: Plate
    log_prob: float
    confidence: float
    changed: int


def _pick(scores: Scores, allowed: npt.NDArray[np.intp]) -> tuple[int, float]:
    """The best class among ``allowed`` and its probability."""
    best = int(allowed[int(np.argmax(scores[allowed]))])
    return best, float(scores[best])


def _spell(chars: list[Scores], region_len: int, number_len: int) -> Spelling | None:
    """The most probable plate with this split, or None if no region code fits or it
    needs a character the model did not see as possible."""
    picked: list[tuple[int, float]] = []
    best_region: tuple[float, str] | None = None
    for code in _REGIONS[region_len]:
        value = sum(math.log(max(float(chars[i][_INDEX[c]]), _FLOOR)) for i, c in enumerate(code))
        if best_region is None or value > best_region[0]:
            best_region = (value, code)
    if best_region is None:
        return None
    region = best_region[1]
    picked.extend((_INDEX[c], float(chars[i][_INDEX[c]])) for i, c in enumerate(region))
    for position in range(region_len, len(chars)):
        if position == region_len:
            allowed = _NONZERO
        elif position < region_len + number_len:
            allowed = _DIGITS
        else:
            allowed = _LETTERS
        picked.append(_pick(chars[position], allowed))
    text = "".join(ALPHABET[index] for index, _ in picked)
    top = [int(np.argmax(c)) for c in chars]
    for (index, p), first in zip(picked, top, strict=True):
        pair = frozenset((ALPHABET[index], ALPHABET[first]))
        if index != first and pair not in _LOOK_ALIKES and p < _OTHER_SWAP:
            return None
    probs = [p for _, p in picked]
    return Spelling(
        Plate(region, text[region_len : region_len + number_len], text[region_len + number_len :]),
        sum(math.log(max(p, _FLOOR)) for p in probs),
        float(np.mean(probs)),
        sum(index != first for (index, _), first in zip(picked, top, strict=True)),
    )


def spellings(chars: list[Scores], groups: list[int], *, trim_rim: bool = False) -> list[Spelling]:
    """Every grammatical reading of a line, most probable first.

    ``chars`` are the per-character class probabilities (over `ALPHABET`); ``groups`` the
    lengths of the groups the model separated by gaps (empty when it saw none). With
    ``trim_rim``, a rim-like character at either end may also be dropped: a last resort,
    because in the plate typeface ``I``, ``1`` and the rim are the same stroke.
    """
    found: dict[str, tuple[float, Spelling]] = {}
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
        seen = _trim_groups(groups, head, tail)
        for region_len in (1, 2):
            for suffix_len in (0, 1, 2, 3):
                number_len = len(kept) - region_len - suffix_len
                if not 1 <= number_len <= 4:
                    continue
                spelling = _spell(kept, region_len, number_len)
                if spelling is None:
                    continue
                split = [region_len, number_len] + ([suffix_len] if suffix_len else [])
                penalty = cost + (_GAP_PENALTY if len(seen) in (2, 3) and split != seen else 0)
                value = spelling.log_prob - penalty
                known = found.get(spelling.plate.text)
                if known is None or value > known[0]:
                    found[spelling.plate.text] = (value, spelling)
    return [s for _, s in sorted(found.values(), key=lambda item: -item[0])]


def _trim_groups(groups: list[int], head: int, tail: int) -> list[int]:
    """The group lengths once ``head`` and ``tail`` characters are dropped from the ends."""
    trimmed = list(groups)
    if trimmed and head:
        trimmed[0] -= head
    if trimmed and tail:
        trimmed[-1] -= tail
    return [g for g in trimmed if g > 0]
