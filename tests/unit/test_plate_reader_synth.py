"""The synthetic sets are reproducible and the lane video plays back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from bench.scenes import CarSpec, Scheme, lane_video, plate_scene, qr_scene, write_video


def test_the_same_seed_gives_the_same_frame() -> None:
    a = plate_scene(np.random.default_rng(3))
    b = plate_scene(np.random.default_rng(3))
    assert a.plate == b.plate
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, plate_scene(np.random.default_rng(4)).image)


def test_frames_are_1280_by_720_colour() -> None:
    sample = qr_scene(np.random.default_rng(5), "DT1:ABC")
    assert sample.image.shape == (720, 1280, 3)
    assert sample.image.dtype == np.uint8


def test_a_lane_video_has_empty_lane_between_cars_and_writes_to_avi(tmp_path: Path) -> None:
    cars = [
        CarSpec("DK 1234 AB", Scheme.BLACK_ON_WHITE, code="DT1:ABC", wait_frames=6),
        CarSpec("B 77 XY", Scheme.YELLOW, wait_frames=6),
    ]
    frames = list(lane_video(cars, seed=9, gap_frames=3, move_frames=4))
    assert len(frames) == 3 + 2 * (4 + 6 + 4 + 3)
    assert all(f.shape == (720, 1280, 3) for f in frames)
    # The lane is empty at the start and the end, and a car is there in between.
    empty_change = float(cv2.absdiff(frames[0], frames[-1]).mean())
    car_change = float(cv2.absdiff(frames[0], frames[3 + 4 + 2]).mean())
    assert car_change > 3 * empty_change
    path = tmp_path / "lane.avi"
    assert write_video(iter(frames), path) == len(frames)
    capture = cv2.VideoCapture(str(path))
    try:
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames)
    finally:
        capture.release()
