"""Recognition for both finders: PP-OCR from the rapidocr wheel's ONNX file, one thread,
decoded over letters and digits only (the 18k-character dictionary invites look-alikes)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from plate_reader.errors import ReaderError

Image = npt.NDArray[np.uint8]
REC_HEIGHT = 48
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Separators the model may emit between plate groups; decoded as a break, not a character.
_SEPARATORS = " .-·:"
REC_MODEL = "PP-OCRv6_rec_small.onnx"


def rapidocr_models_dir() -> Path:
    """Where the rapidocr wheel keeps its ONNX models (the package is not imported)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise ReaderError("paket rapidocr tidak terpasang / the rapidocr package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def onnx_session(path: Path) -> ort.InferenceSession:
    """A one-thread CPU session of the model at ``path``; `ReaderError` if missing or broken."""
    if not path.is_file():
        raise ReaderError(f"model tidak ditemukan / model file not found: {path}")
    options = ort.SessionOptions()
    # One core per lane: more threads only fight the other lanes for the CPU.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped failures
        raise ReaderError(f"model tidak bisa dimuat / cannot load model {path}: {error}") from error


@dataclass(frozen=True, slots=True)
class TextLine:
    """A recognised line; for each non-space character, ``scores`` over `ALPHABET` (to
    choose between look-alikes) and ``positions`` (fraction of the width; coarse, 8 px)."""

    text: str
    probs: tuple[float, ...]
    confidence: float
    scores: tuple[npt.NDArray[np.float32], ...] = ()
    positions: tuple[float, ...] = ()


class Recogniser:
    """CTC text recognition over a 48-pixel-high line image, letters and digits only."""

    def __init__(self, model: Path) -> None:
        self._session = onnx_session(model)
        meta = self._session.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise ReaderError(f"model tanpa kamus / model has no character list: {model}")
        # Class 0 is the CTC blank and the last class is a space, as PaddleOCR trains them.
        classes = ["", *meta["character"].splitlines(), " "]
        keep = [0]
        symbols = [""]
        for index, char in enumerate(classes):
            if index and (char in ALPHABET or char in _SEPARATORS):
                keep.append(index)
                symbols.append(char if char in ALPHABET else " ")
        self._keep = np.array(keep)
        self._symbols = symbols
        self._alphabet_columns = np.array([symbols.index(c) for c in ALPHABET])
        self._input = self._session.get_inputs()[0].name

    def __call__(self, lines: list[Image]) -> list[TextLine]:
        """Recognise each BGR line image (any size; resized to 48 px high)."""
        if not lines:
            return []
        widths = [max(16, round(REC_HEIGHT * im.shape[1] / max(1, im.shape[0]))) for im in lines]
        width = max(widths)
        batch = np.zeros((len(lines), 3, REC_HEIGHT, width), np.float32)
        for slot, (image, w) in enumerate(zip(lines, widths, strict=True)):
            resized = cv2.resize(image, (w, REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
            batch[slot, :, :, :w] = resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
        scores = self._session.run(None, {self._input: batch})[0][:, :, self._keep]
        # A narrower line in a batch is padded: its positions are fractions of its own width.
        return [self._decode(row, width / w) for row, w in zip(scores, widths, strict=True)]

    def _decode(self, scores: npt.NDArray[np.float32], stretch: float = 1.0) -> TextLine:
        best = scores.argmax(axis=1)
        prob = scores.max(axis=1)
        text: list[str] = []
        probs: list[float] = []
        evidence: list[npt.NDArray[np.float32]] = []
        spans: list[list[int]] = []
        previous = 0
        for frame, (index, p) in enumerate(zip(best.tolist(), prob.tolist(), strict=True)):
            if index != 0 and index == previous and text[-1] != " ":
                # The same character over several frames: keep its strongest evidence.
                row = scores[frame, self._alphabet_columns]
                evidence[-1] = np.maximum(evidence[-1], row)
                spans[-1][1] = frame
            elif index != previous and index != 0:
                symbol = self._symbols[index]
                text.append(symbol)
                probs.append(float(p))
                if symbol != " ":
                    evidence.append(np.asarray(scores[frame, self._alphabet_columns], np.float32))
                    spans.append([frame, frame])
            previous = index
        chars = "".join(text)
        confidence = float(
            np.mean([p for p, c in zip(probs, chars, strict=True) if c != " "] or [0.0])
        )
        frames = max(1, len(best))
        positions = tuple(stretch * (first + last + 1) / (2 * frames) for first, last in spans)
        return TextLine(chars, tuple(probs), confidence, tuple(evidence), positions)
