"""What a caller hands the reader, as the frame it reads: uint8 BGR or grey, at most 4096 px.

Converted: 16-bit (its top 8 bits in use, so 10- and 12-bit sensors keep their contrast), BGRA
(alpha dropped), HxWx1 (to HxW), float in 0..1 or 0..255, a view with odd strides (made
contiguous), and a frame longer than `MAX_SIDE` (shrunk with INTER_AREA; `ReadableFrame`
maps what the reader finds back to the caller's pixels). Refused with `FrameError`: what is
not a numpy array, an empty array, other shapes and dtypes, floats out of range or not finite.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from plate_reader.errors import FrameError
from plate_reader.results import FrameReads, PlateRead, QrRead

Image = npt.NDArray[np.uint8]
# The long side the reader reads at: a 4K frame whole, an 8K frame halved. A plate or code
# too small to read at 4096 px would be lost to the camera's own blur first.
MAX_SIDE = 4096


@dataclass(frozen=True, slots=True)
class ReadableFrame:
    """The image the reader reads; ``scale`` is its pixels per pixel of the caller's frame."""

    image: Image
    scale: float = 1.0

    def _back(self, value: float) -> int:
        return round(value / self.scale)

    def qr_to_caller(self, codes: tuple[QrRead, ...]) -> tuple[QrRead, ...]:
        """``codes`` read in `image`, their corners in the caller's pixels."""
        if self.scale == 1.0:
            return codes
        return tuple(
            replace(q, corners=tuple((self._back(x), self._back(y)) for x, y in q.corners))
            for q in codes
        )

    def plates_to_caller(self, plates: tuple[PlateRead, ...]) -> tuple[PlateRead, ...]:
        """``plates`` read in `image`, their boxes in the caller's pixels."""
        if self.scale == 1.0:
            return plates
        return tuple(replace(p, box=self._box_back(p.box)) for p in plates)

    def _box_back(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x, y, w, h = box
        return self._back(x), self._back(y), self._back(w), self._back(h)

    def reads_to_caller(self, reads: FrameReads) -> FrameReads:
        """``reads`` of `image`, in the caller's pixels."""
        return replace(
            reads, qr=self.qr_to_caller(reads.qr), plates=self.plates_to_caller(reads.plates)
        )


def _described(obj: object) -> str:
    if isinstance(obj, np.ndarray):
        return f"shape {obj.shape} dtype {obj.dtype}"
    return type(obj).__name__


def _eight_bit(array: npt.NDArray[np.generic], got: str) -> Image:
    """``array``'s values as uint8 (the channels are not looked at here)."""
    if array.dtype == np.uint8:
        return np.asarray(array, np.uint8)
    if array.dtype == np.uint16:
        top = int(array.max())
        shift = max(0, top.bit_length() - 8)
        return np.asarray(np.right_shift(array.view(np.uint16), shift), np.uint8)
    if array.dtype.kind == "f":
        values = array.astype(np.float32, copy=False)
        if not bool(np.isfinite(values).all()):
            raise FrameError("berisi NaN atau tak hingga", "holds NaN or infinity", got)
        low, high = float(values.min()), float(values.max())
        if low < 0 or high > 255:
            raise FrameError("di luar 0..255", "out of 0..255", got)
        if high <= 1:
            values = values * 255
        return np.asarray(np.rint(values), np.uint8)
    raise FrameError("tipe data tidak didukung", "unsupported dtype", got)


def as_frame(obj: object, *, max_side: int | None = MAX_SIDE) -> ReadableFrame:
    """``obj`` as a uint8 BGR or grey image the reader can read, shrunk to ``max_side``.

    Raises `FrameError` (a `ValueError`) naming what ``obj`` is when it cannot be converted.
    """
    got = _described(obj)
    if not isinstance(obj, np.ndarray):
        raise FrameError("bukan array numpy", "not a numpy array", got)
    if obj.size == 0:
        raise FrameError("kosong", "empty", got)
    if obj.ndim == 3 and obj.shape[2] == 1:
        obj = obj[:, :, 0]
    if not (obj.ndim == 2 or (obj.ndim == 3 and obj.shape[2] in (3, 4))):
        raise FrameError("bentuk tidak didukung", "unsupported shape", got)
    image = np.ascontiguousarray(_eight_bit(obj, got))
    if image.ndim == 3 and image.shape[2] == 4:
        image = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2BGR), np.uint8)
    height, width = image.shape[:2]
    if max_side is None or max(height, width) <= max_side:
        return ReadableFrame(image)
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    shrunk = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    return ReadableFrame(shrunk, scale)
