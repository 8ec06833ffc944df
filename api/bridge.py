"""The MQTT bridge: arrivals and departures in, acks and releases out, manifests kept current.

The MQTT connection lives in a process of its own (`api.mqtt_child`, driven through
`api.mqtt_link`); what it receives comes to the asyncio loop in batches, where one consumer
validates the messages, asks the read models for plate candidates, lets the arrival desk
decide (in a worker thread: the event store is synchronous) and answers. Every message gets
an ack, invalid ones too, so edges can empty their outboxes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from uuid import UUID

from api.lane_departures import LaneDepartures
from api.log_throttle import WarningThrottle
from api.manifests import lane_manifest, team_manifests
from api.metrics import Metrics
from api.mqtt_link import LinkSetup, MqttLink, Received
from api.settings import BrokerSettings, ServerSettings
from api.team_handovers import TeamHandovers
from core.arrivals import ArrivalDesk, ArrivalInput, DeskDecision, PlateCandidates
from core.codes import mask_name
from core.contract import (
    ANY_NAME,
    Ack,
    AckOutcome,
    Arrival,
    DeviceState,
    LaneStatus,
    Message,
    Release,
    ReleasedPermit,
    ServerStatus,
    TopicKind,
    Topics,
    decode,
    encode,
    peek_id,
    reason_kind,
)
from core.errors import ContractError
from core.service import PermitService, PermitSnapshot
from core.teams import TeamDesk
from core.version import VERSION
from projections import queries
from projections.runner import ProjectionRunner
from projections.store import ReadModels

log = logging.getLogger(__name__)
# Arrivals decided together share one store commit; more would only delay the first acks.
MAX_BATCH = 64
# Plates are matched in the read models; they wait this long for the latest saves.
READ_MODEL_WAIT_SECONDS = 1.0
SOLE_SERVER_SESSION_SECONDS = 24 * 3600
REPLICA_BATCHES_IN_FLIGHT = 3
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
        runner: ProjectionRunner | None = None,
    ) -> None:
        self.settings = settings
        self.runner = runner
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: deque[Received] = deque()
        self._inbox_waiting: asyncio.Event | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._manifest_task: asyncio.Task[None] | None = None
        self._manifest_wanted: asyncio.Event | None = None
        self._teams_published: set[str] = set()
        self._last_lane_manifest: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        self._manifest_stale = True
        self.lanes_seen: dict[str, LaneStatus] = {}
        # A hostile or broken device can send thousands of bad messages a second.
        self.warnings = WarningThrottle(log, metrics, settings.warning_interval_seconds)
        self.departures = LaneDepartures(
            desk, self.topics, settings.window_of, self._publish, metrics, self.warnings
        )
        self.link = MqttLink(self._link_setup(), self._received, self._link_state)

    def _link_setup(self) -> LinkSetup:
        broker, topics = self.broker, self.topics
        return LinkSetup(
            host=broker.host,
            port=broker.port,
            username=broker.username,
            password=broker.password.get_secret_value(),
            client_id=broker.client_id,
            protocol=broker.protocol,
            tls=broker.tls,
            ca_file=str(broker.ca_file) if broker.ca_file else None,
            shared_arrivals=topics.shared_arrivals,
            all_arrivals=topics.all_arrivals,
            subscriptions=(topics.lane_status(ANY_NAME),),
            # One replica takes each team handover, as each arrival.
            shared_subscriptions=(
                (topics.shared(topics.team_handovers(ANY_NAME)), topics.team_handovers(ANY_NAME)),
                (topics.shared(topics.all_departures), topics.all_departures),
            ),
            session_expiry=self._session_expiry(),
            status_topic=topics.server_status,
            online=encode(ServerStatus(state=DeviceState.ONLINE, version=VERSION)),
            offline=encode(ServerStatus(state=DeviceState.OFFLINE, version=VERSION)),
            log_format=self.settings.log_format.value,
            site=self.settings.site,
            cert_file=str(broker.cert_file) if broker.cert_file else None,
            key_file=str(broker.key_file) if broker.key_file else None,
        )

    def _session_expiry(self) -> int:
        """A day for a sole server; none for replicas: while one is away, Mosquitto would
        queue its share of the arrivals in its session, where they wait until it returns
        (or the edges' retries happen to reach another replica)."""
        if self.broker.session_expiry_seconds is not None:
            return self.broker.session_expiry_seconds
        return SOLE_SERVER_SESSION_SECONDS if self.settings.sole_writer else 0

    @property
    def connected(self) -> bool:
        return self.link.connected

    def _received(self, batch: list[Received]) -> None:
        self._inbox.extend(batch)
        if self._inbox_waiting is not None:
            self._inbox_waiting.set()

    def _link_state(self, connected: bool, detail: str) -> None:
        if connected:
            self._manifest_stale = True  # retained manifests may be gone with the broker
            self._want_manifests()
            log.info("terhubung ke broker / connected to %s", self.broker.url)
        else:
            log.warning("terputus dari broker / disconnected: %s", detail)

    def _publish(self, topic: str, message: Message, *, retain: bool = False) -> None:
        self.link.publish(topic, encode(message), retain=retain)

    # -- lifecycle (event loop) -------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._inbox_waiting = asyncio.Event()
        self._manifest_wanted = asyncio.Event()
        self._consumer = asyncio.create_task(self._consume(), name="mqtt-arrivals")
        self._manifest_task = asyncio.create_task(self._manifests(), name="mqtt-manifests")
        await self.link.start()

    async def stop(self) -> None:
        await self.link.stop()
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
        # A sole writer decides one batch at a time (its decisions read no store, and the
        # next batch gathers meanwhile). Replicas read the store for every arrival: while
        # one batch waits on PostgreSQL the next ones are decided too.
        parallel = 1 if self.settings.sole_writer else REPLICA_BATCHES_IN_FLIGHT
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                await waiting.wait()
                waiting.clear()
                while inbox:
                    if len(running) >= parallel:
                        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                        running -= done
                        continue
                    batch = [inbox.popleft() for _ in range(min(len(inbox), MAX_BATCH))]
                    if parallel == 1:
                        await self._handle_safely(batch)
                    else:
                        running.add(asyncio.create_task(self._handle_safely(batch)))
        finally:
            for task in running:
                task.cancel()

    async def _handle_safely(self, batch: list[Received]) -> None:
        try:
            await self.handle_batch(batch)
        except Exception:
            # Never let one batch stop the bridge; edges send unacked arrivals again.
            log.exception("gagal memproses / failed to process %d messages", len(batch))

    async def handle_batch(self, batch: list[tuple[str, bytes, float]]) -> None:
        """Validate, decide together (one commit), then answer each message."""
        accepted: list[tuple[ArrivalInput, float]] = []
        departures: list[tuple[str, bytes]] = []
        for topic, payload, received in batch:
            parsed = self.topics.parse(topic)
            if parsed is None:
                continue  # not ours (the embedded broker forwards retained messages too freely)
            kind, name = parsed
            if kind is TopicKind.TEAM_HANDOVERS:
                await self.team_handovers.handle(name, payload)
            elif kind is TopicKind.DEPARTURES:
                departures.append((name, payload))
            elif kind is TopicKind.LANE_STATUS:
                self._lane_status(name, payload)
            elif kind is TopicKind.ARRIVALS and (found := self._accept(name, payload)):
                arrival, window = found
                plate = await self._plate_candidates(arrival)
                accepted.append((ArrivalInput(arrival, window, plate), received))
        if accepted:
            answers = await asyncio.to_thread(self._decide, [item for item, _ in accepted])
            for (item, received), (decision, released) in zip(accepted, answers, strict=True):
                self._answer(item.arrival, item.window, decision, released, received)
        for lane, payload in departures:  # after the arrivals of the visits they end
            await self.departures.handle(lane, payload)

    def _decide(self, items: list[ArrivalInput]) -> list[tuple[DeskDecision, list[PermitSnapshot]]]:
        """In a worker thread: the desk's decisions and the released permits' details."""
        decisions = self.desk.decide_many(items)
        return [(decision, list(decision.released_permits)) for decision in decisions]

    def _accept(self, lane: str, payload: bytes) -> tuple[Arrival, str] | None:
        """An arrival on ``lane``'s topic with the lane's window, or None (rejected)."""
        try:
            arrival = decode(Arrival, payload)
        except ContractError as invalid:
            self._reject(lane, peek_id(payload), reason_kind(invalid.reason), invalid.reason)
            return None
        if arrival.lane != lane or arrival.site != self.settings.site:
            self._reject(
                lane, arrival.id, "wrong_lane_or_site",
                f"lane/site in payload ({arrival.site}/{arrival.lane}) != topic "
                f"({self.settings.site}/{lane})",
            )  # fmt: skip
            return None
        window = self.settings.window_of(lane)
        if window is None:
            self._reject(lane, arrival.id, "unknown_lane", f"unknown lane {lane}")
            return None
        return arrival, window

    def _lane_status(self, lane: str, payload: bytes) -> None:
        try:
            status = decode(LaneStatus, payload)
        except ContractError as invalid:
            self.metrics.invalid_message()
            self.metrics.rejected_message("invalid_lane_status")
            self.warnings.warning(
                "invalid_lane_status",
                "status jalur %s tidak sah / invalid lane status: %s", lane, invalid.reason,
            )  # fmt: skip
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
        if self.runner is not None and not await self.runner.reached(READ_MODEL_WAIT_SECONDS):
            self.warnings.warning(
                "read_models_behind",
                "model baca tertinggal / read models behind: plate matched as they are",
            )
        kind, rows = await queries.match_ready_plate(
            self.read_models.conn, arrival.site, arrival.plate.text
        )
        # No one permit's plate matched (none near, or several as near): the visit keeps
        # the plate as read, so the window can list the candidates (api/routes/window.py).
        plate = rows[0].plate if rows and kind != "ambiguous" else arrival.plate.text
        return PlateCandidates(kind, plate, tuple(UUID(row.id) for row in rows))

    def _reject(self, lane: str, arrival_id: UUID | None, kind: str, reason: str) -> None:
        self.metrics.invalid_message()
        self.metrics.rejected_message(kind)
        self.metrics.arrival(AckOutcome.REJECTED.value)
        self.warnings.warning(
            f"arrival:{kind}",
            "kedatangan ditolak / arrival rejected on lane %s: %s%s", lane, reason,
            "" if arrival_id is not None else " (tanpa id, tidak di-ack / no id, not acked)",
            extra={"lane": lane, "arrival": str(arrival_id) if arrival_id else None},
        )  # fmt: skip
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
        duplicate = decision.outcome is AckOutcome.DUPLICATE
        # What the display shows: for an arrival sent again, the first answer once more (the
        # edge sends again when no ack came, and then the release may have been lost too).
        shown = decision.duplicate_of if duplicate else decision.outcome
        # A release goes to the lane when something new was released, or when the driver must
        # see the operator; a code that confirms what a plate already released stays quiet.
        # It goes before the ack: one connection keeps their order, so an edge that has the
        # ack has had the release, and one that lost both sends the arrival again.
        if released or shown in (
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
                    see_operator=shown is not AckOutcome.RELEASED,
                ),
            )
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
        log.log(
            logging.DEBUG if duplicate else logging.INFO,
            "kedatangan / arrival %s lane %s: %s%s", arrival.id, lane, decision.outcome.value,
            f" ({decision.reason})" if decision.reason else "",
            extra={
                "lane": lane, "arrival": str(arrival.id), "visit": str(arrival.visit),
                "permit": ",".join(str(p.id) for p in released) or None,
            },
        )  # fmt: skip
        if duplicate:
            return
        if released:
            self.metrics.release_latency((time.monotonic() - received) * 1000)
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
                self.link.publish(self.topics.lane_manifest(lane.lane), payload, retain=True)
            self._last_lane_manifest = content
            self._manifest_stale = False
        teams = await team_manifests(conn, self.settings.site, self._teams_published)
        for team, team_manifest in teams.items():
            self._publish(self.topics.team_manifest(team), team_manifest, retain=True)
        self._teams_published = {team for team, m in teams.items() if m.permits}
