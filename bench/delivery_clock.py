"""What the edge benchmark times of a running lane agent, kept outside the agent."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class DeliveryTiming:
    """When an arrival's deciding frame was captured and when the broker acked its publish."""

    arrival: UUID
    evidence_at: float
    puback_at: float

    @property
    def latency_ms(self) -> float:
        return (self.puback_at - self.evidence_at) * 1000


class DeliveryClock:
    """An `edge_lane.agent.AgentObserver`: deciding frame → PUBACK for each arrival.

    A publish that is never acked (the link dropped it; the courier republishes under a new
    message id) would stay forever, so at most ``limit`` are held of each kind.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self.timings: list[DeliveryTiming] = []
        # With a realtime source, frame k of a camera is due at its first frame + k / fps:
        # the clock the benchmark measures evidence latency from.
        self.first_frame_at: dict[str, float] = {}
        self._evidence_at: OrderedDict[UUID, float] = OrderedDict()
        self._pending: OrderedDict[int, UUID] = OrderedDict()
        self._lock = threading.Lock()

    def frame(self, camera: str, captured: float) -> None:
        if camera not in self.first_frame_at:
            with self._lock:
                self.first_frame_at.setdefault(camera, captured)

    def queued(self, arrival: UUID, captured: float) -> None:
        with self._lock:
            _bounded_put(self._evidence_at, arrival, captured, self.limit)

    def published(self, arrival: UUID, mid: int) -> None:
        with self._lock:
            _bounded_put(self._pending, mid, arrival, self.limit)

    def delivered(self, mid: int) -> None:
        with self._lock:
            arrival = self._pending.pop(mid, None)
            evidence_at = None if arrival is None else self._evidence_at.pop(arrival, None)
            if arrival is not None and evidence_at is not None and len(self.timings) < self.limit:
                self.timings.append(DeliveryTiming(arrival, evidence_at, time.monotonic()))


def _bounded_put(table: OrderedDict[K, V], key: K, value: V, limit: int) -> None:
    table[key] = value
    while len(table) > limit:
        table.popitem(last=False)
