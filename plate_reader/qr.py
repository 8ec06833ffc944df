"""The reader's QR step: every QR code in a frame, decoded by zxing-cpp. Cells holding
nothing stronger than camera noise are flattened first (zxing's time on an empty frame goes
on noise); a symbol zxing saw but could not decode gets a second look (docs/plate_reader.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from core.codes import PickupCode
from plate_reader.edges import HalfFrame, halved
from plate_reader.results import QrRead

Image = npt.NDArray[np.uint8]
Matrix = npt.NDArray[np.float64]
Quad = npt.NDArray[np.float32]
ToFrame = Callable[[float, float], tuple[int, int]]
_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
# The busy map's cells, in frame pixels: two of zxing's 8-px binariser blocks.
_CELL = 16
# Noise is the strongest edge in the flattest tenth of cells; a quieter frame is read whole.
_NOISE_SHARE = 0.1
_LEAST_NOISE = 5
# Busy: pixels over twice the noise or over 24, zxing's contrast level (docs/plate_reader.md).
_OVER_NOISE = 2.0
_ALWAYS_BUSY = 24
_STRONG_PIXELS = 10
# Past half the frame busy, flattening costs more than it saves.
_MOST_BUSY = 0.5
# 32 px: past zxing's threshold window (16 px either side) and a code's quiet zone.
_MARGIN = 2
# zxing's 8-px blocks and 3-row search step then fall on a code as in the whole frame.
_ALIGN_Y = 24
_BLOCK = np.ones((_CELL // 2, _CELL // 2), np.uint8)
_REACH = np.ones((2 * _MARGIN + 1, 2 * _MARGIN + 1), np.uint8)

# Second look (docs/plate_reader.md): a half-seen code lies in one place; 2 bound the work.
_PLACES = 2
# Modules of margin cut out around a symbol zxing saw whole: its quiet zone.
_CONTEXT = 4
# Around a lone finder pattern: a version-2 code reaches 21.5 modules plus its quiet zone.
_FINDER_REACH = 24
# Bicubic: zxing then samples blurred 2-3 px modules on their centres, not their edges.
_UPSCALE = 2
# Bounds the time a code filling a large frame costs.
_LARGEST_LOOK = 1024
# Unsharp mask, amount 1, sigma in upscaled pixels.
_SHARPEN_SIGMA = 1.0
# Local threshold block in modules: 4-5 read the most.
_LOCAL_MODULES = 4
# A straightened symbol: pixels per module, and modules of quiet zone around it.
_MODULE_PX = 8
_QUIET = 4


def _cell_means(image: Image, cells: tuple[int, int]) -> Image:
    """``image`` (half scale) shrunk to ``cells`` (rows, columns), each its pixels' mean."""
    # Halving three times is four times faster than one resize by eight.
    for _ in range(3):
        image = halved(image)
    if image.shape != cells:  # odd sides round differently; a cell's mean needs no precision
        image = np.asarray(cv2.resize(image, cells[::-1], interpolation=cv2.INTER_AREA), np.uint8)
    return image


def _busy_cells(edges: Image) -> Image | None:
    """1 for cells within `_MARGIN` of edges over the noise; None if too quiet to flatten."""
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
    """The part of ``grey`` zxing needs, plain cells flattened, and its (x, y); None when
    the whole frame is plain."""
    h, w = grey.shape
    busy = _busy_cells(half.edges)
    if busy is None or cv2.countNonZero(busy) >= _MOST_BUSY * busy.size:
        return grey, 0, 0
    rows, cols = busy.shape
    # OpenCV, not numpy: its cost per call was a third of this step.
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
    # Each run of plain cells along a row is filled with its mean grey level.
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


@dataclass(frozen=True, slots=True)
class QrScan:
    """A frame's codes, the places given a second look, and whether it found them."""

    codes: tuple[QrRead, ...]
    looked_again: int = 0
    second_look: bool = False


