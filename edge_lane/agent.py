"""The lane agent: source → motion gate → reader → visit tracker → outbox → MQTT, with status
and the lane display. `bootstrap` is the composition root; `LaneAgent.run` the main loop.

Threads: one per camera (frames in, observations to the shared tracker), one courier (outbox
to broker, status refresh) and paho's network thread (acks, releases, manifest in).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol
from uuid import UUID

import cv2
from pydantic import ValidationError

from core.contract import (
    Ack,
    Arrival,
    Departure,
    DeviceState,
    LaneManifest,
    LaneStatus,
    PlateEvidence,
    Release,
    Topics,
    encode,
)
from core.plates import mask_plate
from core.version import VERSION
from edge_lane.config import CameraRole, LaneSettings, broker_password
from edge_lane.courier import Courier
from edge_lane.display import DisplayServer, LaneDisplay
from edge_lane.inbox import Ignored, LaneInbox, Refused
from edge_lane.lane_metrics import CameraCounters, LaneCounters, render_lane_metrics
from edge_lane.mqtt import DeviceLink
from edge_lane.outbox import Outbox
from edge_lane.sources import FrameSource, open_source
from edge_lane.visits import (
    ArrivalDecision,
    Position,
    VisitClosed,
    VisitEvent,
    VisitOpened,
    VisitTracker,
    VotingRules,
)
from edge_lane.watch import CameraWatch, FrameReader

log = logging.getLogger(__name__)


class AgentObserver(Protocol):
    """What a benchmark or a test may watch of a running agent; the agent keeps none of it.

    Called on the camera threads (``frame``, ``queued``), the courier (``published``) and
    paho's network thread (``delivered``): an observer does its own locking.
    """

    def frame(self, camera: str, captured: float) -> None: ...

    def queued(self, arrival: UUID, captured: float) -> None: ...

    def published(self, arrival: UUID, mid: int) -> None: ...

    def delivered(self, mid: int) -> None: ...


class LaneAgent:
    """Runs one lane until stopped or until its (finite) sources end."""

    def __init__(
        self,
        settings: LaneSettings,
        sources: Mapping[str, FrameSource],
        watches: Mapping[str, CameraWatch],
        outbox: Outbox,
        link_factory: Callable[[LaneAgent], DeviceLink],
        display: LaneDisplay,
        display_server: DisplayServer | None = None,
        observer: AgentObserver | None = None,
    ) -> None:
        self.settings = settings
        self.observer = observer
        self.topics = Topics(settings.site)
        self.sources = sources
        self.watches = watches
        self.outbox = outbox
        self.display = display
        self.display_server = display_server
        self.inbox = LaneInbox(settings.site, settings.lane)
        t = settings.thresholds
        self.tracker = VisitTracker(
            VotingRules(
                depart_after_frames=t.depart_after_frames,
                plate_min_frames=t.plate_min_frames,
                plate_min_confidence=t.plate_min_confidence,
                plate_min_share=t.plate_min_share,
                max_arrivals_per_visit=t.max_arrivals_per_visit,
                handoff_frames=t.handoff_frames,
            ),
            positions={
                camera.name: Position.ENTRY if camera.role is CameraRole.ENTRY else Position.WINDOW
                for camera in settings.cameras
            },
        )
        self._tracker_lock = threading.Lock()
        self.expected_plates: frozenset[str] = frozenset()
        self.expected_codes: frozenset[str] = frozenset()
        self.frames = 0
        self.arrivals_decided = 0
        self.arrivals_sent = 0
        self._stop = threading.Event()
        self.courier = Courier(outbox, settings.outbox.retry_seconds)
        self._next_status = 0.0
        self._last_frames, self._last_time = 0, time.monotonic()
        self.link = link_factory(self)
        if display_server is not None:
            display_server.serve_metrics(self.metrics_text)

    # --- MQTT callbacks (paho's thread) -------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> None:
        item = self.inbox.route(topic, payload)
        if isinstance(item, Ignored):
            log.debug("diabaikan, bukan jalur ini / ignored, not this lane: %s", topic)
        elif isinstance(item, Refused):
            log.warning("pesan %s ditolak / %s refused: %s", item.kind, item.kind, item.reason)
        elif isinstance(item, Ack):
            sent_to = self.outbox.ack(item.id)
            if sent_to is not None:
                kind = "departure" if sent_to.endswith("/departures") else "arrival"
                log.info(
                    "ack %s %s: %s %s", kind, item.id, item.outcome, item.reason or "",
                    extra={kind: str(item.id)},
                )  # fmt: skip
        elif isinstance(item, Release):
            permits = item.permits
            log.info(
                "RILIS / RELEASE visit=%s permits=%s%s", item.visit,
                ",".join(p.number for p in permits) or "-",
                " (ke petugas / see operator)" if item.see_operator else "",
                extra={"visit": str(item.visit), "permit": ",".join(p.id for p in permits) or None},
            )  # fmt: skip
            self.display.show_release(item)
        elif isinstance(item, LaneManifest):
            self.expected_plates = frozenset(item.plates)
            self.expected_codes = frozenset(item.code_hashes)
            log.info(
                "manifest: %d kode, %d plat / %d codes, %d plates",
                len(item.code_hashes),
                len(item.plates),
                len(item.code_hashes),
                len(item.plates),
            )

    def on_connected(self) -> None:
        self.courier.reconnected()

    def on_delivered(self, mid: int) -> None:
        if self.observer is not None:
            self.observer.delivered(mid)

    # --- the loops ----------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Run until ``stop`` is set or every source has ended (then drain the outbox)."""
        stop = stop or self._stop
        if self.display_server is not None:
            self.display_server.start()
        self.link.start()
        courier = threading.Thread(
            target=self.courier.run,
            args=(self.link, self._stop),
            kwargs={"after_round": self._after_round, "on_published": self._published},
            name="courier",
            daemon=True,
        )
        courier.start()
        cameras = [
            threading.Thread(target=self._watch, args=(name, stop), name=f"camera-{name}")
            for name in self.sources
        ]
        for thread in cameras:
            thread.start()
        try:
            while any(thread.is_alive() for thread in cameras) and not stop.is_set():
                stop.wait(0.2)
            stopped_by_signal = stop.is_set()
            stop.set()
            for thread in cameras:
                thread.join()
            with self._tracker_lock:
                self._handle(self.tracker.finish(self.frames), time.monotonic())
            if not stopped_by_signal:
                self._drain()
        finally:
            self._stop.set()
            self.courier.wake()
            courier.join(timeout=5)
            self.link.stop(self.topics.lane_status(self.settings.lane), self._status(offline=True))
            if self.display_server is not None:
                self.display_server.stop()
            self.outbox.close()
            log.info("jalur berhenti / lane stopped (%d frames)", self.frames)

    def _drain(self) -> None:
        """Wait a while for the acks of what is still in the outbox (finite sources only)."""
        deadline = time.monotonic() + self.settings.drain_seconds
        self.courier.wake()
        while self.outbox.depth() > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.outbox.depth():
            log.warning(
                "%d kedatangan belum di-ack, tetap di outbox / arrivals unacked, kept in outbox",
                self.outbox.depth(),
            )

    def _watch(self, name: str, stop: threading.Event) -> None:
        source, watch = self.sources[name], self.watches[name]
        limit = self.settings.max_frames
        count = 0
        for frame in source.frames(stop):
            if limit is not None and count >= limit:
                break
            count += 1
            if self.observer is not None:
                self.observer.frame(name, frame.captured)
            with self._tracker_lock:
                view = self.tracker.view(name)
            try:
                observation, _ = watch.observe(frame.index, frame.image, view, self.expected_plates)
            except (ValueError, cv2.error) as error:
                # A frame the gate or the reader cannot take costs that frame, not the camera.
                source.health.skip(f"{name}: {str(error).splitlines()[0]}")
                continue
            with self._tracker_lock:
                self.frames += 1
                events = self.tracker.observe(observation)
                self._handle(events, frame.captured)
        log.info("kamera %s selesai / camera %s ended after %d frames", name, name, count)

    def _handle(self, events: list[VisitEvent], captured: float) -> None:
        for event in events:
            if isinstance(event, VisitOpened):
                log.debug(
                    "kunjungan dibuka / visit opened %s", event.visit,
                    extra={"visit": str(event.visit)},
                )  # fmt: skip
            elif isinstance(event, VisitClosed):
                log.info(
                    "kunjungan selesai / visit ended %s (%d arrivals)", event.visit, event.arrivals,
                    extra={"visit": str(event.visit)},
                )  # fmt: skip
                self.display.visit_ended(event.visit)
                if event.arrivals:
                    self._depart(event.visit)
            elif isinstance(event, ArrivalDecision):
                self._arrive(event, captured)

    def _arrive(self, decision: ArrivalDecision, captured: float) -> None:
        self.arrivals_decided += 1
        try:
            plate = None
            if decision.plate is not None:
                vote = decision.plate
                plate = PlateEvidence(
                    text=vote.text, confidence=vote.confidence, frames=vote.frames
                )
            arrival = Arrival(
                site=self.settings.site,
                lane=self.settings.lane,
                visit=decision.visit,
                camera=decision.camera,
                code_sha256=decision.code_sha256,
                plate=plate,
            )
        except ValidationError as error:
            log.warning("kedatangan tidak sah, tidak dikirim / invalid arrival not sent: %s", error)
            return
        known = (
            "-"
            if decision.code_sha256 is None
            else ("dikenal/known" if decision.code_sha256 in self.expected_codes else "baru/new")
        )
        log.info(
            "KEDATANGAN / ARRIVAL %s visit=%s plate=%s code=%s (%s)",
            arrival.id,
            arrival.visit,
            mask_plate(plate.text) if plate else "-",
            known,
            decision.reason,
            extra={"arrival": str(arrival.id), "visit": str(arrival.visit)},
        )
        if not self.outbox.add(
            arrival.id, self.topics.arrivals(self.settings.lane), encode(arrival)
        ):
            log.warning(
                "OUTBOX PENUH (%d), kedatangan ditolak / OUTBOX FULL, arrival refused: %s",
                self.outbox.max_entries,
                arrival.id,
                extra={"arrival": str(arrival.id), "visit": str(arrival.visit)},
            )
            return
        self.arrivals_sent += 1
        if self.observer is not None:
            self.observer.queued(arrival.id, captured)
        self.courier.wake()

    def _depart(self, visit: UUID) -> None:
        """Tell the server the car left, through the outbox like its arrivals: the lane's
        queue counts the cars whose departure it has not heard."""
        departure = Departure(site=self.settings.site, lane=self.settings.lane, visit=visit)
        topic = self.topics.departures(self.settings.lane)
        if not self.outbox.add(departure.id, topic, encode(departure)):
            log.warning(
                "OUTBOX PENUH, kepergian tidak dikirim / OUTBOX FULL, departure not sent: %s",
                visit, extra={"visit": str(visit)},
            )  # fmt: skip
            return
        self.courier.wake()

    def _published(self, arrival: UUID, mid: int) -> None:
        if self.observer is not None:
            self.observer.published(arrival, mid)

    def _after_round(self, everything: bool) -> None:
        """Refresh the retained lane status after a reconnect and every status interval."""
        now = time.monotonic()
        if not everything and now < self._next_status:
            return
        fps = 0.0
        if now > self._last_time:
            fps = (self.frames - self._last_frames) / (now - self._last_time)
        self._last_frames, self._last_time = self.frames, now
        self.link.publish(
            self.topics.lane_status(self.settings.lane), self._status(fps=fps), retain=True
        )
        self._next_status = now + self.settings.status_interval

    def _status(self, *, offline: bool = False, fps: float | None = None) -> bytes:
        status = LaneStatus(
            state=DeviceState.OFFLINE if offline else DeviceState.ONLINE,
            fps=None if offline else round(fps or 0.0, 2),
            camera_ok=None if offline else all(s.health.ok for s in self.sources.values()),
            outbox_depth=self.outbox.depth(),
            version=VERSION,
        )
        return encode(status)

    def stop(self) -> None:
        self._stop.set()

    def metrics_text(self) -> str:
        """The lane's counters for ``/metrics`` (Prometheus text)."""
        cameras = tuple(
            CameraCounters(
                name=name,
                frames_read=source.health.frames,
                frames_skipped=source.health.skipped,
                reads=self.watches[name].reads,
                ok=source.health.ok,
            )
            for name, source in self.sources.items()
        )
        return render_lane_metrics(
            LaneCounters(
                site=self.settings.site,
                lane=self.settings.lane,
                cameras=cameras,
                arrivals_decided=self.arrivals_decided,
                arrivals_sent=self.arrivals_sent,
                arrivals_acked=self.outbox.acked,
                outbox_depth=self.outbox.depth(),
                broker_connected=self.link.connected,
            )
        )


