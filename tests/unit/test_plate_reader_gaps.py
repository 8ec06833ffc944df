"""Where a plate's groups break, measured in the line image: the suffix boundary."""

from __future__ import annotations

import cv2
import numpy as np

from core.plates import Plate
from plate_reader.gaps import character_gaps, group_breaks
from plate_reader.ocr import ALPHABET, TextLine
from plate_reader.plates import read_line


def _line(text: str, *, dark_ink: bool = True) -> tuple[np.ndarray, tuple[float, ...]]:
    """``text`` drawn as a plate line, and each character's middle as a fraction of the width
    (what the recogniser reports as ``positions``)."""
    ink, paper = (20, 240) if dark_ink else (240, 20)
    image = np.full((60, 40 + 34 * len(text), 3), paper, np.uint8)
    cv2.putText(image, text, (16, 48), cv2.FONT_HERSHEY_DUPLEX, 1.6, (ink,) * 3, 4)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    mask = (grey < 128) if dark_ink else (grey > 128)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    middles = sorted(float(s[0] + s[2] / 2) for s in stats[1:count] if s[4] > 20)
    return image, tuple(m / image.shape[1] for m in middles)


def _evidence(*columns: dict[str, float]) -> tuple[np.ndarray, ...]:
    rows = []
    for column in columns:
        row = np.full(len(ALPHABET), 1e-6, np.float32)
        for char, p in column.items():
            row[ALPHABET.index(char)] = p
        rows.append(row)
    return tuple(rows)


def test_the_gaps_between_groups_are_wide_and_those_inside_a_group_narrow() -> None:
    image, positions = _line("R 809 I")
    gaps = character_gaps(image, positions)
    assert len(gaps) == 4
    assert min(gaps[0], gaps[3]) > 2 * max(gaps[1], gaps[2])
    clear, none = group_breaks(gaps)
    assert clear == frozenset({0, 3})
    assert none
    assert none <= frozenset({1, 2})


def test_light_ink_on_a_dark_plate_shows_the_same_gaps() -> None:
    image, positions = _line("DS 2 OA", dark_ink=False)
    assert group_breaks(character_gaps(image, positions))[0] == frozenset({1, 2})


def test_a_line_without_a_clear_gap_makes_no_claim() -> None:
    image, positions = _line("B1234")
    assert group_breaks(character_gaps(image, positions)) == (frozenset(), frozenset())


def test_the_image_gap_splits_off_a_suffix_the_model_read_into_the_number() -> None:
    # R 809 I and R 8091 are both plates; the model is sure of the 1 and saw no gap before
    # it, but the image shows the space: the I is the suffix.
    image, positions = _line("R 809 I")
    scores = _evidence({"R": 0.99}, {"8": 0.99}, {"0": 0.99}, {"9": 0.99}, {"1": 0.97, "I": 1e-5})
    line = TextLine("R 8091", (), 0.98, scores, positions)
    assert read_line(line)[0] is not None
    assert read_line(line)[0].text == "R8091"  # type: ignore[union-attr]
    plate, _, confidence = read_line(line, image)
    assert plate is not None
    assert plate.text == "R809I"
    assert confidence > 0.9  # the model was sure of the shape; the grammar names it


def test_a_region_read_as_its_digit_twin_is_a_plate_when_the_image_sets_it_apart() -> None:
    # Z 913 read as 2913: no letter of its own, but the gap after the first character shows
    # a one-letter region, and 2 is the Z's twin.
    image, positions = _line("Z 913")
    scores = _evidence({"2": 0.98, "Z": 1e-4}, {"9": 0.99}, {"1": 0.99}, {"3": 0.99})
    line = TextLine("2913", (), 0.99, scores, positions)
    assert read_line(line)[0] is None
    plate, _, _ = read_line(line, image)
    assert plate is not None
    assert plate.text == "Z913"


def test_a_doubtful_character_far_beyond_the_line_is_dropped_as_the_rim() -> None:
    # KU 5 U with the plate's rim, a long way past the last letter, read as a faint 0.
    image, positions = _line("KU 5 U      I")
    assert len(positions) == 5
    scores = _evidence({"K": 0.99}, {"U": 0.98}, {"5": 0.99}, {"U": 0.96}, {"0": 0.11})
    line = TextLine("KU 5 U0", (), 0.8, scores, positions)
    assert read_line(line)[0] == Plate("KU", "5", "UO")
    plate, _, _ = read_line(line, image)
    assert plate == Plate("KU", "5", "U")


def test_the_side_bearings_of_a_narrow_one_are_no_group_break() -> None:
    # A fixed-pitch plate with its groups set close: the 1 is narrow, so the run of blank
    # columns after it is about twice the others', but the characters are evenly spaced.
    assert group_breaks([0.08, 0.08, 0.2, 0.12, 0.14]) == (frozenset(), frozenset())
    # A real break between the groups is wider still.
    assert group_breaks([0.06, 0.3, 0.05, 0.06, 0.3, 0.06])[0] == frozenset({1, 4})
