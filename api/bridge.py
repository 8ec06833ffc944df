"""The MQTT bridge: arrivals in, acks and releases out, manifests kept current.

paho-mqtt runs its network loop in its own thread; received messages are handed to the
asyncio loop, where one consumer validates them, asks the read models for plate candidates,
lets the arrival desk decide (in a worker thread: the event store is synchronous) and
answers. Every arrival gets an ack, invalid ones too, so edges can empty their outboxes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from uuid import UUID

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from api.manifests import lane_manifest, team_manifests
from api.metrics import Metrics
from api.settings import BrokerSettings, ServerSettings
from api.team_handovers import TeamHandovers
from core.arrivals import ArrivalDesk, ArrivalInput, DeskDecision, PlateCandidates
from core.codes import mask_name
from core.contract import (
    Ack,
    AckOutcome,
    Arrival,
    DeviceState,
    LaneStatus,
    Message,
    Release,
    ReleasedPermit,
    ServerStatus,
    Topics,
    decode,
    encode,
    peek_id,
)
from core.errors import ContractError
from core.service import PermitService, PermitSnapshot
from core.teams import TeamDesk
from projections import queries
from projections.store import ReadModels

log = logging.getLogger(__name__)
VERSION = "0.1.0"
# Arrivals decided together share one store commit; more would only delay the first acks.
MAX_BATCH = 64
Notify = Callable[[dict[str, Any]], None]


class MqttBridge:
    """Connects the site's lanes to the arrival desk over MQTT."""

    def __init__(
        self,
        settings: ServerSettings,
        broker: BrokerSettings,
        desk: ArrivalDesk,
        service: PermitService,
        read_models: ReadModels,
        metrics: Metrics,
        notify: Notify,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.desk = desk
        self.service = service
        self.read_models = read_models
        self.metrics = metrics
        self.notify = notify
        self.topics = Topics(settings.site)
        self.team_handovers = TeamHandovers(
            TeamDesk(service), self.topics, self._publish, metrics, notify
        )
        self.connected = False
        # Shared subscriptions are MQTT 5; a 3.1.1 broker (the embedded one) may accept the
        # '$share/...' filter and then never match it, so 3.1.1 subscribes plainly.
        self.shared = broker.protocol == "5"
        self._loop: asyncio.AbstractEventLoop | None = None
        # Messages from paho's thread; one wake-up of the loop covers all that came meanwhile
        # (a wake-up per message cost more than deciding it, measured with py-spy).
        self._inbox: deque[tuple[str, bytes, float]] = deque()
        self._inbox_waiting: asyncio.Event | None = None
        self._wake_sent = False
        self._consumer: asyncio.Task[None] | None = None
        self._manifest_task: asyncio.Task[None] | None = None
        self._manifest_wanted: asyncio.Event | None = None
        self._subscriptions: dict[int, str] = {}
        self._teams_published: set[str] = set()
        self._last_lane_manifest: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        self._manifest_stale = True
        self.lanes_seen: dict[str, LaneStatus] = {}
        self.client = self._make_client()

    # -- connection (paho's thread) ---------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        v5 = self.broker.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.broker.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
        )
        password = self.broker.password.get_secret_value()
        client.username_pw_set(self.broker.username, password or None)
        client.will_set(
            self.topics.server_status,
            encode(ServerStatus(state=DeviceState.OFFLINE, version=VERSION)),
            qos=1,
            retain=True,
        )
        if self.broker.tls:
            client.tls_set(
                ca_certs=str(self.broker.ca_file) if self.broker.ca_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        # Nagle's algorithm holds an ack or a release until the previous write is ACKed, and
        # the peer delays that ACK by up to 40 ms (measured: +35 ms on every release).
        client.on_socket_open = _disable_nagle
        # paho's default of 20 messages in flight would throttle acks under load.
        client.max_inflight_messages_set(1000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker menolak / broker refused the connection: %s", reason)
            self.connected = False
            return
        self.connected = True
        topic = self.topics.shared_arrivals if self.shared else self.topics.all_arrivals
        _result, mid = client.subscribe(topic, qos=1)
        if mid is not None:
            self._subscriptions[mid] = topic
        client.subscribe(f"{self.topics.root}/lanes/+/status", qos=1)
        client.subscribe(f"{self.topics.root}/teams/+/handovers", qos=1)
        self._publish(
            self.topics.server_status,
            ServerStatus(state=DeviceState.ONLINE, version=VERSION),
            retain=True,
        )
        self._manifest_stale = True
        self._want_manifests()
        log.info("terhubung ke broker / connected to %s", self.broker.url)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        topic = self._subscriptions.pop(mid, "")
        if topic.startswith("$share/") and any(r.is_failure for r in reasons):
            # A broker without shared subscriptions: one server takes every arrival.
            self.shared = False
            _result, plain_mid = client.subscribe(self.topics.all_arrivals, qos=1)
            if plain_mid is not None:
                self._subscriptions[plain_mid] = self.topics.all_arrivals

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self.connected = False
        log.warning("terputus dari broker / disconnected: %s", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        loop, waiting = self._loop, self._inbox_waiting
        if loop is None or waiting is None:
            return
        self._inbox.append((message.topic, bytes(message.payload), time.perf_counter()))
        if not self._wake_sent:
            self._wake_sent = True
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(waiting.set)

    def _publish(self, topic: str, message: Message, *, retain: bool = False) -> None:
        self.client.publish(topic, encode(message), qos=1, retain=retain)

    # -- lifecycle (event loop) -------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._inbox_waiting = asyncio.Event()
        self._manifest_wanted = asyncio.Event()
        self._consumer = asyncio.create_task(self._consume(), name="mqtt-arrivals")
        self._manifest_task = asyncio.create_task(self._manifests(), name="mqtt-manifests")
        properties = None
        if self.broker.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 24 * 3600
        self.client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=30,
            clean_start=False if self.broker.protocol == "5" else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self.client.loop_start()

    async def stop(self) -> None:
        if self.connected:
            info = self.client.publish(
                self.topics.server_status,
                encode(ServerStatus(state=DeviceState.OFFLINE, version=VERSION)),
                qos=1,
                retain=True,
            )
            with contextlib.suppress(Exception):
                await asyncio.to_thread(info.wait_for_publish, 2.0)
        self.client.disconnect()
        self.client.loop_stop()
        for task in (self._consumer, self._manifest_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def manifests_changed(self, _position: int = 0) -> None:
        """Ask for fresh lane manifests (called after the read models change)."""
        self._want_manifests()

    def _want_manifests(self) -> None:
        loop, wanted = self._loop, self._manifest_wanted
        if loop is not None and wanted is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wanted.set)

    # -- arrivals ---------------------------------------------------------------------------

    async def _consume(self) -> None:
        inbox, waiting = self._inbox, self._inbox_waiting
        if waiting is None:
            return
        while True:
            await waiting.wait()
            waiting.clear()
            self._wake_sent = False  # before draining: a later message wakes us again
            while inbox:
                batch = [inbox.popleft() for _ in range(min(len(inbox), MAX_BATCH))]
                try:
                    await self.handle_batch(batch)
                except Exception:
                    # Never let one batch stop the bridge; edges send unacked arrivals again.
                    log.exception("gagal memproses / failed to process %d messages", len(batch))

    async def handle_batch(self, batch: list[tuple[str, bytes, float]]) -> None:
        """Validate, decide together (one commit), then answer each message."""
        accepted: list[tuple[ArrivalInput, float]] = []
        for topic, payload, received in batch:
            team = self._team_of(topic)
            if team is not None:
                await self.team_handovers.handle(team, payload)
                continue
            found = self._accept(topic, payload)
            if found is not None:
                arrival, window = found
                plate = await self._plate_candidates(arrival)
                accepted.append((ArrivalInput(arrival, window, plate), received))
        if not accepted:
            return
        answers = await asyncio.to_thread(self._decide, [item for item, _ in accepted])
        for (item, received), (decision, released) in zip(accepted, answers, strict=True):
            self._answer(item.arrival, item.window, decision, released, received)

    def _decide(self, items: list[ArrivalInput]) -> list[tuple[DeskDecision, list[PermitSnapshot]]]:
        """In a worker thread: the desk's decisions and the released permits' details."""
        decisions = self.desk.decide_many(items)
        return [(decision, list(decision.released_permits)) for decision in decisions]

    def _team_of(self, topic: str) -> str | None:
        prefix = f"{self.topics.root}/teams/"
        if not topic.startswith(prefix) or not topic.endswith("/handovers"):
            return None
        team = topic[len(prefix) : -len("/handovers")]
        return team if team and "/" not in team else None

    def _accept(self, topic: str, payload: bytes) -> tuple[Arrival, str] | None:
        """An arrival for one of our lanes with its window, or None (rejected or not ours)."""
        lane = self.topics.lane_of(topic)
        if lane is not None and topic == self.topics.lane_status(lane):
            self._lane_status(lane, payload)
            return None
        if lane is None or topic != self.topics.arrivals(lane):
            return None  # not ours (the embedded broker forwards retained messages too freely)
        try:
            arrival = decode(Arrival, payload)
        except ContractError as invalid:
            self._reject(lane, peek_id(payload), invalid.reason)
            return None
        if arrival.lane != lane or arrival.site != self.settings.site:
            self._reject(
                lane, arrival.id,
                f"lane/site in payload ({arrival.site}/{arrival.lane}) != topic "
                f"({self.settings.site}/{lane})",
            )  # fmt: skip
            return None
        window = self.settings.window_of(lane)
        if window is None:
            self._reject(lane, arrival.id, f"unknown lane {lane}")
            return None
        return arrival, window

    def _lane_status(self, lane: str, payload: bytes) -> None:
        try:
            status = decode(LaneStatus, payload)
        except ContractError as invalid:
            self.metrics.invalid_message()
            log.warning("status jalur %s tidak sah / invalid lane status: %s", lane, invalid.reason)
            return
        self.lanes_seen[lane] = status
        online = [s for s in self.lanes_seen.values() if s.state is DeviceState.ONLINE]
        self.metrics.set_gauge("lanes_online", len(online))
        self.metrics.set_gauge("edge_outbox_depth", sum(s.outbox_depth or 0 for s in online))
        self.notify({"type": "lane_status", "lane": lane, "state": status.state.value,
                     "fps": status.fps, "camera_ok": status.camera_ok,
                     "outbox_depth": status.outbox_depth})  # fmt: skip

    async def _plate_candidates(self, arrival: Arrival) -> PlateCandidates | None:
        if arrival.plate is None:
            return None
        kind, rows = await queries.match_ready_plate(
            self.read_models.conn, arrival.site, arrival.plate.text
        )
        plate = rows[0].plate if rows else None
        return PlateCandidates(kind, plate, tuple(UUID(row.id) for row in rows))

    def _reject(self, lane: str, arrival_id: UUID | None, reason: str) -> None:
        self.metrics.invalid_message()
        self.metrics.arrival(AckOutcome.REJECTED.value)
        log.warning("kedatangan ditolak / arrival rejected on lane %s: %s", lane, reason)
        if arrival_id is not None:
            self._publish(
                self.topics.acks(lane),
                Ack(id=arrival_id, outcome=AckOutcome.REJECTED, reason=reason[:200]),
            )

    def _answer(
        self,
        arrival: Arrival,
        window: str,
        decision: DeskDecision,
        released: list[PermitSnapshot],
        received: float,
    ) -> None:
        lane = arrival.lane
        self._publish(
            self.topics.acks(lane),
            Ack(
                id=arrival.id,
                outcome=decision.outcome,
                reason=decision.reason[:200] if decision.reason else None,
                permits=list(decision.permits),
            ),
        )
        self.metrics.arrival(decision.outcome.value)
        if decision.outcome is AckOutcome.DUPLICATE:
            return
        # A release goes to the lane when something new was released, or when the driver must
        # see the operator; a code that confirms what a plate already released stays quiet.
        if released or decision.outcome in (
            AckOutcome.AMBIGUOUS, AckOutcome.NO_MATCH, AckOutcome.REJECTED,
        ):  # fmt: skip
            self._publish(
                self.topics.releases(lane),
                Release(
                    lane=lane,
                    window=window,
                    visit=arrival.visit,
                    plate=arrival.plate.text if arrival.plate else None,
                    permits=[
                        ReleasedPermit(
                            id=str(p.id),
                            number=p.number,
                            slot=p.slot,
                            holder=mask_name(p.applicant_name),
                        )
                        for p in released
                    ],
                    see_operator=decision.outcome is not AckOutcome.RELEASED,
                ),
            )
        if released:
            self.metrics.release_latency((time.perf_counter() - received) * 1000)
        self.notify(
            {
                "type": "arrival",
                "lane": lane,
                "window": window,
                "visit": str(arrival.visit),
                "outcome": decision.outcome.value,
                "reason": decision.reason,
                "permits": list(decision.permits),
                "released": list(decision.released),
                "plate": arrival.plate.text if arrival.plate else None,
                "method": "code" if arrival.code_sha256 else "plate",
                "source": arrival.source,
            }
        )

    # -- manifests --------------------------------------------------------------------------

    async def _manifests(self) -> None:
        wanted = self._manifest_wanted
        if wanted is None:
            return
        while True:
            await wanted.wait()
            await asyncio.sleep(self.settings.manifest_debounce_seconds)
            wanted.clear()
            if not self.connected:
                continue
            try:
                await self.publish_manifests()
            except Exception:
                log.exception("manifest gagal / manifest failed")

    async def publish_manifests(self) -> None:
        conn = self.read_models.conn
        manifest = await lane_manifest(conn, self.settings.site)
        content = (tuple(manifest.code_hashes), tuple(manifest.plates))
        # Published only when it changed, encoded once for every lane: with thousands of
        # READY permits and a busy lane, rebuilding it for each change stalled the loop.
        if content != self._last_lane_manifest or self._manifest_stale:
            payload = encode(manifest)
            for lane in self.settings.lanes:
                self.client.publish(
                    self.topics.lane_manifest(lane.lane), payload, qos=1, retain=True
                )
            self._last_lane_manifest = content
            self._manifest_stale = False
        teams = await team_manifests(conn, self.settings.site, self._teams_published)
        for team, team_manifest in teams.items():
            self._publish(self.topics.team_manifest(team), team_manifest, retain=True)
        self._teams_published = {team for team, m in teams.items() if m.permits}


def _disable_nagle(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
