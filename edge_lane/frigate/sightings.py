"""Frigate's MQTT messages read as plate sightings, and sightings turned into v1 arrivals.

Two Frigate 0.16+ messages carry a plate (their shapes are in tests/fixtures/frigate/):
``{prefix}/events`` (``after.recognized_license_plate`` and ``..._score``, with the zones the
object is or was in) and ``{prefix}/tracked_object_update`` of ``type: "lpr"`` (``plate``,
``score``, and ``name`` when Frigate knows the plate). Frigate's known-plate name (``name``
or ``sub_label``) is kept as evidence for the log only: releasing is the server's decision.

Pure: no MQTT, no clock but the one passed in.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.contract import Arrival, Departure, PlateEvidence
from core.errors import PlateError
from core.plates import normalise_plate
from edge_lane.frigate.config import FrigateCamera, FrigateLaneSettings

log = logging.getLogger(__name__)

# A visit's id is derived from Frigate's event id, so every message about one car (and a
# restart of the bridge) gives the same visit.
FRIGATE_VISITS = UUID("5b0f6f1e-3c55-5d7e-9a0e-6672697a6174")
MAX_EVENTS = 2_000  # Frigate event ids remembered for de-duplication (oldest forgotten)

Score = Annotated[float, Field(ge=0.0, le=1.0)]
EventId = Annotated[str, Field(min_length=1, max_length=100)]


def visit_of(event_id: str) -> UUID:
    """The visit of one Frigate tracked object (event)."""
    return uuid5(FRIGATE_VISITS, event_id)


class _FrigateMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LprUpdate(_FrigateMessage):
    """``{prefix}/tracked_object_update`` with ``type: "lpr"``."""

    type: Literal["lpr"]
    id: EventId
    camera: str
    timestamp: float | None = None
    name: str | None = None
    plate: str
    score: Score


class TrackedObject(_FrigateMessage):
    """The ``before``/``after`` object of ``{prefix}/events``, the fields we use."""

    id: EventId
    camera: str
    label: str | None = None
    # Frigate 0.14+ sends [name, score]; older ones a bare string.
    sub_label: tuple[str, float] | str | None = None
    current_zones: tuple[str, ...] = ()
    entered_zones: tuple[str, ...] = ()
    recognized_license_plate: str | None = None
    recognized_license_plate_score: Score | None = None


class TrackedObjectEvent(_FrigateMessage):
    """``{prefix}/events``."""

    type: Literal["new", "update", "end"]
    after: TrackedObject


class Skip(StrEnum):
    """Why a Frigate message gave no arrival."""

    MALFORMED = "malformed"
    NOT_A_PLATE_MESSAGE = "not_a_plate_message"  # a face, a description, an object with no plate
    OTHER_CAMERA = "other_camera"
    OUTSIDE_ZONES = "outside_zones"
    LOW_SCORE = "low_score"
    NOT_TNKB = "not_tnkb"
    SAME_PLATE = "same_plate"
    NOT_BETTER = "not_better"


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: Skip
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Sighted:
    """A plate Frigate saw that becomes an arrival; ``known_as`` is Frigate's evidence only."""

    arrival: Arrival
    event_id: str
    known_as: str | None


@dataclass(frozen=True, slots=True)
class Departed:
    """A Frigate event that sent an arrival ended: its car left the lane."""

    departure: Departure
    event_id: str


Outcome = Sighted | Departed | Skipped


@dataclass(slots=True)
class _EventSeen:
    """What this bridge knows about one Frigate event so far."""

    zones: set[str] = field(default_factory=set)
    plate_updates: int = 0
    sent_text: str | None = None
    sent_score: float = 0.0
    known_as: str | None = None


