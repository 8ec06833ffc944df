"""The cheap plate-likeness stage: what it calls a plate before any recognition call."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import plate_reader.layout as layout_module
from bench.scene_render import blend_ink, text_block
from bench.scenes import Scheme, render_plate
from plate_reader.layout import (
    LineLayout,
    _glyph_group,
    _grey_median,
    _ink_masks,
    _median,
    plate_layout,
)
from plate_reader.locate import Box
from plate_reader.plates import MIN_PLATENESS


def _plate_on_car(text: str, scheme: Scheme, height: int, seed: int) -> np.ndarray:
    flat = render_plate(text, scheme, np.random.default_rng(seed), expiry="08.29")
    width = round(height * flat.shape[1] / flat.shape[0])
    plate = cv2.resize(flat, (width, height), interpolation=cv2.INTER_AREA)
    car = np.full((height * 2, width + height, 3), (40, 90, 160), np.uint8)
    car[height // 2 : height // 2 + height, height // 2 : height // 2 + width] = plate
    return car


@pytest.mark.parametrize("scheme", list(Scheme))
@pytest.mark.parametrize(("text", "height"), [("DK 1234 AB", 40), ("B 7", 60), ("AG 933 L", 28)])
def test_a_plate_with_its_expiry_line_is_plate_like(scheme: Scheme, text: str, height: int) -> None:
    layout = plate_layout(_plate_on_car(text, scheme, height, seed=height))
    assert layout is not None
    assert layout.expiry
    assert layout.plateness >= MIN_PLATENESS
    # The main line is found above the expiry line, about 0.54 of the plate's height.
    assert 0.35 * height <= layout.box[3] <= 0.75 * height


@pytest.mark.parametrize(
    ("text", "size", "background", "ink"),
    [
        ("APOTEK 24 JAM", (520, 90), (40, 160, 40), (255, 255, 255)),
        ("TOKO MAJU 88", (420, 80), (230, 230, 230), (20, 20, 20)),
        ("D-4D", (120, 40), (30, 30, 30), (200, 200, 200)),  # a badge on a dark grille
    ],
)
def test_signs_and_badges_are_not_plate_like(
    text: str, size: tuple[int, int], background: tuple[int, int, int], ink: tuple[int, int, int]
) -> None:
    board = np.full((size[1] * 2, size[0] + 40, 3), background, np.uint8)
    glyphs = text_block(text, (size[0], int(size[1] * 0.7)), 8, cv2.FONT_HERSHEY_DUPLEX)
    blend_ink(board, glyphs, ink, 20, size[1] // 2)
    layout = plate_layout(board)
    assert layout is None or layout.plateness < MIN_PLATENESS


def test_the_expiry_glyphs_are_found_among_specks_along_the_rim() -> None:
    lh = 40.0
    expiry = [(140, 83, 6, 10), (148, 82, 5, 10), (158, 83, 6, 10), (166, 82, 6, 10)]
    specks = [(60, 95, 33, 13), (218, 91, 11, 12)]  # glare and blur on the bottom rim
    centre = _glyph_group(expiry + specks, lh)
    assert centre is not None
    assert 140 <= centre <= 172


def test_scattered_specks_under_a_sign_are_no_expiry_line() -> None:
    lh = 32.0
    specks = [(44, 62, 5, 8), (54, 64, 2, 4), (232, 69, 9, 5), (313, 66, 3, 4)]
    assert _glyph_group(specks, lh) is None


# Not red: on this car its background is as grey as the car's paint, and the body test
# compares grey levels (docs/plate_reader.md, what is left).
@pytest.mark.parametrize("scheme", [Scheme.BLACK_ON_WHITE, Scheme.WHITE_ON_BLACK, Scheme.YELLOW])
def test_a_plate_whose_expiry_line_faded_is_plate_like_by_its_body(scheme: Scheme) -> None:
    height = 48
    car = _plate_on_car("DB 11 DW", scheme, height, seed=5)
    # Glare erases the expiry line: paint the band under the main line with the plate's own
    # background, sampled between the main line and the expiry.
    top, left = height // 2, height // 2
    width = round(height * 860 / 270)
    background = car[top + int(0.68 * height), left + width // 2].copy()
    car[top + int(0.70 * height) : top + int(0.93 * height), left + 6 : left + width - 6] = (
        background
    )
    layout = plate_layout(car)
    assert layout is not None
    assert not layout.expiry
    assert layout.plateness >= MIN_PLATENESS
    # The line spans the plate's body, not just the characters the row kept.
    assert layout.box[2] >= 0.6 * width


def test_the_quick_medians_are_numpys_to_the_bit() -> None:
    # The plate-likeness scores compare against thresholds: a median a hair off moves a row.
    rng = np.random.default_rng(3)
    for size in (1, 2, 5, 6, 7, 40, 41):
        heights = rng.integers(6, 60, size).tolist()
        assert _median(heights) == float(np.median(heights))
        pixels = rng.integers(0, 256, (3, size), dtype=np.uint8)
        assert _grey_median(pixels) == float(np.median(pixels.astype(np.float32)))


def _long_row_over_glyphs(at: float) -> np.ndarray:
    """A board with a row of ten separate characters (as long as a plate's main line is
    measured at most) and four expiry-sized glyphs under it, centred ``at`` along the row."""
    lh, cw, gap = 40, 26, 8
    text = "TOKOMAJU88"
    width = len(text) * (cw + gap) - gap
    board = np.full((lh * 3, width + 60, 3), (230, 230, 230), np.uint8)
    for i, char in enumerate(text):
        glyph = text_block(char, (cw, lh), 6, cv2.FONT_HERSHEY_DUPLEX)
        blend_ink(board, glyph, (20, 20, 20), 30 + i * (cw + gap), lh // 2)
    dw, dh = 7, 12
    x = 30 + int(at * width) - 2 * (dw + 3)
    for i, digit in enumerate("0829"):
        glyph = text_block(digit, (dw, dh), 3, cv2.FONT_HERSHEY_SIMPLEX)
        blend_ink(board, glyph, (20, 20, 20), x + i * (dw + 3), lh // 2 + lh + 8)
    return board


@pytest.mark.parametrize(("at", "plate_like"), [(0.5, True), (0.75, False), (0.85, False)])
def test_glyphs_count_as_the_expiry_of_a_long_row_only_under_its_middle(
    at: float, plate_like: bool
) -> None:
    # A plate centres its main line over the expiry; specks under a shop sign fall anywhere.
    layout = plate_layout(_long_row_over_glyphs(at))
    assert layout is not None
    assert layout.characters >= 10
    assert layout.expiry is plate_like
    assert (layout.plateness >= MIN_PLATENESS) is plate_like


@pytest.mark.parametrize("offset", [5.0, 7.5, 12.25, 18.0])
@pytest.mark.parametrize("block", [11, 23, 73])
def test_the_ink_masks_are_opencvs_adaptive_thresholds_to_the_bit(
    offset: float, block: int
) -> None:
    rng = np.random.default_rng(block)
    flat = render_plate("DK 1234 AB", Scheme.YELLOW, rng, expiry="08.29")
    grey = cv2.cvtColor(cv2.resize(flat, (240, 76)), cv2.COLOR_BGR2GRAY)
    noisy = np.clip(grey + rng.normal(0, 6, grey.shape), 0, 255).astype(np.uint8)
    for image in (grey, noisy, rng.integers(0, 256, (50, 90), dtype=np.uint8)):
        dark, light = _ink_masks(image, block, offset)
        mean_c, inverted = cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV
        expected_dark = cv2.adaptiveThreshold(image, 255, mean_c, inverted, block, offset)
        expected_light = cv2.adaptiveThreshold(255 - image, 255, mean_c, inverted, block, offset)
        assert np.array_equal(dark, expected_dark)
        assert np.array_equal(light, expected_light)


def _tilted_plate_joined_to_its_rim(height: int, angle: float) -> tuple[np.ndarray, Box]:
    """A red plate whose characters' tops join its top rim, tilted by ``angle`` degrees on a
    car, and the finder's band around the whole plate."""
    flat = render_plate("KH 698 TKZ", Scheme.RED, np.random.default_rng(3), expiry="08.29")
    flat_h, flat_w = flat.shape[:2]
    # Glare and blur join the characters' tops to the rim: a line of ink through them.
    top = int(0.10 * flat_h)
    cv2.line(flat, (9, top), (flat_w - 9, top), (240, 240, 240), 8)
    width = round(height * flat_w / flat_h)
    car = np.full((height * 3, width + 2 * height, 3), (160, 40, 40), np.uint8)
    car[height : 2 * height, height : height + width] = cv2.resize(
        flat, (width, height), interpolation=cv2.INTER_AREA
    )
    turn = cv2.getRotationMatrix2D((car.shape[1] / 2, car.shape[0] / 2), angle, 1.0)
    car = cv2.warpAffine(car, turn, (car.shape[1], car.shape[0]), borderValue=(160, 40, 40))
    band = (int(0.8 * height), int(0.8 * height), width + int(0.4 * height), int(1.4 * height))
    return car, band


