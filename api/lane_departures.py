"""Cars leaving the lanes, over MQTT: each departure recorded once on its visit and acked.

The edge sends a `Departure` when a visit that sent arrivals ends; the visit's `Left` event
takes the car out of the lane's queue (`projections.lane_queue`). Every departure gets an ack
on the lane's ``acks`` topic, invalid ones too (with their id), so edges can empty their
outboxes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from uuid import UUID

from api.log_throttle import WarningThrottle
from api.metrics import Metrics
from core.arrivals import ArrivalDesk
from core.contract import Ack, AckOutcome, Departure, Message, Topics, decode, peek_id, reason_kind
from core.errors import ContractError

log = logging.getLogger(__name__)
Publish = Callable[[str, Message], None]
WindowOf = Callable[[str], str | None]


class LaneDepartures:
    """The bridge's departure side: validates, records through the desk, answers."""

    def __init__(
        self,
        desk: ArrivalDesk,
        topics: Topics,
        window_of: WindowOf,
        publish: Publish,
        metrics: Metrics,
        warnings: WarningThrottle,
    ) -> None:
        self.desk = desk
        self.topics = topics
        self.window_of = window_of
        self._publish = publish
        self.metrics = metrics
        self.warnings = warnings

    async def handle(self, lane: str, payload: bytes) -> None:
        """Record a departure from ``lane`` and ack it, whatever happens."""
        try:
            departure = decode(Departure, payload)
        except ContractError as invalid:
            self._reject(lane, peek_id(payload), reason_kind(invalid.reason), invalid.reason)
            return
        if departure.lane != lane or departure.site != self.topics.site:
            self._reject(
                lane, departure.id, "wrong_lane_or_site",
                f"lane/site in payload ({departure.site}/{departure.lane}) != topic "
                f"({self.topics.site}/{lane})",
            )  # fmt: skip
            return
        if self.window_of(lane) is None:
            self._reject(lane, departure.id, "unknown_lane", f"unknown lane {lane}")
            return
        outcome = await asyncio.to_thread(self.desk.depart, departure)
        self.metrics.departure(outcome.value)
        reason = "sudah tercatat / already recorded" if outcome is AckOutcome.DUPLICATE else None
        self._publish(self.topics.acks(lane), Ack(id=departure.id, outcome=outcome, reason=reason))
        log.debug(
            "kepergian / departure %s lane %s: %s", departure.visit, lane, outcome.value,
            extra={"lane": lane, "visit": str(departure.visit)},
        )  # fmt: skip

    def _reject(self, lane: str, message_id: UUID | None, kind: str, reason: str) -> None:
        self.metrics.invalid_message()
        self.metrics.rejected_message(kind)
        self.metrics.departure(AckOutcome.REJECTED.value)
        self.warnings.warning(
            f"departure:{kind}",
            "kepergian ditolak / departure rejected on lane %s: %s", lane, reason,
            extra={"lane": lane},
        )  # fmt: skip
        if message_id is not None:
            self._publish(
                self.topics.acks(lane),
                Ack(id=message_id, outcome=AckOutcome.REJECTED, reason=reason[:200]),
            )
