"""Frame sources behind one interface: a camera index, an RTSP/HTTP URL, a video file, a folder.

Frames come from a generator that releases the capture in ``finally``. A live stream that
drops is reopened with backoff and reported in `SourceHealth`, never raised. A file plays at
its native frame rate (``realtime``) or as fast as it decodes (``fast``). A 16-bit, grey,
BGRA or float frame is converted to BGR (`plate_reader.frames`); one that cannot be, or an
unreadable file, is skipped, counted and logged with its reason (once a minute per reason).
Only a source that cannot exist at all (a missing file or folder, a camera index with no
camera) raises `SourceError`, when it is opened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from edge_lane.config import CameraSettings, Pace
from edge_lane.errors import SourceError
from plate_reader.errors import FrameError
from plate_reader.frames import as_frame

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm"})
MAX_BACKOFF = 30.0
# A file that fails this many reads in a row has ended, even if it claims more frames.
MAX_FILE_FAILURES = 5
# A skipped frame's reason is logged at most this often (seconds); the others are counted.
SKIP_LOG_SECONDS = 60.0
# Any bit depth, alpha dropped, grey made BGR (as `drivethru read` loads files).
IMREAD_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame; ``index`` counts delivered frames, ``captured`` is ``time.monotonic()``."""

    index: int
    image: Image
    captured: float


class SourceHealth:
    """How a source is doing, written by its generator and read by the status report."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.ok = False
        self.frames = 0
        self.skipped = 0
        self.reopens = 0
        self.last_error: str | None = None
        self._clock = clock
        self._logged: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def skip(self, reason: str) -> None:
        """Count a frame that cannot be used; log ``reason``, once per `SKIP_LOG_SECONDS`."""
        self.skipped += 1
        now = self._clock()
        last = self._logged.get(reason)
        if last is not None and now - last < SKIP_LOG_SECONDS:
            self._held[reason] = self._held.get(reason, 0) + 1
            return
        self._logged[reason] = now
        held = self._held.pop(reason, 0)
        log.warning(
            "bingkai dilewati / frame skipped: %s%s",
            reason,
            f" (+{held} serupa / more like it)" if held else "",
        )

    def up(self) -> None:
        self.ok = True

    def down(self, reason: str) -> None:
        if self.ok or self.last_error != reason:
            log.warning("sumber gambar bermasalah / source problem: %s", reason)
        self.ok = False
        self.last_error = reason


class FrameSource(Protocol):
    """A camera's frames, one generator at a time."""

    name: str
    health: SourceHealth

    def frames(self, stop: threading.Event) -> Iterator[Frame]: ...


def _usable(image: object) -> Image | str:
    """``image`` as a uint8 BGR frame at its own size, or why it cannot be one."""
    if image is None:
        return "bukan gambar / not an image"
    try:
        frame = as_frame(image, max_side=None).image
    except FrameError as error:
        return f"{error.reason}, {error.got}"
    if frame.ndim == 2:
        return np.asarray(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), np.uint8)
    return frame


class _Pacer:
    """Sleeps so frames come at ``fps`` (realtime) or not at all (fast)."""

    def __init__(self, pace: Pace, fps: float) -> None:
        self._period = 1.0 / fps if pace is Pace.REALTIME and fps > 0 else 0.0
        self._start = time.monotonic()
        self._count = 0

    def wait(self, stop: threading.Event) -> None:
        if self._period == 0.0:
            return
        self._count += 1
        delay = self._start + self._count * self._period - time.monotonic()
        if delay > 0:
            stop.wait(delay)