class RateLimitedWarnings:
    """Counts every warning by kind and writes at most one line per kind per interval."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()

    def warn(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._held[kind] += 1
            return
        held, self._held[kind] = self._held[kind], 0
        self._last[kind] = now
        suffix = f" (+{held} ditahan / held back)" if held else ""
        log.warning("%s%s", message, suffix)


class FrigateDesk:
    """Turns Frigate messages into arrivals of one lane; keeps per-event state (bounded)."""

    def __init__(
        self,
        settings: FrigateLaneSettings,
        warnings: RateLimitedWarnings | None = None,
        max_events: int = MAX_EVENTS,
    ) -> None:
        self.settings = settings
        self.warnings = warnings or RateLimitedWarnings()
        self.max_events = max_events
        self.skipped: Counter[Skip] = Counter()
        self._events: OrderedDict[str, _EventSeen] = OrderedDict()

    def take(self, topic: str, payload: bytes) -> Outcome:
        """The outcome of one message from Frigate's broker; never raises for bad input."""
        try:
            document = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return self._malformed(topic, f"bukan JSON / not JSON: {error}")
        if not isinstance(document, dict):
            return self._malformed(topic, "bukan objek JSON / not a JSON object")
        frigate = self.settings.frigate
        try:
            if topic == frigate.updates_topic:
                if document.get("type") != "lpr":
                    return self._skip(Skip.NOT_A_PLATE_MESSAGE)
                return self._lpr(LprUpdate.model_validate(document))
            if topic == frigate.events_topic:
                return self._event(TrackedObjectEvent.model_validate(document))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            return self._malformed(topic, f"{where}: {first['msg']}")
        return self._skip(Skip.NOT_A_PLATE_MESSAGE, topic)

    def _lpr(self, update: LprUpdate) -> Outcome:
        camera = self.settings.camera(update.camera)
        if camera is None:
            return self._skip(Skip.OTHER_CAMERA, update.camera)
        seen = self._seen(update.id)
        if update.name:
            seen.known_as = update.name
        return self._sighting(update.id, camera, seen, update.plate, update.score)

    def _event(self, message: TrackedObjectEvent) -> Outcome:
        after = message.after
        camera = self.settings.camera(after.camera)
        if camera is None:
            return self._skip(Skip.OTHER_CAMERA, after.camera)
        if message.type == "end":
            return self._end(after.id, camera)
        seen = self._seen(after.id)
        seen.zones.update(after.current_zones, after.entered_zones)
        if isinstance(after.sub_label, str):
            seen.known_as = after.sub_label
        elif after.sub_label is not None:
            seen.known_as = after.sub_label[0]
        if not after.recognized_license_plate:
            return self._skip(Skip.NOT_A_PLATE_MESSAGE, after.id)
        score = after.recognized_license_plate_score
        if score is None:
            topic = self.settings.frigate.events_topic
            return self._malformed(topic, "recognized_license_plate_score hilang / missing")
        return self._sighting(after.id, camera, seen, after.recognized_license_plate, score)

    def _sighting(
        self, event_id: str, camera: FrigateCamera, seen: _EventSeen, raw: str, score: float
    ) -> Outcome:
        # Frigate's lpr update carries no zones: the event's messages must have placed it.
        if camera.zones and not seen.zones.intersection(camera.zones):
            return self._skip(Skip.OUTSIDE_ZONES, event_id)
        if score < self.settings.frigate.min_score:
            return self._skip(Skip.LOW_SCORE, f"{score:.2f}")
        try:
            text = normalise_plate(raw)
        except PlateError:
            self.warnings.warn(
                Skip.NOT_TNKB,
                f"plat Frigate bukan TNKB, diabaikan / Frigate plate is not TNKB, ignored: "
                f"{raw[:20]!r} ({camera.camera})",
            )
            return self._skip(Skip.NOT_TNKB, raw[:20])
        seen.plate_updates += 1
        if seen.sent_text == text:
            return self._skip(Skip.SAME_PLATE, text)
        if seen.sent_text is not None and score <= seen.sent_score:
            return self._skip(Skip.NOT_BETTER, text)
        arrival = Arrival(
            site=self.settings.site,
            lane=camera.lane,
            visit=visit_of(event_id),
            camera=camera.camera,
            source="frigate",
            plate=PlateEvidence(text=text, confidence=score, frames=seen.plate_updates),
        )
        seen.sent_text, seen.sent_score = text, score
        return Sighted(arrival, event_id, seen.known_as)

    def _end(self, event_id: str, camera: FrigateCamera) -> Outcome:
        seen = self._events.pop(event_id, None)
        if seen is None or seen.sent_text is None:
            return self._skip(Skip.NOT_A_PLATE_MESSAGE, event_id)  # it sent no arrival
        departure = Departure(
            site=self.settings.site, lane=camera.lane, visit=visit_of(event_id),
            camera=camera.camera,
        )  # fmt: skip
        return Departed(departure, event_id)

    def _seen(self, event_id: str) -> _EventSeen:
        seen = self._events.get(event_id)
        if seen is None:
            seen = self._events[event_id] = _EventSeen()
            while len(self._events) > self.max_events:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(event_id)
        return seen

    def _skip(self, reason: Skip, detail: str = "") -> Skipped:
        self.skipped[reason] += 1
        return Skipped(reason, detail)

    def _malformed(self, topic: str, detail: str) -> Skipped:
        self.warnings.warn(
            Skip.MALFORMED,
            f"pesan Frigate tidak sah, diabaikan / malformed Frigate message ignored "
            f"({topic}): {detail[:200]}",
        )
        return self._skip(Skip.MALFORMED, detail)
