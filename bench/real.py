"""The plate reader on real, licensed photos: ours, the classical finder and rapidocr alone.

A set is a folder of photos with their plates either in ``labels.tsv`` (``file`` relative
to the folder or to its ``images/``, ``plate``, and optionally the plate's box ``x y w h``;
several rows for a photo with several plates) or in the file names (``AB1234XY.jpg``,
``AB1234XY_2.jpg``). Every photo counts: a photo's first read is right when it is one of
the photo's plates (``exact``); ``any`` counts photos where some read is; ``nothing``
photos with no read at all. With boxes, the plates are also cut out with a 15% margin on
each side and read as tight crops.
"""

from __future__ import annotations

import csv
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from core.plates import squeeze

Image = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]
# Reads of one photo, best first.
PlateReads = Callable[[Image], Sequence[str]]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_NAME_PLATE = re.compile(r"^([A-Z]{1,2}\d{1,4}[A-Z]{0,3})(?:[_\-. ].*)?$")
CROP_MARGIN = 0.15


@dataclass(frozen=True, slots=True)
class LabelledPhoto:
    """A real photo and the plates a person read on it (with their boxes where known)."""

    path: Path
    plates: tuple[str, ...]
    boxes: tuple[Box, ...]


def load_set(root: Path) -> list[LabelledPhoto]:
    """The labelled photos under ``root`` (``labels.tsv`` if present, else file names)."""
    labels = root / "labels.tsv"
    if labels.is_file():
        return _from_tsv(root, labels)
    photos = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        found = _NAME_PLATE.match(path.stem.upper())
        if found is not None:
            photos.append(LabelledPhoto(path, (found.group(1),), ()))
    return photos


def _from_tsv(root: Path, labels: Path) -> list[LabelledPhoto]:
    plates: dict[str, list[str]] = {}
    boxes: dict[str, list[Box]] = {}
    with labels.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            name = row["file"]
            plates.setdefault(name, []).append(squeeze(row["plate"]))
            if row.get("x") not in (None, ""):
                box = (int(row["x"]), int(row["y"]), int(row["w"]), int(row["h"]))
                boxes.setdefault(name, []).append(box)
    return [
        LabelledPhoto(_photo_path(root, name), tuple(texts), tuple(boxes.get(name, ())))
        for name, texts in sorted(plates.items())
    ]


def _photo_path(root: Path, name: str) -> Path:
    """``name`` relative to the set's folder (``images/a.jpg``), or in its ``images/``."""
    direct = root / name
    return direct if direct.is_file() else root / "images" / name


def tight_crops(photo: LabelledPhoto, image: Image) -> list[tuple[Image, str]]:
    """Each labelled plate cut out with `CROP_MARGIN` of its size on every side."""
    h, w = image.shape[:2]
    crops = []
    for (x, y, bw, bh), plate in zip(photo.boxes, photo.plates, strict=False):
        mx, my = round(bw * CROP_MARGIN), round(bh * CROP_MARGIN)
        x0, y0 = max(0, x - mx), max(0, y - my)
        x1, y1 = min(w, x + bw + mx), min(h, y + bh + my)
        if x1 - x0 >= 8 and y1 - y0 >= 4:
            crops.append((np.ascontiguousarray(image[y0:y1, x0:x1]), plate))
    return crops


def score(
    images: Sequence[Image], truths: Sequence[tuple[str, ...]], read: PlateReads
) -> dict[str, object]:
    """Right first, right anywhere, nothing read, and time, over every image."""
    exact = anywhere = nothing = 0
    ms: list[float] = []
    misses: list[dict[str, object]] = []
    for image, truth in zip(images, truths, strict=True):
        start = time.perf_counter()
        reads = list(read(image))
        ms.append((time.perf_counter() - start) * 1000)
        exact += bool(reads) and reads[0] in truth
        anywhere += any(r in truth for r in reads)
        nothing += not reads
        if not reads or reads[0] not in truth:
            misses.append({"truth": list(truth), "read": reads[:3]})
    n = max(1, len(images))
    ordered = sorted(ms)
    return {
        "n": len(images),
        "exact": round(exact / n, 4),
        "any": round(anywhere / n, 4),
        "nothing": round(nothing / n, 4),
        "median_ms": round(statistics.median(ms), 1) if ms else 0.0,
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1) if ms else 0.0,
        "misses": misses,
    }


def run_real(
    root: Path, readers: dict[str, PlateReads], *, crops: PlateReads | None = None
) -> dict[str, object]:
    """Each reader on every photo of the set at ``root``, and ``crops`` on its tight crops."""
    photos = load_set(root)
    if not photos:
        raise ValueError(f"tidak ada foto berlabel / no labelled photos under {root}")
    images: list[Image] = []
    truths: list[tuple[str, ...]] = []
    crop_images: list[Image] = []
    crop_truths: list[tuple[str, ...]] = []
    for photo in photos:
        image = cv2.imread(str(photo.path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"bukan gambar / not an image: {photo.path}")
        images.append(np.asarray(image, np.uint8))
        truths.append(photo.plates)
        for crop, plate in tight_crops(photo, images[-1]):
            crop_images.append(crop)
            crop_truths.append((plate,))
    result: dict[str, object] = {"set": str(root), "photos": len(photos)}
    for name, read in readers.items():
        result[name] = score(images, truths, read)
    if crops is not None and crop_images:
        result["crops_ours"] = score(crop_images, crop_truths, crops)
    return result
