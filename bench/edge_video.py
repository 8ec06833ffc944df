"""Videos for the edge benchmark: the codecs it compares, and a lane of many cars whose ground
truth (the frame each car's plate and code first show in) comes from the generator itself.

The cars are `bench.scenes.car_scene` frames (each with its plate's box) sliding into a
lane from `lane_video`, waiting, some holding a pickup QR up, and sliding out. A car scene is a
whole frame with its own backdrop, so the "car" that slides in is a panel, not a car shape:
the gate and the reader do not care, and the plate's position is known exactly, so the first
frame showing the whole plate is known without asking the reader.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from bench.scene_render import qr_image, tilted_quad, warp_into
from bench.scenes import Scheme, car_scene, lane_video

Image = npt.NDArray[np.uint8]
WIDTH, HEIGHT = 1280, 720


@dataclass(frozen=True, slots=True)
class Codec:
    fourcc: str
    suffix: str
    what: str


CODECS: dict[str, Codec] = {
    "raw_i420": Codec(
        "I420", ".avi", "uncompressed YUV 4:2:0 in AVI, like a USB camera's raw frames"
    ),
    "mjpg": Codec("MJPG", ".avi", "Motion JPEG in AVI, like a USB or IP camera's MJPEG mode"),
    "mp4v": Codec("mp4v", ".mp4", "MPEG-4 part 2 in MP4 (predicted frames: cheap when still)"),
}


def pickup_code(rng: np.random.Generator) -> str:
    return "DT1:" + base64.b32encode(rng.bytes(16)).decode("ascii").rstrip("=")


class VideoOut:
    """cv2.VideoWriter for ``codec`` that refuses to start if the build cannot write it."""

    def __init__(self, path: Path, codec: str, fps: float) -> None:
        self.path = path
        self.frames = 0
        fourcc = cv2.VideoWriter.fourcc(*CODECS[codec].fourcc)
        self._writer = cv2.VideoWriter(str(path), fourcc, fps, (WIDTH, HEIGHT))
        if not self._writer.isOpened():
            raise OSError(f"OpenCV here cannot write {codec} to {path}")

    def write(self, frame: Image) -> None:
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        self._writer.release()


def write_video(frames: Iterable[Image], path: Path, codec: str, fps: float = 25.0) -> Path:
    """Write ``frames`` with ``codec`` (a key of `CODECS`); returns ``path``."""
    out = VideoOut(path, codec, fps)
    try:
        for frame in frames:
            out.write(frame)
    finally:
        out.close()
    return path


def decode_only(path: Path) -> dict[str, object]:
    """cv2.VideoCapture.read() alone over ``path``."""
    capture = cv2.VideoCapture(str(path))
    count = 0
    cpu = time.process_time()
    wall = time.perf_counter()
    try:
        while capture.read()[0]:
            count += 1
    finally:
        capture.release()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "frames": count,
        "fps": round(count / wall, 1),
        "cpu_ms_per_frame": round(cpu * 1000 / max(1, count), 2),
        "mb_per_frame": round(path.stat().st_size / max(1, count) / 1e6, 3),
    }


@dataclass(frozen=True, slots=True)
class StagedVisit:
    """One car of the lane video; ``*_frame`` is the first frame its evidence shows in whole."""

    plate: str
    code: str | None
    plate_frame: int
    code_frame: int | None


@dataclass(frozen=True, slots=True)
class QueueShape:
    gap_frames: int = 15
    move_frames: int = 12
    wait_frames: int = 36
    qr_module_px: int = 4


def queue_video(
    path: Path, cars: int, seed: int, codec: str, fps: float, shape: QueueShape = QueueShape()
) -> list[StagedVisit]:
    """Write a lane video of ``cars`` cars (every other one showing a code) to ``path``."""
    rng = np.random.default_rng(seed)
    lane = next(lane_video([], seed, gap_frames=1))
    # A camera's frames differ by sensor noise; four cached patterns keep generation cheap.
    noise = [rng.integers(0, 5, lane.shape, dtype=np.uint8) for _ in range(4)]
    out = VideoOut(path, codec, fps)

    def put(image: Image) -> int:
        index = out.frames
        noisy = cv2.subtract(cv2.add(image, noise[index % 4]), noise[(index + 1) % 4])
        out.write(np.asarray(noisy, np.uint8))
        return index

    visits: list[StagedVisit] = []
    seen: set[str] = set()
    shifts = np.linspace(WIDTH, 0, shape.move_frames).astype(int)
    try:
        for number in range(cars):
            sample = car_scene(rng, None, Scheme.BLACK_ON_WHITE, motorcycle=False, level=0.3)
            while sample.plate in seen:
                sample = car_scene(rng, None, Scheme.BLACK_ON_WHITE, motorcycle=False, level=0.3)
            seen.add(sample.plate)
            car = sample.image
            x, _, w, _ = sample.box
            for _ in range(shape.gap_frames):
                put(lane)
            plate_frame: int | None = None
            for shift in shifts:
                frame = lane.copy()
                frame[:, shift:] = car[:, : WIDTH - shift]
                index = put(frame)
                if plate_frame is None and shift + x + w <= WIDTH:
                    plate_frame = index
            code = pickup_code(rng) if number % 2 == 0 else None
            showing = car.copy()
            if code is not None:
                # Held up away from the plate, at the driver's window.
                side = 33 * shape.qr_module_px  # version 2 with its quiet zone
                cx = 300.0 if x + w / 2 > WIDTH / 2 else 980.0
                quad = tilted_quad(rng, cx, 180.0, side, side, 0.05)
                warp_into(showing, qr_image(code, shape.qr_module_px), quad)
            code_frame: int | None = None
            hand_from, hand_to = shape.wait_frames // 3, 2 * shape.wait_frames // 3
            for k in range(shape.wait_frames):
                if code is not None and hand_from <= k < hand_to:
                    index = put(showing)
                    code_frame = index if code_frame is None else code_frame
                else:
                    put(car)
            for shift in shifts[::-1][1:]:
                frame = lane.copy()
                frame[:, : WIDTH - shift] = car[:, shift:]
                put(frame)
            if plate_frame is None:  # pragma: no cover - the box is inside the frame
                raise RuntimeError(f"plate {sample.plate} never fully in view")
            visits.append(StagedVisit(sample.plate, code, plate_frame, code_frame))
        for _ in range(shape.gap_frames):
            put(lane)
    finally:
        out.close()
    return visits
