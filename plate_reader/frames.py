"""The reader's input step: what a caller hands in as uint8 BGR or grey, at most `MAX_SIDE`
px (16-bit keeps its top 8 bits in use), or a `FrameError`; `ReadableFrame` maps reads
back to the caller's pixels."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from plate_reader.errors import FrameError
from plate_reader.results import FrameReads, PlateRead, QrRead

Image = npt.NDArray[np.uint8]
# A 4K frame whole, an 8K one halved: a plate too small at 4096 px is lost to blur anyway.
MAX_SIDE = 4096


@dataclass(frozen=True, slots=True)
class ReadableFrame:
    """The image the reader reads; ``scale`` is its pixels per pixel of the caller's frame."""

    image: Image
    scale: float = 1.0

    def _back(self, value: float) -> int:
        return round(value / self.scale)

    def qr_to_caller(self, codes: tuple[QrRead, ...]) -> tuple[QrRead, ...]:
        """``codes`` with their corners in the caller's pixels."""
        if self.scale == 1.0:
            return codes
        return tuple(
            replace(q, corners=tuple((self._back(x), self._back(y)) for x, y in q.corners))
            for q in codes
        )

    def plates_to_caller(self, plates: tuple[PlateRead, ...]) -> tuple[PlateRead, ...]:
        """``plates`` with their boxes in the caller's pixels."""
        if self.scale == 1.0:
            return plates
        return tuple(replace(p, box=self._box_back(p.box)) for p in plates)

    def _box_back(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x, y, w, h = box
        return self._back(x), self._back(y), self._back(w), self._back(h)

    def reads_to_caller(self, reads: FrameReads) -> FrameReads:
        """``reads`` in the caller's pixels."""
        return replace(
            reads, qr=self.qr_to_caller(reads.qr), plates=self.plates_to_caller(reads.plates)
        )


def _described(obj: object) -> str:
    if isinstance(obj, np.ndarray):
        return f"shape {obj.shape} dtype {obj.dtype}"
    return type(obj).__name__


def _eight_bit(array: npt.NDArray[np.generic], got: str) -> Image:
    """``array``'s values as uint8."""
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
    """``obj`` as a uint8 BGR or grey image shrunk to ``max_side``; `FrameError` naming it
    when it cannot be converted."""
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