class LiveSource:
    """A camera index or a stream URL: reopened with backoff whenever it drops."""

    def __init__(self, name: str, target: int | str) -> None:
        self.name = name
        self.target = target
        self.health = SourceHealth()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        backoff = 1.0
        index = 0
        while not stop.is_set():
            capture = cv2.VideoCapture(self.target)
            try:
                if capture.isOpened():
                    self.health.up()
                    backoff = 1.0
                    while not stop.is_set():
                        ok, image = capture.read()
                        if not ok or image is None:
                            self.health.down(f"aliran terputus / stream dropped: {self.name}")
                            break
                        frame = _usable(image)
                        if isinstance(frame, str):
                            self.health.skip(f"{self.name}: {frame}")
                            continue
                        self.health.frames += 1
                        yield Frame(index, frame, time.monotonic())
                        index += 1
                else:
                    self.health.down(f"tidak bisa membuka / cannot open: {self.name}")
            finally:
                capture.release()
            if stop.wait(backoff):
                break
            backoff = min(MAX_BACKOFF, backoff * 2)
            self.health.reopens += 1


class VideoFileSource:
    """A video file, played once."""

    def __init__(self, name: str, path: Path, pace: Pace) -> None:
        self.name = name
        self.path = path
        self.pace = pace
        self.health = SourceHealth()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        capture = cv2.VideoCapture(str(self.path))
        try:
            if not capture.isOpened():
                self.health.down(f"video tidak bisa dibuka / cannot open video: {self.path}")
                return
            self.health.up()
            pacer = _Pacer(self.pace, float(capture.get(cv2.CAP_PROP_FPS) or 10.0))
            index = failures = 0
            while not stop.is_set() and failures < MAX_FILE_FAILURES:
                ok, image = capture.read()
                if not ok or image is None:
                    failures += 1
                    self.health.skipped += 1
                    continue
                failures = 0
                frame = _usable(image)
                if isinstance(frame, str):
                    self.health.skip(f"{self.path.name}: {frame}")
                    continue
                pacer.wait(stop)
                self.health.frames += 1
                yield Frame(index, frame, time.monotonic())
                index += 1
            # The trailing failed reads were the end of the file, not corrupt frames.
            self.health.skipped -= failures
        finally:
            capture.release()
            self.health.ok = False


class FolderSource:
    """The images of a folder in name order, at ``fps`` in realtime; corrupt files skipped."""

    def __init__(self, name: str, path: Path, pace: Pace, fps: float) -> None:
        self.name = name
        self.path = path
        self.pace = pace
        self.fps = fps
        self.health = SourceHealth()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        pacer = _Pacer(self.pace, self.fps)
        self.health.up()
        index = 0
        try:
            for file in files:
                if stop.is_set():
                    break
                frame = _usable(_imread(file))
                if isinstance(frame, str):
                    self.health.skip(f"{file.name}: {frame}")
                    continue
                pacer.wait(stop)
                self.health.frames += 1
                yield Frame(index, frame, time.monotonic())
                index += 1
        finally:
            self.health.ok = False


def _imread(file: Path) -> object:
    """The image in ``file``, or None when it is no image OpenCV can decode."""
    try:
        return cv2.imread(str(file), IMREAD_FLAGS)
    except cv2.error:
        return None


def open_source(camera: CameraSettings) -> FrameSource:
    """The source a camera's ``source`` names; raises `SourceError` if it cannot exist."""
    spec = camera.source.strip()
    if spec.isdigit():
        probe = cv2.VideoCapture(int(spec))
        try:
            if not probe.isOpened():
                raise SourceError(spec, "tidak ada kamera dengan indeks ini / no camera at index")
        finally:
            probe.release()
        return LiveSource(camera.name, int(spec))
    if "://" in spec:
        return LiveSource(camera.name, spec)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(camera.name, path, camera.pace, camera.folder_fps)
    if not path.exists():
        raise SourceError(spec, "berkas atau folder tidak ada / no such file or folder")
    probe = cv2.VideoCapture(str(path))
    try:
        if not probe.isOpened():
            raise SourceError(spec, "bukan video yang bisa dibaca / not a readable video")
    finally:
        probe.release()
    return VideoFileSource(camera.name, path, camera.pace)
