"""Publishes the lanes' Home Assistant discovery configs and summaries (core/home_assistant.py).

Runs in the server when ``[home_assistant] enabled = true``. After each projected page (at
most every ``interval_seconds``) it reads each lane's cars waiting (`projections.lane_queue`)
and latest arrival (`projections.arrivals`) from the read models and publishes a lane's
retained summary when it changed. The configs go out when the link (re)connects and, with
the summaries, every ``refresh_seconds``, in case a broker restarted without its retained
messages. Every replica may publish: they read the same log, so they say the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import aiosqlite

from core.contract import Topics, encode
from core.home_assistant import HomeAssistantSettings, LaneSummary, discovery_messages
from core.version import VERSION
from projections.lane_queue import lane_queues

if TYPE_CHECKING:
    from api.bridge import MqttBridge
    from api.settings import ServerSettings

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """What this needs of the MQTT bridge: whether it is connected, and a retained publish."""

    @property
    def connected(self) -> bool: ...

    def publish_retained(self, topic: str, payload: bytes) -> None: ...


async def last_arrival(
    conn: aiosqlite.Connection, site: str, lane: str
) -> tuple[datetime | None, str | None]:
    """When the lane's latest arrival came and its outcome (None, None before any)."""
    async with conn.execute(
        "SELECT at, outcome FROM lane_arrivals WHERE site = ? AND lane = ? "
        "ORDER BY position DESC LIMIT 1",
        (site, lane),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None, None
    try:
        moment = datetime.fromisoformat(row[0])
    except (TypeError, ValueError):
        return None, str(row[1])
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), str(row[1])


class HomeAssistantPublisher:
    """Keeps Home Assistant's view of the site's lanes current over MQTT."""

    def __init__(
        self,
        settings: HomeAssistantSettings,
        site: str,
        lanes: Sequence[str],
        conn: aiosqlite.Connection,
        publisher: Publisher,
        *,
        site_name: str | None = None,
        version: str | None = None,
    ) -> None:
        self.settings = settings
        self.site = site
        self.lanes = tuple(lanes)
        self.conn = conn
        self.publisher = publisher
        self.topics = Topics(site)
        self.discovery = discovery_messages(
            self.topics, self.lanes, settings, site_name=site_name, version=version
        )
        self._wanted = asyncio.Event()
        self._was_connected = False
        self._refreshed_at = float("-inf")
        self._published: dict[str, tuple[int, datetime | None, str | None]] = {}

    def changed(self, _position: int = 0) -> None:
        """Look again soon (called on the event loop after each projected page)."""
        self._wanted.set()

    async def run(self) -> None:
        """Publish until cancelled; a failed round is logged and the next one tries again."""
        interval = self.settings.interval_seconds
        while True:
            published = False
            try:
                if self._due():
                    self._wanted.clear()
                    await self.publish_changes()
                    published = True
            except Exception:
                log.exception("Home Assistant: ringkasan gagal / summary failed")
            if published:
                await asyncio.sleep(interval)  # the shortest gap between two rounds
            else:
                # Also how soon a (re)connected link is noticed: the configs go out then.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wanted.wait(), interval)

    def _due(self) -> bool:
        if not self.publisher.connected:
            self._was_connected = False
            return False
        refresh_due = time.monotonic() - self._refreshed_at >= self.settings.refresh_seconds
        return not self._was_connected or self._wanted.is_set() or refresh_due

    async def publish_changes(self) -> int:
        """Publish the configs if due and each lane's summary that changed; returns how many
        messages went out."""
        if not self.publisher.connected:
            self._was_connected = False
            return 0
        sent = 0
        now = time.monotonic()
        if not self._was_connected or now - self._refreshed_at >= self.settings.refresh_seconds:
            for message in self.discovery:
                self.publisher.publish_retained(message.topic, json.dumps(message.config).encode())
                sent += 1
            self._published.clear()  # the summaries go out again with them
            self._refreshed_at = now
            self._was_connected = True
        queues = await lane_queues(self.conn, self.site, self.lanes, datetime.now(UTC))
        for lane in self.lanes:
            queue = queues.get(lane)
            arrived_at, outcome = await last_arrival(self.conn, self.site, lane)
            content = (queue.cars if queue else 0, arrived_at, outcome)
            if self._published.get(lane) == content:
                continue
            summary = LaneSummary(
                site=self.site, lane=lane, waiting=content[0], last_arrival=arrived_at,
                last_outcome=outcome,
            )  # fmt: skip
            self.publisher.publish_retained(self.topics.lane_summary(lane), encode(summary))
            self._published[lane] = content
            sent += 1
        return sent


class BridgePublisher:
    """The server's MQTT bridge as a `Publisher` (QoS 1, retained, through its link)."""

    def __init__(self, bridge: MqttBridge) -> None:
        self.bridge = bridge

    @property
    def connected(self) -> bool:
        return self.bridge.connected

    def publish_retained(self, topic: str, payload: bytes) -> None:
        self.bridge.link.publish(topic, payload, retain=True)


def home_assistant_for(
    settings: ServerSettings, conn: aiosqlite.Connection, bridge: MqttBridge
) -> HomeAssistantPublisher:
    """The publisher of a server's site, on its read models and its bridge."""
    return HomeAssistantPublisher(
        settings.home_assistant,
        settings.site,
        [lane.lane for lane in settings.lanes],
        conn,
        BridgePublisher(bridge),
        site_name=settings.site_name,
        version=VERSION,
    )
