"""The learned plate finder: text detection, plate lines, straightening and reading."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.scenes import Scheme, car_scene
from plate_reader.detect import DET_MODEL, TextBox, TextDetector, upright
from plate_reader.learned import LearnedFinder, main_row, straightened
from plate_reader.ocr import REC_MODEL, Recogniser, rapidocr_models_dir
from plate_reader.plate_lines import plate_lines


@pytest.fixture(scope="module")
def detector() -> TextDetector:
    return TextDetector(rapidocr_models_dir() / DET_MODEL)


@pytest.fixture(scope="module")
def finder(detector: TextDetector) -> LearnedFinder:
    return LearnedFinder(detector, Recogniser(rapidocr_models_dir() / REC_MODEL))


def _box(cx: float, cy: float, w: float, h: float, angle: float = 0.0) -> TextBox:
    return TextBox(cx, cy, w, h, angle, 0.8)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / float(aw * ah + bw * bh - w * h)


def test_a_rectangle_standing_on_its_short_side_is_turned_to_run_along_its_text() -> None:
    box = upright(((50.0, 20.0), (10.0, 40.0), 80.0))
    assert (box.width, box.height) == (40.0, 10.0)
    assert -90.0 <= box.angle < 90.0
    assert abs(box.angle - (-10.0)) < 1e-6


def test_the_parts_of_a_split_main_line_are_joined_and_kept() -> None:
    # ``AA 1566`` and ``YB`` found apart, one height, half a line height between them.
    left, right = _box(100, 50, 120, 30), _box(195, 51, 50, 30)
    lines = plate_lines([left, right])
    joined = [c for c in lines if c.parts == 2]
    assert len(joined) == 1
    assert joined[0].box.width == pytest.approx(195 + 25 - 40, abs=2)
    assert {c.parts for c in lines} == {1, 2}


def test_lines_of_other_heights_or_far_apart_are_not_joined() -> None:
    plate = _box(100, 50, 120, 30)
    far = _box(400, 50, 120, 30)
    sign = _box(230, 50, 100, 60)
    assert all(c.parts == 1 for c in plate_lines([plate, far, sign]))


def test_a_smaller_line_centred_under_a_line_is_its_expiry_and_ranks_it_first() -> None:
    plate, expiry = _box(300, 100, 150, 30), _box(300, 135, 50, 12)
    sign = _box(100, 40, 150, 30)
    lines = plate_lines([sign, plate, expiry])
    assert lines[0].box == plate
    assert lines[0].expiry
    assert not next(c for c in lines if c.box == sign).expiry


def test_a_lone_character_or_a_long_slogan_is_no_plate_line() -> None:
    assert plate_lines([_box(50, 50, 30, 30), _box(300, 50, 400, 30)]) == []


@pytest.mark.parametrize("scale", [0.5, 1.0, 1.8])
def test_detected_lines_are_in_frame_pixels_at_any_input_scale(
    detector: TextDetector, scale: float
) -> None:
    sample = car_scene(np.random.default_rng(3), "DK 1234 AB", level=0.2)
    lines = detector(sample.image, scale)
    assert max(_overlap(line.bounds, sample.box) for line in lines) > 0.4


def test_a_tilted_line_is_straightened_before_it_is_read(finder: LearnedFinder) -> None:
    frame = np.full((240, 480, 3), 235, np.uint8)
    cv2.putText(frame, "B 1234 XY", (60, 140), cv2.FONT_HERSHEY_DUPLEX, 1.6, (20, 20, 20), 3)
    turn = cv2.getRotationMatrix2D((240, 120), 12, 1.0)
    tilted = cv2.warpAffine(frame, turn, (480, 240), borderValue=(235, 235, 235))
    (line,) = [c.box for c in finder.candidates(np.asarray(tilted, np.uint8))][:1]
    assert abs(abs(line.angle) - 12) < 4
    upright_line = straightened(np.asarray(tilted, np.uint8), line, 0.3, 0.08)
    assert upright_line.shape[1] > 2.5 * upright_line.shape[0]
    assert [p.text for p in finder.read(np.asarray(tilted, np.uint8))][:1] == ["B1234XY"]


@pytest.mark.parametrize("scheme", list(Scheme))
def test_each_colour_scheme_is_found_and_read_in_a_frame(
    finder: LearnedFinder, scheme: Scheme
) -> None:
    rng = np.random.default_rng(40)
    hits = 0
    for plate in ("AB 1234 CD", "DK 5678 XY", "B 902 KQ"):
        sample = car_scene(rng, plate, scheme, level=0.4)
        hits += [p.text for p in finder.read(sample.image)][:1] == [sample.plate]
    assert hits >= 2


def test_the_main_line_is_cut_out_of_a_box_that_took_in_the_expiry_line() -> None:
    # A white plate on green paint, its main line and the smaller expiry line under it,
    # lit brighter at the top (glare sways a threshold, not the strokes' edges).
    line = np.full((64, 300, 3), (40, 120, 40), np.uint8)
    cv2.rectangle(line, (20, 3), (280, 61), (235, 235, 235), -1)
    cv2.putText(line, "B 1234 XY", (35, 37), cv2.FONT_HERSHEY_DUPLEX, 1.3, (20, 20, 20), 3)
    cv2.putText(line, "06.29", (125, 56), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1)
    shade = np.linspace(1.0, 0.7, 64, dtype=np.float32)[:, None, None]
    lit = np.asarray(np.clip(line * shade, 0, 255), np.uint8)
    cut = main_row(lit)
    top = next(y for y in range(64) if np.array_equal(lit[y], cut[0]))
    bottom = top + cut.shape[0]
    # The main line's rows (about 10-37) are all inside, the expiry line's (46-56) are not.
    assert top <= 10
    assert bottom >= 37
    assert bottom < 46


def test_a_line_with_one_row_is_read_whole() -> None:
    line = np.full((40, 200, 3), 235, np.uint8)
    cv2.putText(line, "DK 77 XY", (10, 30), cv2.FONT_HERSHEY_DUPLEX, 0.9, (20, 20, 20), 2)
    assert main_row(line).shape == line.shape


@pytest.mark.parametrize("light", ["night", "infrared"])
def test_plates_at_night_and_on_an_infrared_camera_are_found_and_read(
    finder: LearnedFinder, light: str
) -> None:
    rng = np.random.default_rng(41)
    hits = 0
    for plate in ("AB 1234 CD", "DK 5678 XY", "B 902 KQ"):
        frame = car_scene(rng, plate, Scheme.BLACK_ON_WHITE, level=0.0).image
        if light == "night":  # low light, the noise floor lifted
            frame = np.clip(frame.astype(np.float32) * 0.4 + 8, 0, 255).astype(np.uint8)
        else:  # grey, contrast stretched
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            grey = cv2.normalize(grey, grey.copy(), 10, 245, cv2.NORM_MINMAX)
            frame = np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8)
        hits += [p.text for p in finder.read(frame)][:1] == [plate.replace(" ", "")]
    assert hits >= 2
