"""The learned finder's first step: PP-OCR text detection (DBNet, the ONNX file in the
rapidocr wheel) giving every line of text as a rotated rectangle. Trained on text of every
kind, it finds real plates however lit or worn; ``plate_lines.py`` picks the plates."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from plate_reader.ocr import onnx_session

Image = npt.NDArray[np.uint8]
DET_MODEL = "PP-OCRv6_det_small.onnx"
# The network's strides: its input sides must be multiples of 32.
_STRIDE = 32
# PaddleOCR's own post-processing settings for this model (rapidocr's config.yaml).
_PIXEL_THRESHOLD = 0.3
_UNCLIP_RATIO = 1.6
_MIN_SIDE = 3
# PaddleOCR uses 0.5; a worn or small plate scores 0.4-0.5, a wrong line costs one read.
BOX_THRESHOLD = 0.4


@dataclass(frozen=True, slots=True)
class TextBox:
    """A line of text as a rotated rectangle in frame pixels; ``width`` runs along the text,
    ``angle`` (degrees, [-90, 90), clockwise on screen) from the x axis to it."""

    cx: float
    cy: float
    width: float
    height: float
    angle: float
    score: float

    @property
    def corners(self) -> npt.NDArray[np.float32]:
        """The four corners: top-left, top-right, bottom-right, bottom-left (text upright)."""
        rad = math.radians(self.angle)
        ux, uy = math.cos(rad), math.sin(rad)
        vx, vy = -uy, ux
        hw, hh = self.width / 2, self.height / 2
        return np.array(
            [
                (self.cx - ux * hw - vx * hh, self.cy - uy * hw - vy * hh),
                (self.cx + ux * hw - vx * hh, self.cy + uy * hw - vy * hh),
                (self.cx + ux * hw + vx * hh, self.cy + uy * hw + vy * hh),
                (self.cx - ux * hw + vx * hh, self.cy - uy * hw + vy * hh),
            ],
            np.float32,
        )

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """The upright box (x, y, w, h) around the rectangle, in frame pixels."""
        x, y, w, h = cv2.boundingRect(self.corners.astype(np.int32))
        return int(x), int(y), int(w), int(h)


def upright(rect: tuple[Sequence[float], Sequence[float], float]) -> TextBox:
    """OpenCV's ``minAreaRect`` result as a `TextBox` with width along the text (score 0)."""
    (cx, cy), (w, h), angle = rect
    # Into [-90, 90): a line tilted either way still reads left to right.
    if w < h:
        w, h = h, w
        angle += 90.0
    angle = (angle + 90.0) % 180.0 - 90.0
    return TextBox(float(cx), float(cy), float(w), float(h), float(angle), 0.0)


class TextDetector:
    """Finds lines of text in a BGR image with the PP-OCR detection network, one thread."""

    def __init__(self, model: Path) -> None:
        self._session = onnx_session(model)
        self._input = self._session.get_inputs()[0].name

    def __call__(self, image: Image, scale: float = 1.0) -> list[TextBox]:
        """The text lines in ``image`` (BGR), the network run on it resized by ``scale``."""
        h, w = image.shape[:2]
        net_h = max(_STRIDE, round(h * scale / _STRIDE) * _STRIDE)
        net_w = max(_STRIDE, round(w * scale / _STRIDE) * _STRIDE)
        resized = cv2.resize(image, (net_w, net_h), interpolation=cv2.INTER_LINEAR)
        batch = (resized.astype(np.float32) * (1 / 127.5) - 1.0).transpose(2, 0, 1)[None]
        prob = self._session.run(None, {self._input: batch})[0][0, 0]
        return lines_in(prob, w / net_w, h / net_h)


def lines_in(prob: npt.NDArray[np.float32], sx: float, sy: float) -> list[TextBox]:
    """The text lines of a probability map, in frame pixels (``sx``, ``sy`` per map pixel)."""
    mask = cv2.dilate((prob > _PIXEL_THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    found: list[TextBox] = []
    for contour in contours:
        if len(contour) < 4:
            continue
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < _MIN_SIDE:
            continue
        score = _mean_inside(prob, np.asarray(contour, np.int32))
        if score < BOX_THRESHOLD:
            continue
        box = upright(rect)
        # DBNet shrinks its targets in training: grow back by its unclip distance.
        grow = box.width * box.height * _UNCLIP_RATIO / (2 * (box.width + box.height))
        width, height = box.width + 2 * grow, box.height + 2 * grow
        if height < _MIN_SIDE + 2:
            continue
        rad = math.radians(box.angle)
        # Non-uniform scales change lengths and angles: map the axes, not the numbers.
        ux, uy = math.cos(rad) * sx, math.sin(rad) * sy
        vx, vy = -math.sin(rad) * sx, math.cos(rad) * sy
        found.append(
            TextBox(
                cx=(box.cx + 0.5) * sx,
                cy=(box.cy + 0.5) * sy,
                width=width * math.hypot(ux, uy),
                height=height * math.hypot(vx, vy),
                angle=math.degrees(math.atan2(uy, ux)),
                score=score,
            )
        )
    return found


def _mean_inside(prob: npt.NDArray[np.float32], contour: npt.NDArray[np.int32]) -> float:
    """The mean probability inside ``contour``: how surely the region is text."""
    x, y, w, h = cv2.boundingRect(contour)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [contour - np.array([x, y], np.int32)], 1)
    return float(cv2.mean(prob[y : y + h, x : x + w], mask)[0])
