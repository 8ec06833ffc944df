"""Pure vision for drivethru: a camera frame in, pickup QR codes and plates out.

No I/O besides loading the PP-OCR models in the rapidocr wheel (docs/plate_reader.md).
"""

from __future__ import annotations

from plate_reader.errors import FrameError, ReaderError
from plate_reader.reader import Finder, Reader
from plate_reader.results import FrameReads, PlateRead, QrRead

__all__ = ["Finder", "FrameError", "FrameReads", "PlateRead", "QrRead", "Reader", "ReaderError"]
