"""The courier: carries a durable outbox to the broker until the server acks each entry.

Shared by every device that publishes through an `Outbox` (the lane agent, the Frigate
bridge): new entries go out when it is woken, unacked ones again after ``retry_seconds``,
and all of them after every reconnect, because a broker may have lost what it had queued.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol
from uuid import UUID

from edge_lane.outbox import Outbox

DELIVERY_TICK = 0.5


class Publisher(Protocol):
    """What the courier needs of an MQTT link (`edge_lane.mqtt.DeviceLink`)."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int | None: ...


RoundHook = Callable[[bool], None]
PublishedHook = Callable[[UUID, int], None]


class Courier:
    """Publishes an outbox's due entries; `run` is its loop, `wake` and `reconnected` nudge it."""

    def __init__(self, outbox: Outbox, retry_seconds: float, tick: float = DELIVERY_TICK) -> None:
        self.outbox = outbox
        self.retry_seconds = retry_seconds
        self.tick = tick
        self._wake = threading.Event()
        self._reconnected = threading.Event()

    def wake(self) -> None:
        """Something new is in the outbox (or the loop should look at its stop event)."""
        self._wake.set()

    def reconnected(self) -> None:
        """The link is back: republish every entry, not only the due ones."""
        self._reconnected.set()
        self._wake.set()

    def run(
        self,
        link: Publisher,
        stop: threading.Event,
        *,
        after_round: RoundHook | None = None,
        on_published: PublishedHook | None = None,
    ) -> None:
        """Deliver until ``stop`` is set (then call `wake` so the loop sees it at once).

        ``after_round(everything)`` runs after each connected round (``everything`` after a
        reconnect); ``on_published(entry_id, mid)`` after each publish the link took.
        """
        while not stop.is_set():
            self._wake.wait(self.tick)
            self._wake.clear()
            if not link.connected:
                continue
            everything = self._reconnected.is_set()
            self._reconnected.clear()
            for entry in self.outbox.due(None if everything else self.retry_seconds):
                mid = link.publish(entry.topic, entry.payload)
                if mid is None:
                    break
                if on_published is not None:
                    on_published(entry.id, mid)
                self.outbox.mark_sent(entry.id)
            if after_round is not None:
                after_round(everything)
