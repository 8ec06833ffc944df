"""Indonesian vehicle plates (TNKB): grammar, normalisation, look-alike correction, matching.

A plate is a region code of one or two letters, a number of one to four digits that does not
start with 0, and a suffix of zero to three letters: ``AB 1234 XY``, ``DK 1 A``, ``B 1234``.
The second line of a real plate (expiry month.year) is not part of the registration.

Readers confuse look-alike characters (0/O/D/Q, 1/I, 2/Z, 5/S, 8/B, 6/G, 4/A, 7/T). The
grammar fixes most of them by position: a digit is never in the region code or the suffix,
a letter never in the number. What it cannot fix, matching against the plates expected at a
site does, with a distance that makes look-alike swaps cheap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from core.errors import PlateError

# Region codes in use (Korlantas). Old codes that still appear on the road are kept.
REGION_CODES: frozenset[str] = frozenset(
    {
        # Sumatra
        "BL", "BB", "BK", "BA", "BM", "BP", "BG", "BN", "BE", "BD", "BH",
        # Java and Madura
        "A", "B", "D", "E", "F", "T", "Z", "G", "H", "K", "R", "AA", "AB", "AD",
        "L", "M", "N", "P", "S", "W", "AE", "AG",
        # Bali and Nusa Tenggara
        "DK", "DR", "EA", "DH", "EB", "ED",
        # Kalimantan
        "KB", "DA", "KH", "KT", "KU",
        # Sulawesi
        "DB", "DL", "DM", "DN", "DT", "DD", "DP", "DW", "DC",
        # Maluku and Papua
        "DE", "DG", "PA", "PB", "DS",
    }
)  # fmt: skip

_DIGIT_FOR_LETTER: dict[str, str] = {
    "O": "0", "D": "0", "Q": "0", "U": "0",
    "I": "1", "L": "1", "J": "1", "T": "7",
    "Z": "2", "S": "5", "B": "8", "G": "6", "A": "4",
}  # fmt: skip
_LETTER_FOR_DIGIT: dict[str, str] = {
    "0": "O", "1": "I", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B",
}  # fmt: skip
# In a region code a 0 is more often a D or a Q than an O: try each and keep a known code.
_REGION_LETTERS_FOR_DIGIT: dict[str, str] = {"0": "DOQ", "8": "BE"}

# Pairs a reader swaps often; substitutions between them cost little in the distance.
_CONFUSABLE: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in [
        *((letter, digit) for letter, digit in _DIGIT_FOR_LETTER.items()),
        ("O", "D"), ("O", "Q"), ("D", "Q"), ("I", "L"), ("I", "J"), ("I", "T"),
        ("B", "E"), ("C", "G"), ("M", "N"), ("V", "Y"), ("K", "X"), ("P", "R"),
        ("3", "8"), ("6", "8"), ("0", "8"), ("5", "6"), ("H", "N"), ("U", "V"),
    ]
)  # fmt: skip
CONFUSABLE_COST = 0.3

_PLATE_RE = re.compile(r"^([A-Z]{1,2})([1-9][0-9]{0,3})([A-Z]{0,3})$")
_NOISE_RE = re.compile(r"[^A-Z0-9]")


@dataclass(frozen=True, slots=True)
class Plate:
    """A valid registration plate, split into its three parts."""

    region: str
    number: str
    suffix: str

    @property
    def text(self) -> str:
        """The normalised form, ``AB1234XY``: what systems store and compare."""
        return f"{self.region}{self.number}{self.suffix}"

    @property
    def display(self) -> str:
        """The form people read, ``AB 1234 XY``."""
        return " ".join(part for part in (self.region, self.number, self.suffix) if part)

    def __str__(self) -> str:
        return self.display


def squeeze(raw: str) -> str:
    """Upper-case ``raw`` and drop everything that is not a letter or a digit."""
    return _NOISE_RE.sub("", raw.upper())


def parse_plate(raw: str, *, known_regions_only: bool = True) -> Plate:
    """Parse a plate written by a person (``ab 1234 xy``, ``AB-1234-XY``) without guessing.

    Raises `PlateError` with the reason when ``raw`` is not a plate.
    """
    text = squeeze(raw)
    if not text:
        raise PlateError(raw, "kosong / empty")
    match = _PLATE_RE.match(text)
    if match is None:
        raise PlateError(
            raw,
            "bukan format TNKB (1-2 huruf, 1-4 angka tanpa 0 di depan, 0-3 huruf) / "
            "not a TNKB plate (1-2 letters, 1-4 digits not starting with 0, 0-3 letters)",
        )
    region, number, suffix = match.groups()
    if known_regions_only and region not in REGION_CODES:
        raise PlateError(raw, f"kode wilayah tidak dikenal / unknown region code {region!r}")
    return Plate(region, number, suffix)


def normalise_plate(raw: str) -> str:
    """``'ab 1234 xy'`` -> ``'AB1234XY'``; raises `PlateError` if it is not a plate."""
    return parse_plate(raw).text


def display_plate(text: str) -> str:
    """``'AB1234XY'`` -> ``'AB 1234 XY'``; text that is not a plate is returned as it is."""
    try:
        return parse_plate(text, known_regions_only=False).display
    except PlateError:
        return text


def mask_plate(text: str) -> str:
    """A plate as logs show it: its first two and last two characters, the rest hidden
    (``'DK1234AB'`` -> ``'DK****AB'``): enough to follow a car, not to keep its plate."""
    compact = "".join(text.split())
    if len(compact) <= 4:
        return "*" * len(compact)
    return compact[:2] + "*" * (len(compact) - 4) + compact[-2:]


@dataclass(frozen=True, slots=True)
class PlateCandidate:
    """A reading of raw OCR text as a plate, with what it took to get there."""

    plate: Plate
    corrections: int
    """How many characters were swapped for a look-alike to fit the grammar."""


def _as_letter(char: str) -> str | None:
    if char.isalpha():
        return char
    return _LETTER_FOR_DIGIT.get(char)


def _as_digit(char: str) -> str | None:
    if char.isdigit():
        return char
    return _DIGIT_FOR_LETTER.get(char)


def grammar_candidates(raw: str, *, limit: int = 5) -> list[PlateCandidate]:
    """Every way ``raw`` can be read as a plate by swapping look-alikes, fewest swaps first.

    Each split into region / number / suffix is tried; a character in the wrong class is
    swapped for its look-alike or the split is dropped. Known region codes win ties.
    """
    text = squeeze(raw)
    found: dict[str, PlateCandidate] = {}
    for region_len in (1, 2):
        for suffix_len in (0, 1, 2, 3):
            number_len = len(text) - region_len - suffix_len
            if not 1 <= number_len <= 4:
                continue
            candidate = _fit(text, region_len, number_len)
            if candidate is None:
                continue
            known = found.get(candidate.plate.text)
            if known is None or candidate.corrections < known.corrections:
                found[candidate.plate.text] = candidate
    ranked = sorted(
        found.values(),
        key=lambda c: (c.corrections, c.plate.region not in REGION_CODES, -len(c.plate.number)),
    )
    return ranked[:limit]


def _fit(text: str, region_len: int, number_len: int) -> PlateCandidate | None:
    swaps = 0
    chars: list[str] = []
    for index, char in enumerate(text):
        in_number = region_len <= index < region_len + number_len
        fixed = _as_digit(char) if in_number else _as_letter(char)
        if fixed is None:
            return None
        swaps += fixed != char
        chars.append(fixed)
    fitted = "".join(chars)
    region = _known_region(text[:region_len], fitted[:region_len])
    number = fitted[region_len : region_len + number_len]
    suffix = fitted[region_len + number_len :]
    if number.startswith("0"):
        return None
    return PlateCandidate(Plate(region, number, suffix), swaps)


def _known_region(raw: str, fitted: str) -> str:
    """Among the look-alike readings of a region code, prefer one that exists."""
    if fitted in REGION_CODES:
        return fitted
    options = [
        _REGION_LETTERS_FOR_DIGIT.get(char, fixed) for char, fixed in zip(raw, fitted, strict=True)
    ]
    for first in options[0]:
        for second in options[1] if len(options) > 1 else [""]:
            if first + second in REGION_CODES:
                return first + second
    return fitted


def correct_plate(raw: str) -> Plate | None:
    """The most likely plate in raw OCR text, or None when nothing fits the grammar.

    A reading whose region code is unknown is refused, and so is one that needs more than a
    quarter of its characters swapped or that has no letter or no digit of its own: shop
    signs, badges and the expiry line fit the bare pattern surprisingly often.
    """
    text = squeeze(raw)
    if not any(c.isalpha() for c in text) or not any(c.isdigit() for c in text):
        return None
    most = max(1, len(text) // 4)
    for candidate in grammar_candidates(text):
        if candidate.corrections > most:
            break
        if candidate.plate.region in REGION_CODES:
            return candidate.plate
    return None


def _substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return CONFUSABLE_COST if frozenset((a, b)) in _CONFUSABLE else 1.0


def plate_distance(a: str, b: str) -> float:
    """Edit distance between two normalised plates where look-alike swaps cost 0.3."""
    a, b = squeeze(a), squeeze(b)
    previous = [float(j) for j in range(len(b) + 1)]
    for i, char_a in enumerate(a, start=1):
        current = [float(i)]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(
                    previous[j] + 1.0,
                    current[j - 1] + 1.0,
                    previous[j - 1] + _substitution_cost(char_a, char_b),
                )
            )
        previous = current
    return previous[-1]


class MatchKind(StrEnum):
    EXACT = "exact"
    NEAR = "near"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PlateMatch:
    """How a read plate relates to the plates expected at a site."""

    kind: MatchKind
    plate: str | None
    """The expected plate chosen, for EXACT and NEAR."""
    distance: float
    candidates: tuple[str, ...]
    """Expected plates close enough to be considered, nearest first."""


MAX_NEAR_DISTANCE = 1.0
MIN_MARGIN = 0.5


def match_plate(read: str, expected: Iterable[str]) -> PlateMatch:
    """Match a read plate against expected ones: exact first, then nearest, else ambiguous.

    A near match must be within `MAX_NEAR_DISTANCE` and beat the runner-up by `MIN_MARGIN`;
    otherwise the match is reported as ambiguous rather than guessed.
    """
    read_text = squeeze(read)
    pool = {squeeze(plate) for plate in expected}
    if read_text in pool:
        return PlateMatch(MatchKind.EXACT, read_text, 0.0, (read_text,))
    # A read that the grammar corrects into an expected plate is exact, not near.
    corrected = [c.plate.text for c in grammar_candidates(read_text) if c.plate.text in pool]
    if len(corrected) == 1:
        return PlateMatch(MatchKind.EXACT, corrected[0], 0.0, (corrected[0],))
    scored = sorted((plate_distance(read_text, plate), plate) for plate in pool)
    close = [(d, plate) for d, plate in scored if d <= MAX_NEAR_DISTANCE]
    if not close:
        return PlateMatch(MatchKind.NONE, None, scored[0][0] if scored else float("inf"), ())
    names = tuple(plate for _, plate in close)
    best_distance, best = close[0]
    if len(close) > 1 and close[1][0] - best_distance < MIN_MARGIN:
        return PlateMatch(MatchKind.AMBIGUOUS, None, best_distance, names)
    return PlateMatch(MatchKind.NEAR, best, best_distance, names)
