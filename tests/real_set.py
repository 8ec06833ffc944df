"""The licensed set of real plate photos: ``labels.tsv`` read into frozen records.

``labels.tsv`` is tab-separated with the header ``file plate x y w h notes``: one row per
readable plate, ``file`` relative to the set's root (``images/…`` for whole scenes,
``crops/…`` for tight plate crops), ``plate`` normalised (``AB1234XY``), the box in the
committed image's pixels and free words in ``notes`` (``night motorcycle black-plate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LABELS_FILE = "labels.tsv"
HEADER = ("file", "plate", "x", "y", "w", "h", "notes")


@dataclass(frozen=True, slots=True)
class PlateBox:
    """A plate's box in image pixels: top-left corner, width and height."""

    x: int
    y: int
    w: int
    h: int

    def fits_in(self, width: int, height: int) -> bool:
        """True when the box is non-empty and lies inside a ``width`` x ``height`` image."""
        return (
            self.w > 0
            and self.h > 0
            and self.x >= 0
            and self.y >= 0
            and self.x + self.w <= width
            and self.y + self.h <= height
        )


@dataclass(frozen=True, slots=True)
class RealPhoto:
    """One photo of the set and the plates a careful reader can read on it."""

    path: Path
    plates: tuple[tuple[str, PlateBox], ...]
    notes: frozenset[str]

    @property
    def is_crop(self) -> bool:
        """True for a tight plate crop (``crops/``), False for a whole scene."""
        return self.path.parent.name == "crops"


class RealSetError(ValueError):
    """``labels.tsv`` does not have the expected shape; the message names the line."""


def load_real_set(root: Path) -> list[RealPhoto]:
    """Read ``root/labels.tsv``; photos keep the order of their first row."""
    lines = (root / LABELS_FILE).read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")) != HEADER:
        raise RealSetError(f"{LABELS_FILE}:1: header must be {chr(9).join(HEADER)!r}")
    plates: dict[str, list[tuple[str, PlateBox]]] = {}
    notes: dict[str, set[str]] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(HEADER):
            raise RealSetError(
                f"{LABELS_FILE}:{number}: expected {len(HEADER)} fields, got {len(fields)}"
            )
        file, plate, *box, words = fields
        try:
            x, y, w, h = (int(value) for value in box)
        except ValueError:
            raise RealSetError(f"{LABELS_FILE}:{number}: box {box} is not integers") from None
        plates.setdefault(file, []).append((plate, PlateBox(x, y, w, h)))
        notes.setdefault(file, set()).update(words.split())
    return [
        RealPhoto(root / file, tuple(rows), frozenset(notes[file])) for file, rows in plates.items()
    ]