def bootstrap(
    settings: LaneSettings,
    *,
    readers: Mapping[str, FrameReader] | None = None,
    environ: Mapping[str, str] | None = None,
    observer: AgentObserver | None = None,
) -> LaneAgent:
    """Wire a lane from its settings; raises `ConfigError`, `SourceError` or `OutboxError`."""
    password = broker_password(settings.broker, environ)
    sources = {camera.name: open_source(camera) for camera in settings.cameras}
    watches = {}
    for camera in settings.cameras:
        reader = (readers or {}).get(camera.name) or _make_reader(camera.role)
        watches[camera.name] = CameraWatch(camera, settings.thresholds, reader)
    outbox = Outbox(settings.outbox.path, settings.outbox.max_entries)
    display = LaneDisplay(settings.lane)
    server = None
    if settings.display_port is not None:
        server = DisplayServer(display, settings.display_port)
    topics = Topics(settings.site)
    lane = settings.lane
    offline_will = LaneStatus(state=DeviceState.OFFLINE, version=VERSION)

    def link_for(agent: LaneAgent) -> DeviceLink:
        return DeviceLink(
            settings.broker,
            client_id=f"drivethru-{settings.site}-lane-{lane}",
            password=password,
            will_topic=topics.lane_status(lane),
            will_payload=encode(offline_will),
            subscriptions=list(agent.inbox.subscriptions),
            on_message=agent.on_message,
            on_connected=agent.on_connected,
            on_delivered=agent.on_delivered,
        )

    return LaneAgent(settings, sources, watches, outbox, link_for, display, server, observer)


def _make_reader(role: CameraRole) -> FrameReader:
    from plate_reader import Reader  # loads the OCR model: only when a lane really runs

    return Reader(qr=role is CameraRole.WINDOW, plates=True)
