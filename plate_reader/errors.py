"""The plate reader's exception tree."""

from __future__ import annotations


class ReaderError(Exception):
    """The reader cannot work: a model file is missing or does not load."""


class FrameError(ValueError):
    """A frame the reader can neither read nor convert: ``reason`` why, ``got`` what it was."""

    def __init__(self, reason_id: str, reason_en: str, got: str) -> None:
        super().__init__(
            f"{reason_id}: frame harus array numpy HxW, HxWx3 atau HxWx4 (uint8, uint16 atau "
            f"float 0..1) / {reason_en}: a frame must be a numpy HxW, HxWx3 or HxWx4 array "
            f"(uint8, uint16 or float 0..1), got {got}"
        )
        self.reason = f"{reason_id} / {reason_en}"
        self.got = got
