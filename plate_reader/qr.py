"""Pickup QR codes: find and decode every QR code in a frame with zxing-cpp.

Chosen by ``bench/reader.py``: zxing-cpp alone decodes more of the hard synthetic frames than
OpenCV's QRCodeDetector or QRCodeDetectorAruco, at a fraction of their time, and running
those after it adds almost nothing (docs/plate_reader.md has the figures).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from core.codes import PickupCode
from plate_reader.results import QrRead

Image = npt.NDArray[np.uint8]
_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _corners(barcode: zxingcpp.Barcode) -> tuple[tuple[int, int], ...]:
    position = barcode.position
    points = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    return tuple((int(p.x), int(p.y)) for p in points)


def decode_qr(image: Image) -> tuple[QrRead, ...]:
    """Every QR code in a BGR or grey frame, each once, in the order zxing-cpp finds them."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    # Codes held up at a window are upright within ±45°: the 90° rotations only cost time.
    # Pickup codes are dark on light (paper, or a phone screen in its normal mode), so the
    # inverted pass only costs time too: it finds nothing more on the benchmark set.
    # A downscaled second pass finds nothing more either (bench/reader.py).
    found = zxingcpp.read_barcodes(
        grey, formats=_QR, try_rotate=False, try_invert=False, try_downscale=False
    )
    reads: dict[str, QrRead] = {}
    for barcode in found:
        text = barcode.text
        if text and text not in reads:
            reads[text] = QrRead(text, PickupCode.is_well_formed(text), _corners(barcode))
    return tuple(reads.values())
