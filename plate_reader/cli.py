"""``drivethru read``: QR codes and plates from image files, one JSON line per file (the
package's only module that touches files)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, TextIO

import cv2
import numpy as np
import typer

from core.plates import squeeze
from plate_reader.errors import FrameError
from plate_reader.frames import as_frame
from plate_reader.reader import Reader
from plate_reader.results import FrameReads, PlateRead

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm"})


def _expand(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            yield path


def load_expected(path: Path) -> list[str]:
    """Plates from a file, one per line; blank lines and ``#`` comments are skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [squeeze(line) for line in lines if line.strip() and not line.startswith("#")]


def _plate_json(plate: PlateRead) -> dict[str, object]:
    match = None
    if plate.match is not None:
        match = {
            "kind": str(plate.match.kind),
            "plate": plate.match.plate,
            "distance": plate.match.distance,
            "candidates": list(plate.match.candidates),
        }
    return {
        "text": plate.text,
        "confidence": plate.confidence,
        "box": list(plate.box),
        "alternatives": list(plate.alternatives),
        "match": match,
    }


def reads_json(file: str, reads: FrameReads) -> dict[str, object]:
    """One file's reads as the JSON object ``read_files`` prints."""
    return {
        "file": file,
        "qr": [
            {"text": q.text, "valid_code": q.valid_code, "corners": [list(c) for c in q.corners]}
            for q in reads.qr
        ],
        "plates": [_plate_json(p) for p in reads.plates],
        "ms": reads.ms,
    }


def read_files(
    paths: Sequence[Path], *, expected_file: Path | None, out: TextIO, reader: Reader | None = None
) -> int:
    """Print one JSON line per image (a directory: its images, sorted); 0 when every file
    was an image, 1 otherwise. A file that cannot be read gives an ``error`` line."""
    expected = None if expected_file is None else load_expected(expected_file)
    reader = reader or Reader()
    status = 0
    for path in _expand(paths):
        image = _load(path)
        if isinstance(image, str):
            status = 1
            out.write(json.dumps({"file": str(path), "error": image}) + "\n")
            continue
        out.write(json.dumps(reads_json(str(path), reader.read(image, expected))) + "\n")
    return status


# Not IMREAD_UNCHANGED: it skips a JPEG's EXIF orientation (a phone's photo on its side).
_IMREAD = cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH


def _load(path: Path) -> np.ndarray | str:
    """The image at ``path``, converted as the reader takes it, or why it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return f"berkas tidak bisa dibaca / cannot read file: {error.strerror or error}"
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), _IMREAD) if data else None
    except cv2.error:
        image = None
    if image is None:
        return "berkas bukan gambar / not an image file"
    try:
        return as_frame(image, max_side=None).image
    except FrameError as error:
        return f"gambar tidak bisa dibaca / unreadable image: {error}"


def register(app: typer.Typer) -> None:
    """Add the ``read`` command to the ``drivethru`` app."""

    @app.command("read")
    def read(
        paths: Annotated[
            list[Path], typer.Argument(help="Gambar atau folder / images or folders.")
        ],
        expected: Annotated[
            Path | None,
            typer.Option(help="Plat yang diharapkan, satu per baris / expected plates."),
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="JSON lines (the default).")] = True,
    ) -> None:
        """Baca QR dan plat dari gambar / read pickup QR codes and plates from images."""
        raise typer.Exit(read_files(paths, expected_file=expected, out=sys.stdout))
