"""Bad input to the reader: converted when it can be, refused clearly when not, never a crash."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.scene_render import qr_image
from bench.scenes import Scheme, plate_crop
from plate_reader import Reader
from plate_reader.errors import FrameError
from plate_reader.frames import MAX_SIDE, ReadableFrame, as_frame
from plate_reader.results import FrameReads, PlateRead, QrRead

CODE = "DT1:MFRGGZDFMZTWQ2LKNNWG23TPOA"


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def _qr_frame(size: tuple[int, int] = (480, 640), module: int = 4, at: int = 100) -> np.ndarray:
    """A BGR frame (height, width) with the code drawn at (at, at), light grey around it."""
    frame = np.full((*size, 3), 180, np.uint8)
    code = qr_image(CODE, module)
    side = code.shape[0]
    frame[at : at + side, at : at + side] = code[:, :, None]
    return frame


def _codes(reads: tuple[QrRead, ...]) -> list[str]:
    return [q.text for q in reads]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (None, "bukan array numpy"),
        ([[0, 0, 0]], "bukan array numpy"),
        (b"\x89PNG", "bukan array numpy"),
        (np.zeros((0, 0, 3), np.uint8), "kosong"),
        (np.zeros((0, 640), np.uint8), "kosong"),
        (np.zeros((720,), np.uint8), "bentuk tidak didukung"),
        (np.zeros((4, 4, 5), np.uint8), "bentuk tidak didukung"),
        (np.zeros((2, 4, 4, 3), np.uint8), "bentuk tidak didukung"),
        (np.zeros((4, 4, 3), np.int64), "tipe data tidak didukung"),
        (np.zeros((4, 4), bool), "tipe data tidak didukung"),
        (np.full((4, 4), np.nan, np.float32), "NaN"),
        (np.full((4, 4), 300.0), "di luar 0..255"),
        (np.full((4, 4), -0.5), "di luar 0..255"),
    ],
)
def test_what_cannot_be_a_frame_is_refused_in_bahasa_then_english(
    reader: Reader, frame: object, reason: str
) -> None:
    for read in (reader.read, reader.read_qr, reader.read_plates):
        with pytest.raises(FrameError) as error:
            read(frame)
        message = str(error.value)
        assert message.startswith(reason) or reason in message.split(" / ")[0]
        assert "a frame must be" in message
        assert f"got {error.value.got}" in message
        assert isinstance(error.value, ValueError)  # callers catching ValueError still do


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (1, 1, 4), (2, 3), (1, 900, 3), (900, 1)])
def test_a_tiny_or_one_pixel_wide_image_reads_as_nothing(reader: Reader, shape: tuple[int]) -> None:
    frame = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    reads = reader.read(frame)
    assert (reads.qr, reads.plates) == ((), ())
    assert reader.read_qr(frame) == ()


def test_a_16_bit_frame_reads_as_its_8_bit_original(reader: Reader) -> None:
    frame = _qr_frame()
    wide = frame.astype(np.uint16) * 257  # full 16-bit range, as a PNG from a 16-bit camera
    assert reader.read_qr(wide) == reader.read_qr(frame)
    assert _codes(reader.read(wide).qr) == [CODE]
    assert np.array_equal(as_frame(wide).image, frame)


def test_a_12_bit_sensor_in_16_bit_words_keeps_its_contrast() -> None:
    frame = _qr_frame()
    twelve = frame.astype(np.uint16) << 4  # values up to 4095: the top byte alone is dark
    assert np.array_equal(as_frame(twelve).image, frame)


@pytest.mark.parametrize("kind", ["grey", "grey HxWx1", "BGRA", "float 0..1", "float 0..255"])
def test_grey_alpha_and_float_frames_are_converted_and_read(reader: Reader, kind: str) -> None:
    frame = _qr_frame()
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    converted = {
        "grey": grey,
        "grey HxWx1": grey[:, :, None],
        "BGRA": cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA),
        "float 0..1": frame.astype(np.float32) / 255,
        "float 0..255": frame.astype(np.float64),
    }[kind]
    assert _codes(reader.read(converted).qr) == [CODE]
    assert reader.read_qr(converted) == reader.read_qr(frame)
    image = as_frame(converted).image
    assert image.dtype == np.uint8
    assert image.ndim == 2 or image.shape[2] == 3


def test_a_mirrored_view_with_negative_strides_is_read(reader: Reader) -> None:
    frame = _qr_frame()[:, ::-1]  # a camera flipped in software: a view, not a copy
    assert not frame.flags.c_contiguous
    # zxing reads a mirrored QR code; what matters is that the view is taken at all.
    reader.read(frame)
    assert as_frame(frame).image.flags.c_contiguous


def test_an_8k_frame_is_shrunk_and_the_corners_come_back_in_its_own_pixels(
    reader: Reader,
) -> None:
    at, module = 3000, 12
    frame = _qr_frame((4320, 7680), module, at)
    checked = as_frame(frame)
    assert checked.image.shape[:2] == (2304, MAX_SIDE)
    assert checked.scale == pytest.approx(MAX_SIDE / 7680)
    for codes in (reader.read_qr(frame), reader.read(frame).qr):
        assert _codes(codes) == [CODE]
        # The symbol (inside its 4-module quiet zone) in the 8K frame's own pixels.
        side = (25 + 8) * module
        for x, y in codes[0].corners:
            assert at + 4 * module - 16 <= x <= at + side - 4 * module + 16
            assert at + 4 * module - 16 <= y <= at + side - 4 * module + 16


def test_a_plate_in_an_8k_frame_is_read_and_boxed_in_its_own_pixels(reader: Reader) -> None:
    crop = plate_crop(np.random.default_rng(3), "DK 1234 AB", Scheme.BLACK_ON_WHITE, height=80)
    big = cv2.resize(crop.image, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    frame = np.full((4320, 7680, 3), 90, np.uint8)
    x0, y0 = 2500, 1800
    frame[y0 : y0 + big.shape[0], x0 : x0 + big.shape[1]] = big
    plates = reader.read_plates(frame)
    assert [p.text for p in plates][:1] == ["DK1234AB"]
    x, y, w, h = plates[0].box
    # The box lies on the plate as drawn in the 8K frame, not in the shrunk copy.
    assert x0 - 40 <= x <= x0 + big.shape[1] // 2
    assert y0 - 40 <= y <= y0 + big.shape[0] // 2
    assert w > big.shape[1] // 2
    assert h > big.shape[0] // 4
    assert x + w <= x0 + big.shape[1] + 40
    assert y + h <= y0 + big.shape[0] + 40


def test_a_frame_at_the_limit_is_read_as_it_is() -> None:
    frame = np.zeros((100, MAX_SIDE, 3), np.uint8)
    checked = as_frame(frame)
    assert checked.scale == 1.0
    assert np.shares_memory(checked.image, frame)  # not copied


def test_reads_of_a_shrunk_frame_map_back_to_the_callers_pixels() -> None:
    shrunk = ReadableFrame(np.zeros((10, 10), np.uint8), scale=0.5)
    qr = QrRead(CODE, True, ((10, 20), (30, 20), (30, 40), (10, 40)))
    plate = PlateRead("DK1234AB", 0.9, (100, 50, 40, 12), ())
    reads = shrunk.reads_to_caller(FrameReads((qr,), (plate,), 1.0))
    assert reads.qr[0].corners == ((20, 40), (60, 40), (60, 80), (20, 80))
    assert reads.plates[0].box == (200, 100, 80, 24)
    assert (reads.qr[0].text, reads.plates[0].text, reads.ms) == (CODE, "DK1234AB", 1.0)