@pytest.mark.parametrize("angle", [2.5, 3.0])
@pytest.mark.parametrize("height", [44, 50])
def test_a_tilted_plate_whose_characters_join_its_rim_is_plate_like(
    height: int, angle: float
) -> None:
    # Tilted, the rim breaks into runs shorter than half the band, which the first look
    # strips; the shorter runs separate the characters from it (KH 698 TKZ on the benchmark).
    car, band = _tilted_plate_joined_to_its_rim(height, angle)
    layout = plate_layout(car, band)
    assert layout is not None
    assert layout.expiry
    assert layout.plateness >= MIN_PLATENESS


def test_a_second_look_no_more_plate_like_keeps_the_first_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stripping the rim or thinning the ink cuts pieces off the row or joins others on; a row
    # it finds that is no more plate-like is the same row measured worse (a crop of L 4 VVC
    # read as L 4 WVC from a row that took in the rim).
    first = LineLayout((13, 7, 59, 18), 3, False, 0.4)
    taller = LineLayout((11, 3, 59, 23), 3, False, 0.4)
    looks = iter([(454.0, first), None, None, (469.0, taller)])

    def scripted(*_: object) -> tuple[float, LineLayout] | None:
        return next(looks, None)

    monkeypatch.setattr(layout_module, "_best_row", scripted)
    board = np.full((36, 88, 3), (60, 60, 60), np.uint8)
    assert plate_layout(board) == first


