from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.plates import parse_plate
from tests.real_set import HEADER, PlateBox, RealPhoto, RealSetError, load_real_set

# A licensed set in the checkout, or one named by DRIVETHRU_REAL_PHOTOS (the steering
# repository's shared/ is where such data lives).
REAL_SET = Path(
    os.environ.get("DRIVETHRU_REAL_PHOTOS") or Path(__file__).resolve().parents[1] / "data" / "real"
)
MIN_PHOTOS = 100


def _write_labels(root: Path, rows: list[str]) -> None:
    (root / "labels.tsv").write_text("\n".join(["\t".join(HEADER), *rows]) + "\n")


def test_rows_of_one_file_become_one_photo_with_its_plates_in_order(tmp_path: Path) -> None:
    _write_labels(
        tmp_path,
        [
            "images/a.jpg\tAB1234XY\t10\t20\t80\t30\tnight tilt",
            "images/b.jpg\tB1A\t0\t0\t5\t5\t",
            "images/a.jpg\tDK77XY\t100\t20\t60\t25\tfar",
        ],
    )

    photos = load_real_set(tmp_path)

    assert photos == [
        RealPhoto(
            tmp_path / "images/a.jpg",
            (("AB1234XY", PlateBox(10, 20, 80, 30)), ("DK77XY", PlateBox(100, 20, 60, 25))),
            frozenset({"night", "tilt", "far"}),
        ),
        RealPhoto(tmp_path / "images/b.jpg", (("B1A", PlateBox(0, 0, 5, 5)),), frozenset()),
    ]


def test_a_wrong_header_or_a_short_row_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "labels.tsv").write_text("file\tplate\n")
    with pytest.raises(RealSetError, match=":1:"):
        load_real_set(tmp_path)

    _write_labels(tmp_path, ["images/a.jpg\tAB1234XY\t1\t2\t3\tnight"])
    with pytest.raises(RealSetError, match=":2:"):
        load_real_set(tmp_path)


def test_a_box_must_lie_inside_the_image() -> None:
    assert PlateBox(0, 0, 640, 480).fits_in(640, 480)
    assert not PlateBox(600, 0, 41, 10).fits_in(640, 480)
    assert not PlateBox(-1, 5, 10, 10).fits_in(640, 480)
    assert not PlateBox(5, 5, 0, 10).fits_in(640, 480)


@pytest.fixture(scope="module")
def real_set() -> list[RealPhoto]:
    if not (REAL_SET / "labels.tsv").is_file():
        pytest.skip(f"the real-photo set is not in this checkout ({REAL_SET}/labels.tsv)")
    return load_real_set(REAL_SET)


def test_every_label_names_an_existing_image(real_set: list[RealPhoto]) -> None:
    missing = [str(photo.path) for photo in real_set if not photo.path.is_file()]
    assert missing == []


def test_every_plate_text_is_a_normalised_tnkb_plate(real_set: list[RealPhoto]) -> None:
    for photo in real_set:
        for text, _box in photo.plates:
            assert parse_plate(text).text == text, photo.path.name


def test_every_box_lies_inside_its_image(real_set: list[RealPhoto]) -> None:
    for photo in real_set:
        image = cv2.imread(str(photo.path))
        assert isinstance(image, np.ndarray), photo.path.name
        height, width = image.shape[:2]
        assert max(height, width) <= 640, photo.path.name
        for text, box in photo.plates:
            assert box.fits_in(width, height), f"{photo.path.name} {text} {box}"


def test_the_set_has_enough_whole_scene_photos(real_set: list[RealPhoto]) -> None:
    assert sum(not photo.is_crop for photo in real_set) >= MIN_PHOTOS
