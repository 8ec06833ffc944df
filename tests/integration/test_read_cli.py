"""``read_files``: one JSON line per image, errors for what is not an image, an exit code."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.scenes import Scheme, plate_crop, qr_scene
from plate_reader import Reader
from plate_reader.cli import read_files

CODE = "DT1:MFRGGZDFMZTWQ2LKNNWG23TPOA"


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    plate = plate_crop(np.random.default_rng(1), "DK 1234 AB", Scheme.BLACK_ON_WHITE, height=80)
    cv2.imwrite(str(folder / "a_plate.png"), plate.image)
    cv2.imwrite(str(folder / "b_qr.jpg"), qr_scene(np.random.default_rng(2), CODE, 0.0).image)
    return folder


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_folder_of_images_gives_a_line_each_and_exit_code_0(
    images: Path, tmp_path: Path, reader: Reader
) -> None:
    expected = tmp_path / "expected.txt"
    expected.write_text("DK 1234 AB\n\nB 1 XY\n", encoding="utf-8")
    out = io.StringIO()
    assert read_files([images], expected_file=expected, out=out, reader=reader) == 0
    plate_line, qr_line = _lines(out)
    assert str(plate_line["file"]).endswith("a_plate.png")
    plates = plate_line["plates"]
    assert isinstance(plates, list)
    assert plates[0]["text"] == "DK1234AB"
    assert plates[0]["match"]["kind"] == "exact"
    assert len(plates[0]["box"]) == 4
    assert qr_line["qr"] == [
        {"text": CODE, "valid_code": True, "corners": qr_line["qr"][0]["corners"]}  # type: ignore[index]
    ]


def test_empty_corrupt_and_missing_files_are_reported_and_the_run_goes_on(
    images: Path, tmp_path: Path, reader: Reader
) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    text = tmp_path / "notes.txt"
    text.write_text("hello", encoding="utf-8")
    missing = tmp_path / "missing.png"
    paths = [empty, corrupt, images / "a_plate.png", text, missing]
    out = io.StringIO()
    assert read_files(paths, expected_file=None, out=out, reader=reader) == 1
    lines = _lines(out)
    assert [("error" in line) for line in lines] == [True, True, False, True, True]
    assert "bukan gambar / not an image file" in str(lines[0]["error"])
    assert "tidak bisa dibaca" in str(lines[4]["error"])
    assert lines[2]["plates"][0]["match"] is None  # type: ignore[index]


def test_16_bit_grey_and_alpha_files_are_read_as_the_8_bit_original(
    tmp_path: Path, reader: Reader
) -> None:
    frame = qr_scene(np.random.default_rng(2), CODE, 0.0).image
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    files = {
        "wide.png": frame.astype(np.uint16) * 257,
        "grey.png": grey,
        "grey16.png": grey.astype(np.uint16) << 4,  # a 12-bit sensor's file
        "alpha.png": cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA),
    }
    for name, image in files.items():
        assert cv2.imwrite(str(tmp_path / name), image)
    out = io.StringIO()
    paths = [tmp_path / name for name in files]
    assert read_files(paths, expected_file=None, out=out, reader=reader) == 0
    for line in _lines(out):
        assert [q["text"] for q in line["qr"]] == [CODE], line["file"]  # type: ignore[union-attr]


def test_a_truncated_or_garbled_image_gives_an_error_line_not_a_crash(
    images: Path, tmp_path: Path, reader: Reader
) -> None:
    ok, png = cv2.imencode(".png", np.full((200, 300, 3), 200, np.uint8))
    assert ok
    data = png.tobytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    garbled = tmp_path / "garbled.png"
    garbled.write_bytes(data[:64] + bytes(range(256)) * 8)
    out = io.StringIO()
    paths = [cut, garbled, images / "b_qr.jpg"]
    assert read_files(paths, expected_file=None, out=out, reader=reader) == 1
    lines = _lines(out)
    assert "error" in lines[0]
    assert "error" in lines[1]
    assert str(lines[0]["error"]).startswith("berkas bukan gambar")
    assert [q["text"] for q in lines[2]["qr"]] == [CODE]  # type: ignore[union-attr]


def test_an_8k_file_is_read_with_corners_in_its_own_pixels(tmp_path: Path, reader: Reader) -> None:
    frame = np.full((4320, 7680, 3), 190, np.uint8)
    code = cv2.resize(
        qr_scene(np.random.default_rng(2), CODE, 0.0).image[250:500, 850:1100], None, fx=3, fy=3
    )
    frame[2000 : 2000 + code.shape[0], 4000 : 4000 + code.shape[1]] = code
    path = tmp_path / "eight_k.jpg"
    assert cv2.imwrite(str(path), frame)
    out = io.StringIO()
    assert read_files([path], expected_file=None, out=out, reader=reader) == 0
    (line,) = _lines(out)
    (qr,) = line["qr"]  # type: ignore[misc]
    assert qr["text"] == CODE
    for x, y in qr["corners"]:
        assert 4000 <= x <= 4000 + code.shape[1]
        assert 2000 <= y <= 2000 + code.shape[0]