def _whole_plate_on_dark_paint(text: str, scheme: Scheme, height: int) -> tuple[np.ndarray, Box]:
    flat = render_plate(text, scheme, np.random.default_rng(1), expiry="08.29")
    width = round(height * flat.shape[1] / flat.shape[0])
    plate = cv2.resize(flat, (width, height), interpolation=cv2.INTER_AREA)
    car = np.full((height * 2, width + height, 3), (25, 25, 25), np.uint8)
    car[height // 2 : height // 2 + height, height // 2 : height // 2 + width] = plate
    return cv2.GaussianBlur(car, (0, 0), 1.5), (height // 2, height // 2, width, height)


@pytest.mark.parametrize(
    ("text", "scheme"), [("S 7914 DZM", Scheme.RED), ("T 5 SFK", Scheme.WHITE_ON_BLACK)]
)
def test_a_whole_plate_band_on_dark_paint_is_plate_like_at_a_finer_threshold(
    text: str, scheme: Scheme, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The finder's band is the whole plate: a threshold window as tall as the band takes the
    # dark paint into its mean, so the plate's background counts as ink and joins the
    # characters into a few plate-high blobs (S 7914 DZM, T 5 SFK on the benchmark).
    car, band = _whole_plate_on_dark_paint(text, scheme, 40)
    layout = plate_layout(car, band)
    assert layout is not None
    assert layout.expiry
    assert layout.plateness >= MIN_PLATENESS
    monkeypatch.setattr(layout_module, "_FINER_BLOCK", 1.0)  # no finer look
    without = plate_layout(car, band)
    assert without is None or without.plateness < MIN_PLATENESS
