"""The real-photo benchmark's set format and scoring (the photos here are blank stand-ins:
this pins the format and the arithmetic, accuracy is judged on real photos only)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from bench.real import load_set, score, tight_crops


def _photo(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((60, 100, 3), value, np.uint8))


def test_labels_name_photos_in_the_folder_or_in_its_images_folder(tmp_path: Path) -> None:
    _photo(tmp_path / "images" / "a.jpg")
    _photo(tmp_path / "images" / "b.jpg")
    (tmp_path / "labels.tsv").write_text(
        "file\tplate\tx\ty\tw\th\tnotes\n"
        "images/a.jpg\tAB 1234 XY\t10\t20\t50\t20\tnight\n"
        "b.jpg\tDK77RS\t\t\t\t\t\n"
        "images/a.jpg\tB1A\t60\t5\t30\t12\t\n",
        encoding="utf-8",
    )
    photos = {p.path.name: p for p in load_set(tmp_path)}
    assert photos["a.jpg"].path == tmp_path / "images" / "a.jpg"
    assert photos["a.jpg"].plates == ("AB1234XY", "B1A")
    assert photos["a.jpg"].boxes == ((10, 20, 50, 20), (60, 5, 30, 12))
    assert photos["b.jpg"].path == tmp_path / "images" / "b.jpg"
    assert photos["b.jpg"].boxes == ()


def test_plates_may_be_the_file_names(tmp_path: Path) -> None:
    _photo(tmp_path / "AB1234XY.jpg")
    _photo(tmp_path / "dk77rs_2.png")
    _photo(tmp_path / "no plate here.jpg")
    assert sorted(p.plates for p in load_set(tmp_path)) == [("AB1234XY",), ("DK77RS",)]


def test_a_crop_takes_a_margin_of_its_plates_size_inside_the_photo(tmp_path: Path) -> None:
    _photo(tmp_path / "images" / "a.jpg")
    (tmp_path / "labels.tsv").write_text(
        "file\tplate\tx\ty\tw\th\tnotes\nimages/a.jpg\tAB1234XY\t10\t20\t40\t20\t\n"
    )
    (photo,) = load_set(tmp_path)
    (crop, plate), = tight_crops(photo, np.zeros((60, 100, 3), np.uint8))  # fmt: skip
    assert plate == "AB1234XY"
    assert crop.shape[:2] == (26, 52)  # 15% of 20 and of 40 on each side


def test_right_first_right_anywhere_and_nothing_are_counted_over_every_photo() -> None:
    images = [np.full((4, 4, 3), v, np.uint8) for v in (0, 1, 2, 3)]
    truths = [("AB1234XY",), ("DK77RS",), ("B1A",), ("L1X",)]
    reads = {0: ["AB1234XY"], 1: ["DK77R", "DK77RS"], 2: [], 3: ["B1A"]}
    result = score(images, truths, lambda image: reads[int(image[0, 0, 0])])
    assert (result["exact"], result["any"], result["nothing"]) == (0.25, 0.5, 0.25)
    assert result["n"] == 4
    assert len(result["misses"]) == 3  # type: ignore[arg-type]
