"""Per-visit tracking and voting: frames of one car in, at most a few arrival decisions out.

Pure logic, no I/O and no clock: the agent feeds one `Observation` per frame (whether the
region of interest is occupied, and what the reader saw if it ran) and publishes the
`ArrivalDecision`s that come back. A visit opens when a camera sees something in the region
and closes after every camera has seen it empty for ``depart_after_frames`` frames.

Plates are voted: each read adds its confidence to its text (or to the expected plate it
matched), and a plate counts only once it was read in enough frames, with enough of the
visit's plate reads agreeing, at a good enough mean confidence. One OCR read in thirty frames
never becomes an arrival. A pickup code counts at once: a valid ``DT1:`` code is unguessable,
and only its hash ever reaches the tracker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID, uuid4

from core.plates import plate_distance


@dataclass(frozen=True, slots=True)
class VotingRules:
    """When a visit's evidence is good enough to send, and how often it may be sent."""

    depart_after_frames: int = 10
    plate_min_frames: int = 3
    plate_min_confidence: float = 0.6
    plate_min_share: float = 0.6
    max_arrivals_per_visit: int = 4
    # A different plate read this many times in a row after a settled one is the next car,
    # which pulled up before the lane looked empty.
    next_car_after_reads: int = 5


@dataclass(frozen=True, slots=True)
class PlateSighting:
    """One plate read in one frame; ``expected`` is the manifest plate it matched, if any."""

    text: str
    confidence: float
    expected: str | None = None

    @property
    def key(self) -> str:
        return self.expected or self.text


@dataclass(frozen=True, slots=True)
class Observation:
    """What one camera saw in one frame; ``read`` says whether the reader ran on it."""

    camera: str
    frame: int
    occupied: bool
    read: bool = False
    plate: PlateSighting | None = None
    code_hashes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlateVote:
    """The winning plate of a visit: ``confidence`` blends agreement and OCR confidence."""

    text: str
    confidence: float
    frames: int


class DecisionReason(StrEnum):
    FIRST = "first"
    CODE_ADDED = "code_added"
    PLATE_ADDED = "plate_added"
    PLATE_CHANGED = "plate_changed"


@dataclass(frozen=True, slots=True)
class ArrivalDecision:
    """Send an arrival for ``visit`` now; ``frame`` is the frame whose evidence decided it."""

    visit: UUID
    camera: str
    frame: int
    reason: DecisionReason
    code_sha256: str | None
    plate: PlateVote | None


@dataclass(frozen=True, slots=True)
class VisitOpened:
    visit: UUID
    frame: int


@dataclass(frozen=True, slots=True)
class VisitClosed:
    visit: UUID
    frame: int
    arrivals: int


VisitEvent = VisitOpened | ArrivalDecision | VisitClosed


@dataclass(slots=True)
class _Tally:
    frames: int = 0
    confidence: float = 0.0
    last_camera: str = ""
    last_frame: int = 0


@dataclass(slots=True)
class _Visit:
    id: UUID
    opened: int
    empty_streak: dict[str, int] = field(default_factory=dict)
    tallies: dict[str, _Tally] = field(default_factory=dict)
    plate_frames: int = 0
    codes: list[str] = field(default_factory=list)
    code_camera: dict[str, tuple[str, int]] = field(default_factory=dict)
    sent_codes: set[str] = field(default_factory=set)
    sent_plate: PlateVote | None = None
    arrivals: int = 0
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=32))


@dataclass(frozen=True, slots=True)
class VisitView:
    """What the read schedule needs to know about the open visit."""

    visit: UUID
    has_code: bool
    has_plate: bool
    arrivals: int


