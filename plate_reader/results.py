"""What the reader returns: frozen results, one per QR code, plate and frame."""

from __future__ import annotations

from dataclasses import dataclass

from core.plates import PlateMatch


@dataclass(frozen=True, slots=True)
class QrRead:
    """A decoded QR code; ``valid_code`` says whether it is a well-formed ``DT1:`` pickup code."""

    text: str
    valid_code: bool
    corners: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class PlateRead:
    """A plate read through the TNKB grammar; ``box`` is (x, y, w, h) in frame pixels;
    ``evidence`` the per-character probabilities over `ocr.ALPHABET` a visit votes with."""

    text: str
    confidence: float
    box: tuple[int, int, int, int]
    alternatives: tuple[str, ...]
    match: PlateMatch | None = None
    evidence: tuple[tuple[float, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class FrameReads:
    """Everything read in one frame; ``plates`` best first, ``ms`` the time spent reading."""

    qr: tuple[QrRead, ...]
    plates: tuple[PlateRead, ...]
    ms: float
