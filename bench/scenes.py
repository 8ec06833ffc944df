"""Seeded synthetic frames: plates on car-like scenes, pickup QR codes, lane videos.

Generated, never downloaded: the same seed gives the same frames on every machine. The sets
are for tests and benchmarks; the degradations (perspective, blur, motion blur, noise, glare,
night, IR, JPEG) and the distracting text (shop signs, car badges) are there to make them
honest, not to make them easy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bench.scene_render import (
    Image,
    Scheme,
    add_glare,
    blend_ink,
    degrade,
    qr_image,
    random_expiry,
    random_plate,
    render_plate,
    text_block,
    tilted_quad,
    warp_into,
)
from core.plates import normalise_plate

__all__ = [
    "CarSpec",
    "PlateSample",
    "QrSample",
    "Scheme",
    "car_scene",
    "empty_scene",
    "lane_video",
    "plate_crop",
    "plate_scene",
    "qr_scene",
    "random_plate",
    "render_plate",
    "write_video",
]

FRAME_SIZE = (1280, 720)
SHOP_SIGNS = ("TOKO MAJU 88", "APOTEK 24 JAM", "WARUNG MAKAN", "BENGKEL MOTOR", "MPP BADUNG")
BADGES = ("TOYOTA", "AVANZA", "1.5 G", "HYBRID", "XENIA", "4X4", "HONDA", "VTEC", "D-4D")


Scenecolour = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class PlateSample:
    """A generated frame with the plate it shows (``plate`` normalised, ``box`` x, y, w, h)."""

    image: Image
    plate: str
    scheme: Scheme
    box: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class QrSample:
    image: Image
    text: str
    corners: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class CarSpec:
    """One car in a lane video; ``code`` is the QR held up at the window, if any."""

    plate: str
    scheme: Scheme = Scheme.BLACK_ON_WHITE
    code: str | None = None
    motorcycle: bool = False
    wait_frames: int = 40
    colour: tuple[int, int, int] | None = None


def _background(rng: np.random.Generator, size: tuple[int, int] = FRAME_SIZE) -> Image:
    """A lane seen from the window camera: wall or sky above, asphalt below, maybe a sign."""
    w, h = size
    top = rng.integers(60, 200, size=3).astype(np.float32)
    road = rng.integers(50, 110)
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    image = top[None, None, :] * (1 - ramp) + float(road) * ramp
    image = np.repeat(image, w, axis=1)
    image += rng.normal(0, 6, size=(h, w, 1)).astype(np.float32)
    out: Image = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        _draw_sign(out, rng, str(rng.choice(SHOP_SIGNS)))
    return out


def _draw_sign(image: Image, rng: np.random.Generator, text: str) -> None:
    h, w = image.shape[:2]
    sw = int(rng.integers(w // 5, w // 2.5))
    sh = int(sw / rng.uniform(4.5, 7.0))
    x, y = int(rng.integers(0, w - sw)), int(rng.integers(0, max(1, h // 5)))
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    ink = (255, 255, 255) if sum(colour) < 380 else (20, 20, 20)
    cv2.rectangle(image, (x, y), (x + sw, y + sh), colour, -1)
    glyphs = text_block(text, (int(sw * 0.9), int(sh * 0.7)), 8, cv2.FONT_HERSHEY_DUPLEX)
    blend_ink(image, glyphs, ink, x + int(sw * 0.05), y + int(sh * 0.15))


def _draw_car(
    image: Image, rng: np.random.Generator, cx: int, base_y: int, width: int, colour: Scenecolour
) -> tuple[int, int]:
    """A car seen from the front; returns where the plate's centre goes."""
    h = int(width * 0.62)
    x0, y0 = cx - width // 2, base_y - h
    cv2.rectangle(image, (x0, y0 + h // 3), (x0 + width, base_y), colour, -1)
    cv2.rectangle(image, (x0 + width // 8, y0), (x0 + width * 7 // 8, y0 + h // 3), colour, -1)
    glass = tuple(int(c * 0.35) for c in colour)
    cv2.rectangle(
        image, (x0 + width // 6, y0 + h // 20), (x0 + width * 5 // 6, y0 + h // 3), glass, -1
    )
    for side in (x0 + width // 12, x0 + width * 11 // 12):
        cv2.ellipse(image, (side, y0 + h // 2), (width // 14, h // 14), 0, 0, 360, (230,) * 3, -1)
    grille = (max(0, cx - width // 4), y0 + h * 9 // 20, width // 2, h // 8)
    cv2.rectangle(image, grille[:2], (grille[0] + grille[2], grille[1] + grille[3]), (30,) * 3, -1)
    if rng.random() < 0.7:
        badge = str(rng.choice(BADGES))
        bw = int(width * rng.uniform(0.1, 0.18))
        glyphs = text_block(badge, (bw, max(6, bw // 4)), 6, cv2.FONT_HERSHEY_SIMPLEX)
        blend_ink(image, glyphs, (200, 200, 200), cx - bw // 2, grille[1] + grille[3] // 4)
    return cx, y0 + h * 3 // 4


def car_scene(
    rng: np.random.Generator,
    plate: str | None = None,
    scheme: Scheme | None = None,
    *,
    motorcycle: bool | None = None,
    level: float = 1.0,
) -> PlateSample:
    """A 1280x720 frame of a car (or motorcycle) with its plate, degraded at ``level``."""
    plate = plate or random_plate(rng)
    scheme = scheme or Scheme(str(rng.choice(list(Scheme))))
    motorcycle = bool(rng.random() < 0.2) if motorcycle is None else motorcycle
    image = _background(rng)
    box = _draw_vehicle(image, rng, plate, scheme, motorcycle, level)
    return PlateSample(degrade(image, rng, level), normalise_plate(plate), scheme, box)


def _draw_vehicle(
    image: Image,
    rng: np.random.Generator,
    plate: str,
    scheme: Scheme,
    motorcycle: bool,
    level: float,
) -> tuple[int, int, int, int]:
    """Draw a car or motorcycle with ``plate`` into ``image``; returns the plate's box."""
    colour: Scenecolour = tuple(int(c) for c in rng.integers(20, 235, size=3))  # type: ignore[assignment]
    if motorcycle:
        plate_w = float(rng.uniform(60, 150))
        cx, cy = int(rng.integers(300, 980)), int(rng.integers(380, 600))
        cv2.ellipse(image, (cx, cy - int(plate_w)), (int(plate_w), int(plate_w * 1.4)), 0, 0, 360,
                    (30, 30, 30), -1)  # fmt: skip
    else:
        car_w = int(rng.integers(380, 1000))
        cx, cy = _draw_car(image, rng, int(rng.integers(car_w // 2, 1280 - car_w // 2)),
                           int(rng.integers(520, 715)), car_w, colour)  # fmt: skip
        plate_w = car_w * float(rng.uniform(0.2, 0.28))
    flat = render_plate(plate, scheme, rng, motorcycle=motorcycle, expiry=random_expiry(rng))
    plate_h = plate_w * flat.shape[0] / flat.shape[1]
    quad = tilted_quad(rng, cx, cy, plate_w, plate_h, 0.25 * level)
    warp_into(image, flat, quad)
    x, y, w, h = cv2.boundingRect(quad.astype(np.int32))
    if rng.random() < 0.25 * level:
        add_glare(image, rng, cx + rng.uniform(-plate_w, plate_w), cy + rng.uniform(-40, 40),
                  plate_w * rng.uniform(0.3, 0.7))  # fmt: skip
    return x, y, w, h


def plate_scene(rng: np.random.Generator, level: float = 1.0) -> PlateSample:
    """A full frame with one plate, random scheme and vehicle."""
    return car_scene(rng, level=level)


def plate_crop(
    rng: np.random.Generator,
    plate: str | None = None,
    scheme: Scheme | None = None,
    *,
    height: int | None = None,
    level: float = 1.0,
) -> PlateSample:
    """A tight crop where the plate fills most of the image, ``height`` px tall (20..160)."""
    plate = plate or random_plate(rng)
    scheme = scheme or Scheme(str(rng.choice(list(Scheme))))
    motorcycle = bool(rng.random() < 0.2)
    flat = render_plate(plate, scheme, rng, motorcycle=motorcycle)
    plate_h = int(height if height is not None else rng.integers(20, 161))
    plate_w = plate_h * flat.shape[1] / flat.shape[0]
    margin_x, margin_y = rng.uniform(0.05, 0.3) * plate_w, rng.uniform(0.1, 0.5) * plate_h
    size = (int(plate_w + 2 * margin_x), int(plate_h + 2 * margin_y))
    image = _background(rng, size) if rng.random() < 0.5 else np.full(
        (size[1], size[0], 3), rng.integers(30, 220, size=3), np.uint8)  # fmt: skip
    cx = size[0] / 2 + rng.uniform(-0.3, 0.3) * margin_x
    cy = size[1] / 2 + rng.uniform(-0.3, 0.3) * margin_y
    quad = tilted_quad(rng, cx, cy, plate_w, plate_h, 0.15 * level)
    warp_into(image, flat, quad)
    if rng.random() < 0.15 * level:
        add_glare(image, rng, cx + rng.uniform(-plate_w, plate_w) / 2, cy, plate_w * 0.25)
    x, y, w, h = cv2.boundingRect(quad.astype(np.int32))
    out = degrade(image, rng, level * min(1.0, plate_h / 60))
    return PlateSample(out, normalise_plate(plate), scheme, (x, y, w, h))


def empty_scene(rng: np.random.Generator, level: float = 1.0) -> Image:
    """A frame with no plate and no code: an empty lane, maybe a sign or a plateless car."""
    image = _background(rng)
    if rng.random() < 0.5:
        car_w = int(rng.integers(380, 1000))
        colour: Scenecolour = tuple(int(c) for c in rng.integers(20, 235, size=3))  # type: ignore[assignment]
        _draw_car(image, rng, 640, int(rng.integers(520, 715)), car_w, colour)
    if rng.random() < 0.5:
        _draw_sign(image, rng, str(rng.choice(SHOP_SIGNS)))
    return degrade(image, rng, level)


def _place_qr(
    image: Image, rng: np.random.Generator, text: str, cx: float, cy: float, level: float
) -> tuple[tuple[int, int], ...]:
    """Draw a phone screen or a sheet of paper showing ``text`` as QR, held by a hand."""
    module = int(rng.integers(2, 7))
    code = qr_image(text, module)
    side = code.shape[0] * rng.uniform(0.8, 1.4)
    on_phone = rng.random() < 0.6
    skin = (int(rng.integers(60, 140)), int(rng.integers(100, 170)), int(rng.integers(150, 225)))
    hand_r = int(side * 0.35)
    cv2.ellipse(image, (int(cx), int(cy + side * 0.55)), (hand_r, int(hand_r * 1.3)), 0, 0, 360,
                skin, -1)  # fmt: skip
    if on_phone:
        body = tilted_quad(rng, cx, cy, side * 1.25, side * 2.1, 0.0)
        cv2.fillConvexPoly(image, body.astype(np.int32), (15, 15, 15))
        # A phone screen at lower brightness shows grey on black-ish, not pure white.
        lift = int(rng.integers(0, 70))
        code = np.clip(code.astype(np.int16) * (1 - lift / 400) + lift // 3, 0, 255).astype(
            np.uint8
        )
    quad = tilted_quad(rng, cx, cy, side, side, 0.3 * level)
    warp_into(image, np.asarray(cv2.cvtColor(code, cv2.COLOR_GRAY2BGR), np.uint8), quad)
    return tuple((int(x), int(y)) for x, y in quad)


def qr_scene(rng: np.random.Generator, text: str, level: float = 1.0) -> QrSample:
    """A 1280x720 frame of a car window with ``text`` as a QR on a phone or paper."""
    image = _background(rng)
    colour = tuple(int(c) for c in rng.integers(20, 235, size=3))
    y_window = int(rng.integers(80, 300))
    cv2.rectangle(image, (0, y_window - 40), (1280, 720), colour, -1)
    window = tuple(int(c * 0.3) for c in colour)
    cv2.rectangle(image, (int(rng.integers(50, 300)), y_window), (1200, y_window + 320), window, -1)
    cx, cy = float(rng.uniform(250, 1030)), float(y_window + rng.uniform(80, 240))
    corners = _place_qr(image, rng, text, cx, cy, level)
    if rng.random() < 0.3 * level:
        add_glare(image, rng, cx + rng.uniform(-80, 80), cy + rng.uniform(-60, 60),
                  float(rng.uniform(30, 120)))  # fmt: skip
    return QrSample(degrade(image, rng, level), text, corners)


def lane_video(
    cars: Sequence[CarSpec], seed: int, *, gap_frames: int = 15, move_frames: int = 20
) -> Iterator[Image]:
    """1280x720 frames of cars arriving, waiting at the window (maybe showing a QR), leaving.

    Empty-lane frames come before, between and after cars. Frames are light-degraded (noise,
    JPEG) and differ from one another as a real camera's do.
    """
    rng = np.random.default_rng(seed)
    lane = _background(rng)
    yield from _still(lane, rng, gap_frames)
    for car in cars:
        scene = lane.copy()
        _draw_vehicle(scene, rng, car.plate, car.scheme, car.motorcycle, 0.3)
        # Keep the car (the frame minus the lane) and slide it in from the right.
        diff = np.any(cv2.absdiff(scene, lane) > 0, axis=2)
        mask = diff.astype(np.uint8) * 255
        shifts = np.linspace(1280, 0, move_frames).astype(int)
        for shift in shifts:
            yield _shifted(lane, scene, mask, int(shift), rng)
        hand_from = car.wait_frames // 3
        hand_to = hand_from + car.wait_frames // 3
        for index in range(car.wait_frames):
            frame = _shifted(lane, scene, mask, 0, rng, degrade_frame=False)
            if car.code is not None and hand_from <= index < hand_to:
                _place_qr(frame, np.random.default_rng(seed + index), car.code, 900, 250, 0.3)
            yield degrade(frame, rng, 0.1)
        for shift in shifts[::-1] * -1:
            yield _shifted(lane, scene, mask, int(shift), rng)
        yield from _still(lane, rng, gap_frames)


def _still(lane: Image, rng: np.random.Generator, count: int) -> Iterator[Image]:
    for _ in range(count):
        yield degrade(lane, rng, 0.1)


def _shifted(
    lane: Image,
    scene: Image,
    mask: Image,
    shift: int,
    rng: np.random.Generator,
    *,
    degrade_frame: bool = True,
) -> Image:
    matrix = np.array([[1, 0, shift], [0, 1, 0]], np.float32)
    moved = cv2.warpAffine(scene, matrix, FRAME_SIZE)
    moved_mask = cv2.warpAffine(mask, matrix, FRAME_SIZE)
    frame = np.where(moved_mask[:, :, None] > 0, moved, lane).astype(np.uint8)
    return degrade(frame, rng, 0.1) if degrade_frame else frame


def write_video(frames: Iterator[Image], path: Path, fps: float = 10.0) -> int:
    """Write ``frames`` to ``path`` (MJPG in .avi is safest); returns the frame count."""
    writer: cv2.VideoWriter | None = None
    count = 0
    try:
        for frame in frames:
            if writer is None:
                codec = "MJPG" if path.suffix == ".avi" else "mp4v"
                fourcc = cv2.VideoWriter.fourcc(*codec)
                writer = cv2.VideoWriter(str(path), fourcc, fps, (frame.shape[1], frame.shape[0]))
                if not writer.isOpened():
                    raise OSError(f"tidak bisa menulis video / cannot write video: {path}")
            writer.write(frame)
            count += 1
    finally:
        if writer is not None:
            writer.release()
    return count
