"""The QR reader flattens a frame's plain, noisy cells before zxing: what it must keep."""

from __future__ import annotations

import numpy as np
import pytest

from bench.scene_render import qr_image
from plate_reader.edges import half_frame
from plate_reader.qr import _quietened, decode_qr

TEXT = "DT1:MFRGGZDFMZTWQ2LKNNWG23TPOA"


def _lane(seed: int, sigma: float) -> np.ndarray:
    """A plain 1280x720 grey frame (a wall fading into the road) with camera noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(150.0, 80.0, 720)[:, None] + np.zeros((1, 1280))
    return np.clip(ramp + rng.normal(0, sigma, ramp.shape), 0, 255).astype(np.uint8)


def _with_code(frame: np.ndarray, module: int, contrast: int, x: int, y: int) -> np.ndarray:
    """``frame`` with the code drawn at (x, y): light ground, modules ``contrast`` darker."""
    code = qr_image(TEXT, module).astype(np.float32) / 255.0
    out = frame.astype(np.float32)
    patch = out[y : y + code.shape[0], x : x + code.shape[1]]
    noise = patch - patch.mean()
    out[y : y + code.shape[0], x : x + code.shape[1]] = 170 - contrast + code * contrast + noise
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("module", "contrast", "sigma"),
    [
        (1, 48, 3),
        (1, 40, 2),
        (2, 24, 2),
        (2, 48, 8),
        (3, 32, 6),
        (4, 20, 2),
        (4, 24, 4),
        (3, 64, 12),
    ],
)
def test_a_small_or_faint_code_in_noise_is_read_as_in_the_whole_frame(
    module: int, contrast: int, sigma: float
) -> None:
    grey = _with_code(_lane(module * 100 + contrast, sigma), module, contrast, 610, 300)
    whole = decode_qr(grey)
    assert [q.text for q in whole] == [TEXT]  # zxing reads it in the whole frame
    assert decode_qr(grey, half_frame(grey)) == whole  # and so, corners and all, flattened


def test_plain_noise_is_flattened_and_the_code_left_as_it_was() -> None:
    frame = _with_code(_lane(7, 6.0), 3, 80, 160, 96)
    grey = _with_code(frame, 3, 80, 960, 480)  # a second copy, far off: noise lies between
    part = _quietened(grey, half_frame(grey))
    assert part is not None
    readable, dx, dy = part
    side = qr_image(TEXT, 3).shape[0]
    for x, y in ((160, 96), (960, 480)):
        here = (slice(y - dy, y - dy + side), slice(x - dx, x - dx + side))
        assert np.array_equal(readable[here], grey[y : y + side, x : x + side])
    # Between the codes the noise is gone: one grey level per cell, so zxing sees no speckle.
    between = readable[400 - dy : 416 - dy, 640 - dx : 656 - dx]
    assert between.min() == between.max()
    assert readable.size < grey.size  # the plain rows and columns beyond them are not read


def test_a_frame_of_plain_noise_is_not_searched() -> None:
    assert _quietened(_lane(8, 6.0), half_frame(_lane(8, 6.0))) is None