def decode_qr(image: Image, half: HalfFrame | None = None) -> tuple[QrRead, ...]:
    """Every QR code in a BGR or grey frame, each once, in zxing-cpp's order.

    Plain cells are flattened only with ``half`` at hand: making it for the QR alone costs
    what flattening saves on a frame holding a code.
    """
    return scan_qr(image, half).codes


def scan_qr(image: Image, half: HalfFrame | None = None) -> QrScan:
    """`decode_qr`'s codes, with whether the second look was needed to find them."""
    grey = (
        image if image.ndim == 2 else np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
    )
    part = (grey, 0, 0) if half is None else _quietened(grey, half)
    if part is None:
        return QrScan(())
    readable, dx, dy = part
    found = _zxing(readable)
    codes = _codes(found, lambda x, y: (int(x) + dx, int(y) + dy))
    missed = [b for b in found if not b.valid]
    if codes or not missed:
        return QrScan(codes)
    places = list(_places(missed, dx, dy, grey.shape))
    for place in places:
        codes = _look_again(grey, place)
        if codes:
            return QrScan(codes, len(places), second_look=True)
    return QrScan((), len(places))


def _zxing(grey: Image) -> list[zxingcpp.Barcode]:
    # Codes are upright within ±45° and dark on light: rotations, the inverted and the
    # downscaled pass only cost time. Undecoded symbols come back for the second look.
    return list(
        zxingcpp.read_barcodes(
            grey,
            formats=_QR,
            try_rotate=False,
            try_invert=False,
            try_downscale=False,
            return_errors=True,
        )
    )


def _codes(found: list[zxingcpp.Barcode], to_frame: ToFrame) -> tuple[QrRead, ...]:
    reads: dict[str, QrRead] = {}
    for barcode in found:
        text = barcode.text
        if barcode.valid and text and text not in reads:
            corners = tuple(to_frame(x, y) for x, y in _quad(barcode).tolist())
            reads[text] = QrRead(text, PickupCode.is_well_formed(text), corners)
    return tuple(reads.values())


class _ToFrame:
    """Maps a point of a cut-out, upscaled and maybe straightened image back to the frame."""

    def __init__(
        self, origin: tuple[float, float], scale: float, warp: Matrix | None = None
    ) -> None:
        self._origin = origin
        self._scale = scale
        self._back = None if warp is None else np.linalg.inv(warp)

    def __call__(self, x: float, y: float) -> tuple[int, int]:
        if self._back is not None:
            u, v, w = self._back @ np.array([x, y, 1.0])
            x, y = u / w, v / w
        return (
            round(x / self._scale + self._origin[0]),
            round(y / self._scale + self._origin[1]),
        )


