"""The edge starts while a car is already waiting at the window (real edge, real Mosquitto)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.scenes import write_video
from tests.integration.test_edge_lane import (
    CARS,
    CODE_1,
    CODE_3,
    by_visit,
    edge,
    fake_server,
    lane_args,
    lane_avi,
    outbox_ids,
)
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(180)]

__all__ = ["lane_avi"]  # the module-scoped video fixture, shared with test_edge_lane

# lane_avi: 15 empty frames, the first car slides in over 14 and stands from frame 29 to 58.
FIRST_FRAME = 33


def _frames_from(video: Path, first: int) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    try:
        for index in itertools.count():
            ok, frame = capture.read()
            if not ok:
                return
            if index >= first:
                yield frame
    finally:
        capture.release()


def test_a_car_already_waiting_when_the_edge_starts_is_one_visit_like_the_others(
    mosquitto: MosquittoServer, lane_avi: Path, tmp_path: Path
) -> None:
    video = tmp_path / "late-start.avi"
    write_video(_frames_from(lane_avi, FIRST_FRAME), video, fps=40)
    log = tmp_path / "edge.log"
    outbox = tmp_path / "outbox.db"
    with fake_server(mosquitto) as server:
        with edge(lane_args(mosquitto, video, outbox, "--fast"), log) as process:
            assert process.wait(60) == 0, log.read_text()
        visits = by_visit(server.arrivals)
    plates = [v[-1].plate.text if v[-1].plate else None for v in visits]
    assert plates == [c.plate for c in CARS], log.read_text()
    codes = [{a.code_sha256 for a in v} - {None} for v in visits]
    assert codes == [{CODE_1.sha256}, set(), {CODE_3.sha256}, set()]
    # The first car is read although it was in the first frame, and its leaving does not
    # leave a lane that looks occupied for ever: every car after it is its own visit.
    assert outbox_ids(outbox) == set()
