"""The motion gate on synthetic frames."""

from __future__ import annotations

import numpy as np

from edge_lane.config import RegionOfInterest
from edge_lane.motion import MotionGate, MotionRules


def lane(seed: int, car: bool = False, at: int = 400) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = np.full((720, 1280, 3), 90, np.uint8)
    frame[:360] = 150
    noise = rng.normal(0, 6, frame.shape)
    frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
    if car:
        frame[300:650, at : at + 500] = (30, 30, 200)
    return frame


def test_an_empty_lane_is_not_occupied() -> None:
    gate = MotionGate(MotionRules())
    readings = [gate.check(lane(seed)) for seed in range(30)]
    assert not any(r.occupied for r in readings)


def test_a_car_is_seen_and_a_waiting_car_stays_seen() -> None:
    gate = MotionGate(MotionRules())
    for seed in range(10):
        gate.check(lane(seed))
    waiting = [gate.check(lane(100 + n, car=True)) for n in range(300)]
    assert all(r.occupied for r in waiting)  # it does not move, and still counts
    assert waiting[-1].changed > 0.1


def test_the_lane_is_empty_again_when_the_car_leaves() -> None:
    gate = MotionGate(MotionRules())
    for seed in range(10):
        gate.check(lane(seed))
    for n in range(50):
        gate.check(lane(100 + n, car=True))
    assert not gate.check(lane(999)).occupied


def test_a_car_outside_the_region_of_interest_is_ignored() -> None:
    roi = RegionOfInterest(x=0.0, y=0.0, width=0.25, height=1.0)
    gate = MotionGate(MotionRules(), roi)
    for seed in range(10):
        gate.check(lane(seed))
    assert not gate.check(lane(50, car=True, at=700)).occupied
    assert gate.check(lane(51, car=True, at=0)).occupied


def test_the_background_follows_a_slow_light_change_of_an_empty_lane() -> None:
    gate = MotionGate(MotionRules())
    for step in range(100):
        frame = np.clip(lane(step).astype(np.int16) + step // 4, 0, 255).astype(np.uint8)
        assert not gate.check(frame).occupied