class VisitTracker:
    """Turns a lane's observations into visits and arrival decisions (not thread-safe)."""

    def __init__(self, rules: VotingRules, new_id: Callable[[], UUID] = uuid4) -> None:
        self._rules = rules
        self._new_id = new_id
        self._visit: _Visit | None = None

    @property
    def current(self) -> VisitView | None:
        visit = self._visit
        if visit is None:
            return None
        return VisitView(visit.id, bool(visit.codes), visit.sent_plate is not None, visit.arrivals)

    def observe(self, seen: Observation) -> list[VisitEvent]:
        """Fold one observation in; returns what happened because of it, in order."""
        events: list[VisitEvent] = []
        visit = self._visit
        if visit is None:
            if not seen.occupied:
                return events
            visit = self._open(seen.frame, events)
        visit.empty_streak[seen.camera] = (
            0 if seen.occupied else visit.empty_streak.get(seen.camera, 0) + 1
        )
        if self._departed(visit):
            events.append(self._close(seen.frame))
            return events
        if seen.plate is not None and self._next_car(visit, seen.plate):
            events.append(self._close(seen.frame))
            visit = self._open(seen.frame, events)
        self._count(visit, seen)
        events.extend(self._decide(visit, seen))
        return events

    def finish(self, frame: int) -> list[VisitEvent]:
        """End the open visit, if any (the source ended or the agent stops)."""
        return [self._close(frame)] if self._visit is not None else []

    def _open(self, frame: int, events: list[VisitEvent]) -> _Visit:
        visit = _Visit(self._new_id(), frame)
        self._visit = visit
        events.append(VisitOpened(visit.id, frame))
        return visit

    def _close(self, frame: int) -> VisitClosed:
        visit = self._visit
        if visit is None:  # pragma: no cover - callers check
            raise RuntimeError("no open visit")
        self._visit = None
        return VisitClosed(visit.id, frame, visit.arrivals)

    def _departed(self, visit: _Visit) -> bool:
        # Every camera must have seen the region empty that long, in its own frame count.
        needed = self._rules.depart_after_frames
        return all(streak >= needed for streak in visit.empty_streak.values())

    def _next_car(self, visit: _Visit, plate: PlateSighting) -> bool:
        settled = visit.sent_plate
        if settled is None or plate.key == settled.text:
            return False
        recent = list(visit.recent)[-(self._rules.next_car_after_reads - 1) :]
        streak = [plate.key, *recent]
        if len(streak) < self._rules.next_car_after_reads:
            return False
        if any(key != plate.key for key in streak):
            return False
        # A look-alike of the settled plate is the same car misread, not a new one.
        return plate_distance(plate.key, settled.text) > 1.0

    def _count(self, visit: _Visit, seen: Observation) -> None:
        if seen.plate is not None:
            tally = visit.tallies.setdefault(seen.plate.key, _Tally())
            tally.frames += 1
            tally.confidence += seen.plate.confidence
            tally.last_camera, tally.last_frame = seen.camera, seen.frame
            visit.plate_frames += 1
            visit.recent.append(seen.plate.key)
        for code in seen.code_hashes:
            if code not in visit.codes:
                visit.codes.append(code)
                visit.code_camera[code] = (seen.camera, seen.frame)

    def vote(self) -> PlateVote | None:
        """The open visit's plate if it is settled, else None."""
        return None if self._visit is None else self._winner(self._visit)

    def _winner(self, visit: _Visit) -> PlateVote | None:
        if not visit.tallies:
            return None
        text, tally = max(visit.tallies.items(), key=lambda item: item[1].confidence)
        rules = self._rules
        share = tally.frames / max(1, visit.plate_frames)
        mean = tally.confidence / tally.frames
        if tally.frames < rules.plate_min_frames or share < rules.plate_min_share:
            return None
        if mean < rules.plate_min_confidence:
            return None
        return PlateVote(text, round(min(1.0, share * mean), 3), tally.frames)

    def _decide(self, visit: _Visit, seen: Observation) -> Iterable[ArrivalDecision]:
        plate = self._winner(visit)
        reason: DecisionReason | None = None
        code = next((c for c in visit.codes if c not in visit.sent_codes), None)
        if visit.arrivals == 0 and (code is not None or plate is not None):
            reason = DecisionReason.FIRST
        elif code is not None:
            reason = DecisionReason.CODE_ADDED
        elif plate is not None and visit.sent_plate is None:
            reason = DecisionReason.PLATE_ADDED
        elif (
            plate is not None
            and visit.sent_plate is not None
            and plate.text != visit.sent_plate.text
            and plate.frames >= 2 * visit.sent_plate.frames
        ):
            reason = DecisionReason.PLATE_CHANGED
        if reason is None or visit.arrivals >= self._rules.max_arrivals_per_visit:
            return ()
        if code is None and visit.codes:
            code = visit.codes[-1]  # an update about the plate still carries the code
        if code is not None:
            visit.sent_codes.add(code)
        camera, frame = (seen.camera, seen.frame)
        if reason is DecisionReason.CODE_ADDED or (
            reason is DecisionReason.FIRST and plate is None
        ):
            camera, frame = visit.code_camera[code] if code else (camera, frame)
        elif plate is not None:
            tally = visit.tallies[plate.text]
            camera, frame = tally.last_camera, tally.last_frame
        visit.sent_plate = plate or visit.sent_plate
        visit.arrivals += 1
        return (ArrivalDecision(visit.id, camera, frame, reason, code, visit.sent_plate),)
