"""Bench-only timing lives in an observer the bench attaches, bounded; the agent keeps none."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection
from pathlib import Path

import cv2
import numpy as np

from bench.delivery_clock import DeliveryClock
from edge_lane.agent import bootstrap
from edge_lane.config import CameraSettings, LaneSettings, OutboxSettings, Pace
from plate_reader import PlateRead, QrRead


def test_a_delivered_publish_becomes_one_timing_from_its_deciding_frame() -> None:
    clock = DeliveryClock()
    arrival = uuid.uuid4()
    clock.queued(arrival, captured=10.0)
    clock.published(arrival, mid=7)
    clock.delivered(8)  # a mid never published (a status message): ignored
    clock.delivered(7)
    clock.delivered(7)  # a second PUBACK of the same mid adds nothing
    assert [t.arrival for t in clock.timings] == [arrival]
    assert clock.timings[0].evidence_at == 10.0
    assert clock.timings[0].latency_ms > 0


def test_publishes_never_acked_are_dropped_past_the_limit() -> None:
    clock = DeliveryClock(limit=5)
    arrivals = [uuid.uuid4() for _ in range(12)]
    for mid, arrival in enumerate(arrivals):
        clock.queued(arrival, captured=float(mid))
        clock.published(arrival, mid)
    assert len(clock._pending) == 5
    assert len(clock._evidence_at) == 5
    clock.delivered(0)  # forgotten: the oldest went first
    clock.delivered(11)
    assert [t.arrival for t in clock.timings] == [arrivals[11]]


class _NoReads:
    def read(self, frame: object, expected: Collection[str] | None = None) -> object:
        from plate_reader import FrameReads

        return FrameReads((), (), 0.0)

    def read_qr(self, frame: object) -> tuple[QrRead, ...]:
        return ()

    def read_plates(
        self, frame: object, expected: Collection[str] | None = None
    ) -> tuple[PlateRead, ...]:
        return ()


def test_the_agent_tells_its_observer_and_keeps_no_timing_of_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "lane"
    folder.mkdir()
    for index in range(4):
        cv2.imwrite(str(folder / f"{index:02}.png"), np.full((90, 160, 3), 40 * index, np.uint8))
    settings = LaneSettings(
        site="badung",
        lane="1",
        cameras=[CameraSettings(name="window", source=str(folder), pace=Pace.FAST)],
        outbox=OutboxSettings(path=tmp_path / "outbox.db"),
    )
    clock = DeliveryClock()
    agent = bootstrap(settings, readers={"window": _NoReads()}, observer=clock)
    agent._watch("window", threading.Event())
    assert agent.frames == 4
    assert set(clock.first_frame_at) == {"window"}
    arrival = uuid.uuid4()
    clock.queued(arrival, 1.0)
    agent._published(arrival, 3)
    agent.on_delivered(3)
    assert [t.arrival for t in clock.timings] == [arrival]
    assert not any("timing" in name or "evidence" in name for name in vars(agent))
    agent.outbox.close()
