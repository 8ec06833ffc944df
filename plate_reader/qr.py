"""Pickup QR codes: find and decode every QR code in a frame with zxing-cpp.

Chosen by ``bench/reader.py``: zxing-cpp alone decodes more of the hard synthetic frames than
OpenCV's QRCodeDetector or QRCodeDetectorAruco, at a fraction of their time, and running
those after it adds almost nothing (docs/plate_reader.md has the figures).

Most of zxing's time on a frame without a code goes on camera noise: its binariser only
treats an 8-px block as plain when its grey levels span 24 or less, so a plain wall with
noise turns into speckle that the finder-pattern search then combs row by row. Cells of the
frame with no edge stronger than the noise are therefore flattened to their mean, and zxing
reads only the part that holds the rest. A code's module edges stand out of the noise in
every cell they cross (or zxing could not read it either), and the cells around them are
kept too, so zxing sees a code, its quiet zone and all its binariser looks at unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from core.codes import PickupCode
from plate_reader.edges import HalfFrame, halved
from plate_reader.results import QrRead

Image = npt.NDArray[np.uint8]
_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
# The busy map's cells, in frame pixels: two of zxing's 8-px binariser blocks.
_CELL = 16
# Camera noise is the strongest edge (3x3 gradient at half scale) in the flattest tenth of
# the cells: a wall, the sky, the road, a car body. A frame quieter than _LEAST_NOISE is read
# whole: zxing is quick on it, as only noise makes flattening pay.
_NOISE_SHARE = 0.1
_LEAST_NOISE = 5
# A cell is busy when _STRONG_PIXELS of its pixels have an edge over twice the noise, or
# over 24 grey levels whatever the noise (zxing's binariser takes a block whose levels span
# more than 24 as contrast). A spike of noise lights a few pixels; a code's module edges light
# many in every cell they cross. Of 1002 synthetic codes that zxing decodes in the whole
# frame (1-4 px modules, contrast 8-128, noise sigma 0-20, blur, JPEG; on plain, partly and
# wholly textured backgrounds) none is lost; at 3 times the noise one is, at 30 pixels one.
_OVER_NOISE = 2.0
_ALWAYS_BUSY = 24
_STRONG_PIXELS = 10
# Flattening pays when the busy cells (with their margins) are under half of the frame; past
# that, copying and filling the plain ones costs zxing more time than it saves.
_MOST_BUSY = 0.5
# Cells kept around each busy one: 32 px, past zxing's reach (its threshold averages 5x5
# blocks, 16 px either side) and the quiet zone of a code whose edge cells are not busy.
_MARGIN = 2
# The part zxing reads starts on a multiple of its 8-px blocks (as cells do) and, down the
# frame, of the 3 rows it steps through in its search: both fall on a code as in the frame.
_ALIGN_Y = 24
_BLOCK = np.ones((_CELL // 2, _CELL // 2), np.uint8)
_REACH = np.ones((2 * _MARGIN + 1, 2 * _MARGIN + 1), np.uint8)


def _corners(barcode: zxingcpp.Barcode, dx: int, dy: int) -> tuple[tuple[int, int], ...]:
    position = barcode.position
    points = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    return tuple((int(p.x) + dx, int(p.y) + dy) for p in points)


def _cell_means(image: Image, cells: tuple[int, int]) -> Image:
    """``image`` (half scale) shrunk to ``cells`` (rows, columns), each its pixels' mean."""
    # Halving three times is four times faster than one resize by eight.
    for _ in range(3):
        image = halved(image)
    if image.shape != cells:  # odd sides round differently; a cell's mean needs no precision
        image = np.asarray(cv2.resize(image, cells[::-1], interpolation=cv2.INTER_AREA), np.uint8)
    return image


def _busy_cells(edges: Image) -> Image | None:
    """Which cells hold (or are within `_MARGIN` of) edges stronger than camera noise (1, the
    others 0); None when the frame shows too little noise to be worth flattening."""
    side = _CELL // 2
    strongest = cv2.dilate(edges, _BLOCK, anchor=(0, 0))[::side, ::side]
    flattest = int(_NOISE_SHARE * strongest.size)
    noise = float(np.partition(strongest, flattest, axis=None)[flattest])
    if noise < _LEAST_NOISE:
        return None
    level = min(_ALWAYS_BUSY, _OVER_NOISE * noise)
    _, strong = cv2.threshold(edges, level - 0.5, 255, cv2.THRESH_BINARY)
    share = _cell_means(np.asarray(strong, np.uint8), strongest.shape)
    busy = np.asarray(share >= 255 * _STRONG_PIXELS / side**2, np.uint8)
    return np.asarray(cv2.dilate(busy, _REACH), np.uint8)


