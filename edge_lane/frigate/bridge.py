"""The Frigate bridge: Frigate's plate reads in, the lane's arrivals out through the outbox.

Two MQTT links: one reads Frigate's broker (which may be another broker), one speaks the v1
contract on drivethru's broker as the lane's user. Arrivals go through the lane's durable
`Outbox` and `Courier`, and leave the outbox only on the server's ack, as the edge's do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from core.contract import Ack, Topics, encode
from core.plates import mask_plate
from edge_lane.config import broker_password
from edge_lane.courier import Courier
from edge_lane.frigate.config import FrigateLaneSettings
from edge_lane.frigate.sightings import Departed, FrigateDesk, Sighted
from edge_lane.inbox import LaneInbox, Refused
from edge_lane.mqtt import DeviceLink
from edge_lane.outbox import Outbox

log = logging.getLogger(__name__)


class FrigateBridge:
    """Runs until stopped; the desk runs on the Frigate link's thread, acks on the lane's."""

    def __init__(
        self,
        settings: FrigateLaneSettings,
        outbox: Outbox,
        *,
        lane_password: str | None,
        frigate_password: str | None,
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.site)
        self.outbox = outbox
        self.courier = Courier(outbox, settings.outbox.retry_seconds)
        self.desk = FrigateDesk(settings)
        self.inbox = LaneInbox(settings.site, settings.lane)
        self.arrivals_sent = 0
        self._stop = threading.Event()
        site, lane = settings.site, settings.lane
        self.lane_link = DeviceLink(
            settings.broker,
            client_id=f"drivethru-{site}-frigate-{lane}",
            password=lane_password,
            will_topic=None,  # the lane's status belongs to the lane's edge, if it has one
            will_payload=None,
            subscriptions=[self.topics.acks(lane)],
            on_message=self.on_lane_message,
            on_connected=self.courier.reconnected,
        )
        frigate = settings.frigate
        self.frigate_link = DeviceLink(
            frigate.broker_settings,
            client_id=f"drivethru-{site}-frigate-{lane}-reader",
            password=frigate_password,
            will_topic=None,
            will_payload=None,
            subscriptions=[frigate.events_topic, frigate.updates_topic],
            on_message=self.on_frigate_message,
            on_connected=lambda: None,
        )

    def on_frigate_message(self, topic: str, payload: bytes) -> None:
        outcome = self.desk.take(topic, payload)
        if isinstance(outcome, Departed):
            departure = outcome.departure
            log.info(
                "KEPERGIAN / DEPARTURE visit=%s (frigate %s)", departure.visit, outcome.event_id,
                extra={"visit": str(departure.visit)},
            )  # fmt: skip
            if self.outbox.add(
                departure.id, self.topics.departures(departure.lane), encode(departure)
            ):
                self.courier.wake()
            return
        if not isinstance(outcome, Sighted):
            log.debug("frigate %s: %s %s", topic, outcome.reason, outcome.detail)
            return
        arrival = outcome.arrival
        assert arrival.plate is not None  # a Frigate arrival always carries its plate
        log.info(
            "KEDATANGAN / ARRIVAL %s visit=%s plate=%s score=%.2f frames=%d "
            "(frigate %s, dikenal Frigate / known to Frigate: %s)",
            arrival.id,
            arrival.visit,
            mask_plate(arrival.plate.text),
            arrival.plate.confidence,
            arrival.plate.frames,
            outcome.event_id,
            outcome.known_as or "-",
        )
        if not self.outbox.add(arrival.id, self.topics.arrivals(arrival.lane), encode(arrival)):
            log.warning(
                "OUTBOX PENUH (%d), kedatangan ditolak / OUTBOX FULL, arrival refused: %s",
                self.outbox.max_entries,
                arrival.id,
            )
            return
        self.arrivals_sent += 1
        self.courier.wake()

    def on_lane_message(self, topic: str, payload: bytes) -> None:
        item = self.inbox.route(topic, payload)
        if isinstance(item, Refused):
            log.warning("pesan %s ditolak / %s refused: %s", item.kind, item.kind, item.reason)
        elif isinstance(item, Ack) and self.outbox.ack(item.id):
            log.info("ack %s: %s %s", item.id, item.outcome, item.reason or "")

    def run(self, stop: threading.Event | None = None) -> None:
        """Run until ``stop`` (or `stop`) is set."""
        stop = stop or self._stop
        self.lane_link.start()
        self.frigate_link.start()
        courier = threading.Thread(
            target=self.courier.run, args=(self.lane_link, stop), name="courier", daemon=True
        )
        courier.start()
        try:
            stop.wait()
        finally:
            stop.set()
            self._stop.set()
            self.courier.wake()
            courier.join(timeout=5)
            self.frigate_link.stop()
            self.lane_link.stop()
            self.outbox.close()
            log.info(
                "bridge Frigate berhenti / Frigate bridge stopped (%d arrivals, skipped: %s)",
                self.arrivals_sent,
                dict(self.desk.skipped),
            )

    def stop(self) -> None:
        self._stop.set()


def bootstrap(
    settings: FrigateLaneSettings, environ: Mapping[str, str] | None = None
) -> FrigateBridge:
    """Wire the bridge from its settings; raises `ConfigError` or `OutboxError`."""
    lane_password = broker_password(settings.broker, environ)
    frigate_password = broker_password(settings.frigate.broker_settings, environ)
    outbox = Outbox(settings.outbox.path, settings.outbox.max_entries)
    return FrigateBridge(
        settings, outbox, lane_password=lane_password, frigate_password=frigate_password
    )
