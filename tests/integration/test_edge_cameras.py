"""Two cameras on one lane: the entry camera reads the plate, the window camera the code later.

The real edge process runs both cameras at their native frame rate against a real Mosquitto,
so the two views keep their timing: each car leaves the entry's view, is out of both views for
longer than a departure, then stops at the window while the next car already rolls past the
entry.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.scene_render import qr_image, tilted_quad, warp_into
from bench.scenes import CarSpec, lane_video, write_video
from core.codes import PickupCode
from tests.conftest import SITE
from tests.integration.test_edge_lane import (
    PASSWORD_ENV,
    by_visit,
    edge,
    fake_server,
    outbox_ids,
)
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(180)]

FPS = 25
GAP, MOVE, WAIT = 15, 10, 20  # entry video: frames of empty lane, sliding, standing
HANDOFF = 12  # frames in neither view between the entry and the window (> a departure's 10)
AT_WINDOW = 40


def _code(seed: int) -> PickupCode:
    rng = np.random.default_rng(seed)
    return PickupCode.parse("DT1:" + base64.b32encode(rng.bytes(16)).decode().rstrip("="))


CODE_A, CODE_C = _code(21), _code(23)
CARS = (
    (CarSpec("DK1234AB", wait_frames=WAIT), CODE_A),
    (CarSpec("B987CD", wait_frames=WAIT), None),
    (CarSpec("AB12XY", wait_frames=WAIT), CODE_C),
)
VIDEO_VERSION = "v1"
# What the server learns from one arrival: camera, plate, code hash, same visit as the first.
Seen = tuple[str, str | None, str | None, bool]


def _window_frames(codes: list[PickupCode | None], total: int) -> Iterator[np.ndarray]:
    """The window camera: a car's side stops in view; a driver holds the code up."""
    rng = np.random.default_rng(7)
    lane = next(lane_video([], seed=31, gap_frames=1))
    noise = [rng.integers(0, 5, lane.shape, dtype=np.uint8) for _ in range(3)]
    cars: list[np.ndarray] = []
    for number, code in enumerate(codes):
        car = lane.copy()
        colour = tuple(int(c) for c in rng.integers(40, 200, size=3))
        cv2.rectangle(car, (0, 120), (1280, 720), colour, -1)
        cv2.rectangle(car, (200, 160), (1150, 420), (25, 25, 25), -1)  # the side window
        if code is not None:
            quad = tilted_quad(rng, 700.0 + 40 * number, 290.0, 132.0, 132.0, 0.05)
            warp_into(car, qr_image(code.text, 4), quad)
        cars.append(car)
    # Car n leaves the entry's view at GAP + n * per_car + 2 * MOVE + WAIT.
    per_car = 2 * MOVE + WAIT + GAP
    starts = [GAP + n * per_car + 2 * MOVE + WAIT + HANDOFF for n in range(len(codes))]
    for index in range(total):
        frame = lane
        for start, car in zip(starts, cars, strict=True):
            if start <= index < start + AT_WINDOW:
                frame = car
        yield np.asarray(cv2.subtract(cv2.add(frame, noise[index % 3]), noise[(index + 1) % 3]))


@pytest.fixture(scope="module")
def two_cameras(pytestconfig: pytest.Config) -> tuple[Path, Path]:
    """The entry and window videos, frame for frame the same length (kept in pytest's cache)."""
    folder = pytestconfig.cache.mkdir("edge-two-cameras")
    entry = folder / f"entry-{VIDEO_VERSION}.avi"
    window = folder / f"window-{VIDEO_VERSION}.avi"
    if not (entry.exists() and window.exists()):
        cars = [car for car, _ in CARS]
        frames = lane_video(cars, seed=41, gap_frames=GAP, move_frames=MOVE)
        # A tail of empty lane long enough for the last car to reach and leave the window.
        tail = itertools.repeat(next(lane_video([], seed=41, gap_frames=1)), 80)
        total = write_video(itertools.chain(frames, tail), entry.with_suffix(".partial.avi"), FPS)
        codes = [code for _, code in CARS]
        write_video(_window_frames(codes, total), window.with_suffix(".partial.avi"), FPS)
        entry.with_suffix(".partial.avi").rename(entry)
        window.with_suffix(".partial.avi").rename(window)
    return entry, window


def lane_config(path: Path, broker: MosquittoServer, entry: Path, window: Path) -> Path:
    path.write_text(
        f'site = "{SITE}"\nlane = "1"\ndrain_seconds = 10\n'
        f'[[cameras]]\nname = "entry"\nrole = "entry"\nsource = "{entry}"\npace = "realtime"\n'
        f'[[cameras]]\nname = "window"\nrole = "window"\nsource = "{window}"\n'
        'pace = "realtime"\n'
        f'[broker]\nurl = "{broker.url}"\nusername = "lane-1"\npassword_env = "{PASSWORD_ENV}"\n'
        f'[outbox]\npath = "{path.parent / "outbox.db"}"\n'
    )
    return path


def test_the_entry_plate_and_the_window_code_join_in_one_visit(
    mosquitto: MosquittoServer, two_cameras: tuple[Path, Path], tmp_path: Path
) -> None:
    entry, window = two_cameras
    config = lane_config(tmp_path / "lane.toml", mosquitto, entry, window)
    log = tmp_path / "edge.log"
    with fake_server(mosquitto) as server:
        with edge(["--config", str(config)], log) as process:
            assert process.wait(90) == 0, log.read_text()
        visits = by_visit(server.arrivals)
    summary = [
        [
            (a.camera, a.plate.text if a.plate else None, a.code_sha256, a.visit == v[0].visit)
            for a in v
        ]
        for v in visits
    ]
    expected: list[list[Seen]] = []
    for car, code in CARS:
        arrivals: list[Seen] = [("entry", car.plate, None, True)]  # one arrival with the plate...
        if code is not None:  # ...then one update of the same visit carrying the code
            arrivals.append(("window", car.plate, code.sha256, True))
        expected.append(arrivals)
    assert summary == expected, log.read_text()
    assert len({str(a.id) for a in server.arrivals}) == len(server.arrivals)  # nothing doubled
    assert outbox_ids(tmp_path / "outbox.db") == set()
    text = log.read_text()
    assert text.count("kunjungan selesai / visit ended") == len(CARS)
    assert CODE_A.text not in text
    assert CODE_C.text not in text
