"""Drawing primitives for the synthetic sets: plates, QR codes, camera degradations.

Everything takes a numpy ``Generator`` so a seed reproduces a frame exactly. Plate glyphs are
OpenCV Hershey fonts, condensed and thickened to look like the TNKB typeface, so nothing
external (fonts, images) is needed.
"""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from core.plates import REGION_CODES

Image = npt.NDArray[np.uint8]
Quad = npt.NDArray[np.float32]


class Scheme(StrEnum):
    """The plate colour schemes on the road."""

    BLACK_ON_WHITE = "black_on_white"
    WHITE_ON_BLACK = "white_on_black"
    YELLOW = "yellow"
    RED = "red"


# (background, text) in BGR.
_COLOURS: dict[Scheme, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    Scheme.BLACK_ON_WHITE: ((238, 240, 240), (20, 20, 20)),
    Scheme.WHITE_ON_BLACK: ((22, 22, 22), (235, 235, 235)),
    Scheme.YELLOW: ((20, 200, 235), (20, 20, 20)),
    Scheme.RED: ((30, 30, 200), (240, 240, 240)),
}
_REGIONS = sorted(REGION_CODES)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Car plates are 430 x 135 mm, motorcycle plates 275 x 110 mm; drawn at 2 px per mm.
CAR_SIZE = (860, 270)
MOTORCYCLE_SIZE = (550, 220)


def random_plate(rng: np.random.Generator) -> str:
    """A random valid plate in display form, ``AB 1234 XY``."""
    region = str(rng.choice(_REGIONS))
    digits = int(rng.integers(1, 5))
    number = str(int(rng.integers(1, 10))) + "".join(
        str(int(d)) for d in rng.integers(0, 10, size=digits - 1)
    )
    suffix = "".join(str(rng.choice(list(_LETTERS))) for _ in range(int(rng.integers(0, 4))))
    return " ".join(part for part in (region, number, suffix) if part)


def random_expiry(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(1, 13)):02d}.{int(rng.integers(24, 31)):02d}"


def text_block(text: str, size: tuple[int, int], thickness: int, font: int) -> Image:
    """``text`` drawn white on black and stretched to fill ``size`` (w, h)."""
    scale = 3.0
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    canvas = np.zeros((th + base + 2 * thickness + 8, tw + 2 * thickness + 8), np.uint8)
    cv2.putText(
        canvas, text, (thickness + 4, th + thickness + 4), font, scale, 255, thickness, cv2.LINE_AA
    )
    ys, xs = np.nonzero(canvas > 40)
    if len(xs) == 0:
        return np.zeros((size[1], size[0]), np.uint8)
    canvas = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return np.asarray(cv2.resize(canvas, size, interpolation=cv2.INTER_AREA), np.uint8)


def blend_ink(image: Image, mask: Image, colour: tuple[int, int, int], x: int, y: int) -> None:
    """Paint ``colour`` through ``mask`` (0..255) into ``image`` at (x, y), in place."""
    h, w = mask.shape[:2]
    h = min(h, image.shape[0] - y)
    w = min(w, image.shape[1] - x)
    if h <= 0 or w <= 0 or x < 0 or y < 0:
        return
    alpha = mask[:h, :w, None].astype(np.float32) / 255.0
    region = image[y : y + h, x : x + w].astype(np.float32)
    ink = np.array(colour, np.float32)[None, None, :]
    image[y : y + h, x : x + w] = (region * (1 - alpha) + ink * alpha).astype(np.uint8)


