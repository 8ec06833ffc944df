"""The QR second look: where zxing saw a symbol it could not decode, and only there."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import segno
import zxingcpp

from bench.scenes import empty_scene
from plate_reader.edges import half_frame
from plate_reader.qr import decode_qr, scan_qr

TEXT = "DT1:MFRGGZDFMZTWQ2LKNNWG23TPOA"
Quad = npt.NDArray[np.float32]


def _held_up(module: int, blur: float, tilt: float, seed: int) -> tuple[np.ndarray, Quad]:
    """A grey 640x480 frame with ``TEXT`` as a QR of ``module`` px, its left edge ``tilt``
    shorter (perspective), blurred and noisy; and the code's corners with its quiet zone."""
    matrix = np.pad(np.array(segno.make_qr(TEXT, error="m").matrix, bool), 4)
    code = np.where(matrix, 40, 220).astype(np.uint8)
    side = code.shape[0] * module
    code = np.asarray(cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST), np.uint8)
    half, cx, cy = side / 2, 320.0, 240.0
    quad = np.array(
        [[cx - half, cy - half * (1 - tilt)], [cx + half, cy - half], [cx + half, cy + half],
         [cx - half, cy + half * (1 - tilt)]],
        np.float32,
    )  # fmt: skip
    square = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32)
    warp = cv2.getPerspectiveTransform(square, quad)
    frame = np.full((480, 640), 128, np.uint8)
    inside = cv2.warpPerspective(np.full_like(code, 255), warp, (640, 480)) > 0
    frame[inside] = cv2.warpPerspective(code, warp, (640, 480), flags=cv2.INTER_AREA)[inside]
    blurred = cv2.GaussianBlur(frame, (0, 0), blur).astype(np.float64)
    noise = np.random.default_rng(seed).normal(0, 3.0, frame.shape)
    return np.clip(blurred + noise, 0, 255).astype(np.uint8), quad


def _zxing_alone(frame: np.ndarray) -> set[str]:
    """zxing-cpp with its defaults (rotations, downscaling, inversion: all it can try)."""
    formats = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    return {b.text for b in zxingcpp.read_barcodes(frame, formats=formats)}


@pytest.mark.parametrize(
    ("module", "blur", "tilt"),
    [(2, 1.0, 0.0), (2, 0.9, 0.15), (3, 1.2, 0.35), (4, 1.6, 0.35)],
    ids=["small-blurred", "small-blurred-tilted", "blurred-tilted", "very-blurred-tilted"],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_code_zxing_alone_cannot_read_is_read_by_the_second_look(
    module: int, blur: float, tilt: float, seed: int
) -> None:
    frame, quad = _held_up(module, blur, tilt, seed)
    assert TEXT not in _zxing_alone(frame)
    scan = scan_qr(frame)
    assert [q.text for q in scan.codes] == [TEXT]
    assert scan.second_look
    assert scan.looked_again >= 1
    assert scan.codes[0].valid_code
    # Its corners are the frame's pixels: on the symbol, inside the code's quiet zone.
    outline = quad.reshape(-1, 1, 2)
    for x, y in scan.codes[0].corners:
        assert cv2.pointPolygonTest(outline, (float(x), float(y)), measureDist=False) >= 0


def test_the_second_look_also_serves_the_flattened_frame_the_reader_passes() -> None:
    frame, _ = _held_up(2, 1.0, 0.0, 3)
    assert [q.text for q in decode_qr(frame, half_frame(frame))] == [TEXT]


@pytest.mark.parametrize("seed", range(6))
def test_an_empty_lane_never_enters_the_second_look(seed: int) -> None:
    grey = np.asarray(
        cv2.cvtColor(empty_scene(np.random.default_rng(seed)), cv2.COLOR_BGR2GRAY), np.uint8
    )
    for scan in (scan_qr(grey), scan_qr(grey, half_frame(grey))):
        assert (scan.codes, scan.looked_again, scan.second_look) == ((), 0, False)


def test_a_code_zxing_reads_at_once_gets_no_second_look() -> None:
    frame, _ = _held_up(4, 0.6, 0.1, 0)
    scan = scan_qr(frame)
    assert [q.text for q in scan.codes] == [TEXT]
    assert (scan.looked_again, scan.second_look) == (0, False)