@dataclass(frozen=True, slots=True)
class _Place:
    """Where to look again; ``quad`` and ``modules`` when zxing saw a whole QR symbol."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    module: float  # pixels
    quad: Quad | None
    modules: int


def _quad(barcode: zxingcpp.Barcode) -> Quad:
    p = barcode.position
    points = (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
    return np.array([(q.x, q.y) for q in points], np.float32)


def _grid(barcode: zxingcpp.Barcode) -> tuple[int, int, bool] | None:
    """(rows, columns, whether a QR symbol) zxing sampled, from the version it reports."""
    extra = barcode.extra
    version = str(extra.get("Version", "")) if isinstance(extra, dict) else ""
    if version.isdigit():
        side = 17 + 4 * int(version)
        return side, side, True
    if version[:1] == "M" and version[1:].isdigit():
        side = 9 + 2 * int(version[1:])
        return side, side, False
    rows, _, cols = version[1:].partition("x")
    if version[:1] == "R" and rows.isdigit() and cols.isdigit():
        return int(rows), int(cols), False
    return None


def _places(
    missed: list[zxingcpp.Barcode], dx: int, dy: int, shape: tuple[int, ...]
) -> Iterator[_Place]:
    """Up to `_PLACES` places to look at again, one per undecoded symbol not in one taken."""
    height, width = shape[:2]
    taken: list[tuple[int, int, int, int]] = []
    for barcode in missed:
        grid = _grid(barcode)
        quad = _quad(barcode) + np.array([dx, dy], np.float32)
        if grid is None or np.ptp(quad) < 4:  # no version, or no position
            continue
        rows, cols, whole = grid
        top_left, top_right, _, bottom_left = quad
        across, down = (top_right - top_left) / cols, (bottom_left - top_left) / rows
        module = float(np.linalg.norm(across) + np.linalg.norm(down)) / 2
        if whole:
            centre, reach = quad.mean(axis=0), (rows / 2 + _CONTEXT) * module
        else:  # the finder pattern, in the symbol's top-left corner
            centre, reach = top_left + 3.5 * (across + down), _FINDER_REACH * module
        cx, cy = float(centre[0]), float(centre[1])
        if any(x0 <= cx < x1 and y0 <= cy < y1 for x0, y0, x1, y1 in taken):
            continue
        box = (
            max(0, int(cx - reach)),
            max(0, int(cy - reach)),
            min(width, int(cx + reach) + 1),
            min(height, int(cy + reach) + 1),
        )
        if box[2] - box[0] < 8 or box[3] - box[1] < 8:
            continue
        taken.append(box)
        yield _Place(box, module, quad if whole else None, rows if whole else 0)
        if len(taken) == _PLACES:
            return


def _binarised(image: Image, module: float) -> Image:
    block = max(3, 2 * round(_LOCAL_MODULES * module / 2) + 1)
    return np.asarray(
        cv2.adaptiveThreshold(
            image, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 2
        ),
        np.uint8,
    )


def _looks(image: Image, module: float) -> Iterator[Image]:
    """``image`` as it is, sharpened, and binarised locally (``module`` in its pixels)."""
    yield image
    blurred = cv2.GaussianBlur(image, (0, 0), _SHARPEN_SIGMA)
    yield np.asarray(cv2.addWeighted(image, 2.0, blurred, -1.0, 0), np.uint8)
    yield _binarised(image, module)


def _look_again(grey: Image, place: _Place) -> tuple[QrRead, ...]:
    """The codes zxing reads in ``place`` cut out and upscaled, then straightened."""
    x0, y0, x1, y1 = place.box
    scale = min(_UPSCALE, _LARGEST_LOOK / max(x1 - x0, y1 - y0))
    close = np.asarray(
        cv2.resize(grey[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC),
        np.uint8,
    )
    origin = (float(x0), float(y0))
    symbol = None
    if place.quad is not None:
        symbol = ((place.quad - np.array(origin, np.float32)) * scale, place.modules)
    for look in _looks(close, place.module * scale):
        found = _zxing(look)
        codes = _codes(found, _ToFrame(origin, scale))
        if codes:
            return codes
        # A lone finder pattern seen closer may now show its whole symbol's corners.
        for barcode in found if symbol is None else ():
            grid = _grid(barcode)
            if grid is not None and grid[2]:
                symbol = (_quad(barcode), grid[0])
                break
    if symbol is None:
        return ()
    warp, straight = _straightened(close, *symbol)
    for look in (straight, _binarised(straight, _MODULE_PX)):
        codes = _codes(_zxing(look), _ToFrame(origin, scale, warp))
        if codes:
            return codes
    return ()


def _straightened(image: Image, quad: Quad, modules: int) -> tuple[Matrix, Image]:
    """The homography and the image of a symbol warped square, with its quiet zone."""
    margin, side = _QUIET * _MODULE_PX, modules * _MODULE_PX
    square = np.array(
        [[margin, margin], [margin + side, margin], [margin + side, margin + side],
         [margin, margin + side]],
        np.float32,
    )  # fmt: skip
    warp = np.asarray(cv2.getPerspectiveTransform(quad, square), np.float64)
    size = side + 2 * margin
    straight = cv2.warpPerspective(
        image, warp, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return warp, np.asarray(straight, np.uint8)
