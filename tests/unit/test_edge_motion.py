"""The motion gate on synthetic frames."""

from __future__ import annotations

import numpy as np

from edge_lane.config import RegionOfInterest
from edge_lane.motion import MotionGate, MotionRules

_BASE = np.full((720, 1280, 3), 90, np.int16)
_BASE[:360] = 150
# A few sensor-noise patterns, drawn once: each frame differs from the last as a camera's do.
_NOISE = [np.random.default_rng(n).integers(-10, 11, _BASE.shape, dtype=np.int16) for n in range(4)]


def lane(seed: int, car: bool = False, at: int = 400) -> np.ndarray:
    frame = np.clip(_BASE + _NOISE[seed % len(_NOISE)], 0, 255).astype(np.uint8)
    if car:
        frame[300:650, at : at + 500] = (20, 20, 20)
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


def test_a_car_already_there_at_start_counts_until_the_lane_settles_empty() -> None:
    gate = MotionGate(MotionRules(settle_frames=10))
    assert not any(gate.check(lane(n, car=True)).occupied for n in range(5))  # hidden in it
    gate.background_has_car()  # the watch read a plate in those frames
    assert all(gate.check(lane(10 + n, car=True)).occupied for n in range(50))
    leaving = [gate.check(lane(100 + n)).occupied for n in range(20)]
    assert leaving[:10] == [True] * 10  # the new scene must stand still first
    assert not leaving[-1]  # then it is the empty lane
    assert gate.check(lane(200, car=True)).occupied  # and the next car shows against it