def _quietened(grey: Image, half: HalfFrame) -> tuple[Image, int, int] | None:
    """The part of ``grey`` that zxing needs to read, with its plain cells flattened, and
    where it starts (x, y); None when the whole frame is plain, so there is no code."""
    h, w = grey.shape
    busy = _busy_cells(half.edges)
    if busy is None or cv2.countNonZero(busy) >= _MOST_BUSY * busy.size:
        return grey, 0, 0
    rows, cols = busy.shape
    # (OpenCV's reductions and padding here: numpy's cost per call was a third of this step.)
    busy_rows = np.flatnonzero(cv2.reduce(busy, 1, cv2.REDUCE_MAX))
    busy_cols = np.flatnonzero(cv2.reduce(busy, 0, cv2.REDUCE_MAX))
    if busy_rows.size == 0:
        return None
    first_row, last_row = int(busy_rows[0]), int(busy_rows[-1])
    first_col, last_col = int(busy_cols[0]), int(busy_cols[-1])
    y0, x0 = first_row * _CELL // _ALIGN_Y * _ALIGN_Y, first_col * _CELL
    # A busy cell on the last row or column keeps the frame's edge beyond it.
    y1 = h if last_row == rows - 1 else min(h, (last_row + 1) * _CELL)
    x1 = w if last_col == cols - 1 else min(w, (last_col + 1) * _CELL)
    out = grey[y0:y1, x0:x1].copy()
    # Runs of plain cells along each row of cells, each filled with its mean grey level.
    sums = np.zeros((rows, cols + 1), np.int32)
    np.cumsum(_cell_means(half.grey, busy.shape), axis=1, out=sums[:, 1:])
    # +1 where a run of plain cells starts, -1 just past its end.
    plain = cv2.copyMakeBorder(1 - busy, 0, 0, 1, 1, cv2.BORDER_CONSTANT, value=0).view(np.int8)
    step = plain[:, 1:] - plain[:, :-1]
    run_rows, starts = np.nonzero(step == 1)
    ends = np.nonzero(step == -1)[1]
    levels = (sums[run_rows, ends] - sums[run_rows, starts]) // (ends - starts)
    tops, bottoms = (np.maximum(edge * _CELL - y0, 0) for edge in (run_rows, run_rows + 1))
    lefts, rights = (np.maximum(edge * _CELL - x0, 0) for edge in (starts, ends))
    for top, bottom, left, right, level in zip(
        tops.tolist(),
        bottoms.tolist(),
        lefts.tolist(),
        rights.tolist(),
        levels.tolist(),
        strict=True,
    ):
        out[top:bottom, left:right] = level
    return out, x0, y0


def decode_qr(image: Image, half: HalfFrame | None = None) -> tuple[QrRead, ...]:
    """Every QR code in a BGR or grey frame, each once, in the order zxing-cpp finds them.

    With ``half`` (the grey frame at half scale, which `Reader.read` makes for the plate
    finder anyway) plain cells are flattened first. Without it the frame is read whole:
    making the half scale for the QR alone costs about what flattening saves on a frame that
    holds a code, and callers of `Reader.read_qr` (the lane, after its motion gate) mostly
    pass such frames.
    """
    grey = (
        image if image.ndim == 2 else np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
    )
    part = (grey, 0, 0) if half is None else _quietened(grey, half)
    if part is None:
        return ()
    readable, dx, dy = part
    # Codes held up at a window are upright within ±45°: the 90° rotations only cost time.
    # Pickup codes are dark on light (paper, or a phone screen in its normal mode), so the
    # inverted pass only costs time too: it finds nothing more on the benchmark set.
    # A downscaled second pass finds nothing more either (bench/reader.py).
    found = zxingcpp.read_barcodes(
        readable, formats=_QR, try_rotate=False, try_invert=False, try_downscale=False
    )
    reads: dict[str, QrRead] = {}
    for barcode in found:
        text = barcode.text
        if text and text not in reads:
            reads[text] = QrRead(text, PickupCode.is_well_formed(text), _corners(barcode, dx, dy))
    return tuple(reads.values())