def render_plate(
    plate: str,
    scheme: Scheme,
    rng: np.random.Generator,
    *,
    motorcycle: bool = False,
    expiry: str | None = None,
) -> Image:
    """A flat, front-on plate image: ``plate`` on one line, the expiry below it."""
    width, height = MOTORCYCLE_SIZE if motorcycle else CAR_SIZE
    background, ink = _COLOURS[scheme]
    jitter = rng.integers(-12, 13, size=3)
    bg = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(background, jitter, strict=True))
    image = np.empty((height, width, 3), np.uint8)
    image[:] = bg
    border = max(4, width // 90)
    cv2.rectangle(image, (border, border), (width - border, height - border), ink, border // 2 + 1)
    font = cv2.FONT_HERSHEY_DUPLEX if rng.random() < 0.5 else cv2.FONT_HERSHEY_SIMPLEX
    # The main line takes the upper ~68% of the plate, the expiry the small band below.
    main_h = int(height * (0.50 if motorcycle else 0.54))
    chars = len(plate.replace(" ", "")) + 0.6 * plate.count(" ")
    main_w = min(int(width * 0.88), int(main_h * 0.62 * chars))
    top = int(height * 0.09)
    glyphs = text_block(plate, (main_w, main_h), int(rng.integers(9, 13)), font)
    blend_ink(image, glyphs, ink, (width - main_w) // 2, top)
    expiry_text = expiry if expiry is not None else random_expiry(rng)
    ex_h = int(height * 0.15)
    ex_w = int(ex_h * 0.6 * len(expiry_text))
    small = text_block(expiry_text, (ex_w, ex_h), 7, font)
    blend_ink(image, small, ink, (width - ex_w) // 2, int(height * 0.76))
    return image


def qr_modules(text: str) -> npt.NDArray[np.bool_]:
    """The dark modules of ``text`` as a QR (error level M, alphanumeric), quiet zone of 4."""
    import segno  # segno is a base dependency; imported here so the reader never needs it

    code = segno.make(text, error="m", micro=False, mode="alphanumeric")
    return np.array(code.matrix, dtype=bool)


def qr_image(text: str, module_px: int) -> Image:
    """A QR code as a grey image with its quiet zone, ``module_px`` pixels per module."""
    modules = qr_modules(text)
    modules = np.pad(modules, 4, constant_values=False)
    image = np.where(modules, 0, 255).astype(np.uint8)
    return np.asarray(
        cv2.resize(
            image,
            (image.shape[1] * module_px, image.shape[0] * module_px),
            interpolation=cv2.INTER_NEAREST,
        ),
        np.uint8,
    )


def warp_into(scene: Image, sprite: Image, quad: Quad, *, mask: Image | None = None) -> None:
    """Warp ``sprite`` onto ``quad`` (4 corners, clockwise from top-left) in ``scene``."""
    h, w = sprite.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    size = (scene.shape[1], scene.shape[0])
    warped = cv2.warpPerspective(sprite, matrix, size, flags=cv2.INTER_AREA)
    alpha_src = np.full((h, w), 255, np.uint8) if mask is None else mask
    alpha = cv2.warpPerspective(alpha_src, matrix, size, flags=cv2.INTER_LINEAR)
    if warped.ndim == 2:
        warped = cv2.cvtColor(warped, cv2.COLOR_GRAY2BGR)
    a = alpha[:, :, None].astype(np.float32) / 255.0
    scene[:] = (scene.astype(np.float32) * (1 - a) + warped.astype(np.float32) * a).astype(np.uint8)


def tilted_quad(
    rng: np.random.Generator, cx: float, cy: float, w: float, h: float, tilt: float
) -> Quad:
    """A rectangle centred on (cx, cy), rotated and skewed by up to ``tilt`` (fraction)."""
    angle = rng.uniform(-tilt, tilt) * 0.5
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    # Perspective: one side nearer the camera than the other.
    squeeze = rng.uniform(-tilt, tilt)
    corners[[1, 2], 1] *= 1 + squeeze / 2
    corners[[0, 3], 1] *= 1 - squeeze / 2
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = corners @ rot.T + np.array([cx, cy])
    quad += rng.normal(0, tilt * min(w, h) * 0.1, size=quad.shape)
    return np.asarray(quad, np.float32)


def motion_blur(image: Image, length: int, angle: float) -> Image:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = np.asarray(cv2.warpAffine(kernel, rot, (length, length)), np.float32)
    kernel /= max(float(kernel.sum()), 1e-6)
    return np.asarray(cv2.filter2D(image, -1, kernel), np.uint8)


def add_glare(image: Image, rng: np.random.Generator, cx: float, cy: float, r: float) -> None:
    """A soft bright ellipse (sun or headlight on glass), in place."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ax, ay = r * rng.uniform(0.6, 1.6), r * rng.uniform(0.4, 1.0)
    falloff = np.exp(-(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2))
    strength = rng.uniform(120, 230)
    out = image.astype(np.float32) + falloff[:, :, None] * strength
    image[:] = np.clip(out, 0, 255).astype(np.uint8)


def degrade(image: Image, rng: np.random.Generator, level: float = 1.0) -> Image:
    """Camera faults at random: blur, motion blur, night or IR, noise, JPEG.

    ``level`` scales how hard (0 leaves the image as it is apart from light noise).
    """
    out: Image = image
    roll = rng.random(6)
    if roll[0] < 0.35 * level:
        k = int(rng.choice([3, 5])) if level > 0.5 else 3
        out = np.asarray(cv2.GaussianBlur(out, (k, k), 0), np.uint8)
    if roll[1] < 0.3 * level:
        out = motion_blur(out, int(rng.integers(3, 4 + int(6 * level))), rng.uniform(0, 180))
    if roll[2] < 0.15 * level:  # night: low light, lifted noise floor
        gain = rng.uniform(0.3, 0.55)
        out = np.clip(out.astype(np.float32) * gain + 8, 0, 255).astype(np.uint8)
    elif roll[3] < 0.1 * level:  # IR camera: grey, contrast stretched
        grey = np.asarray(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY))
        grey = np.asarray(cv2.normalize(grey, grey.copy(), 10, 245, cv2.NORM_MINMAX))
        out = np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8)
    sigma = rng.uniform(1.0, 3.0 + 6.0 * level)
    noisy = out.astype(np.float32) + rng.normal(0, sigma, size=out.shape).astype(np.float32)
    out = np.clip(noisy, 0, 255).astype(np.uint8)
    if roll[4] < 0.6:
        quality = int(rng.integers(int(90 - 55 * level), 96))
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            out = np.asarray(decoded, np.uint8)
    return np.asarray(out, np.uint8)
