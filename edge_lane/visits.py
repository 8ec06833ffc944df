"""Per-visit tracking and voting: frames of one car in, at most a few arrival decisions out.

Pure logic, no I/O and no clock: the agent feeds one `Observation` per frame (whether the
region of interest is occupied, and what the reader saw if it ran) and publishes the
`ArrivalDecision`s that come back.

A lane has a window position (where the car stops; codes and plates) and may have an entry
position ahead of it (plates as the car rolls up). A visit opens when a position's cameras see
something in the region and the position has no car yet. A car that leaves the entry waits,
in arrival order, for the window: the window's next car is the oldest such visit (or the one
still at the entry, when the views overlap), so the plate read at the entry and the code shown
at the window are one visit. A visit closes when every camera of the window has seen it empty
for ``depart_after_frames`` frames, or when it left the entry and never reached the window
within ``handoff_frames`` window frames. A lane with one position behaves as one queue of one.

Plates are voted: each read adds its confidence to its text (or to the expected plate it
matched), and a plate counts only once it was read in enough frames, with enough of the
visit's plate reads agreeing, at a good enough mean confidence. One OCR read in thirty frames
never becomes an arrival. A pickup code counts at once: a valid ``DT1:`` code is unguessable,
and only its hash ever reaches the tracker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID, uuid4

from core.errors import PlateError
from core.plates import parse_plate, plate_distance
from plate_reader.decode import vote


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
    # How many window frames a car that left the entry may take to reach the window.
    handoff_frames: int = 250


# How many of a visit's last plate reads keep their per-character evidence for the vote.
_EVIDENCE_KEPT = 48
# How far (`core.plates.plate_distance`) a read may be from the leading one and still be a
# misreading of the same plate in the vote.
_MISREAD = 2.0


class Position(StrEnum):
    """Where a camera looks: ``entry`` ahead of the window, or the ``window`` itself."""

    ENTRY = "entry"
    WINDOW = "window"


@dataclass(frozen=True, slots=True)
class PlateSighting:
    """One plate read in one frame; ``expected`` is the manifest plate it matched, if any."""

    text: str
    confidence: float
    expected: str | None = None
    # The recogniser's probabilities for each character of ``text`` (`PlateRead.evidence`).
    evidence: tuple[tuple[float, ...], ...] = ()

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
    matched: bool = False  # the key is a manifest plate the reads matched


@dataclass(slots=True)
class _Visit:
    id: UUID
    opened: int
    tallies: dict[str, _Tally] = field(default_factory=dict)
    plate_frames: int = 0
    codes: list[str] = field(default_factory=list)
    code_camera: dict[str, tuple[str, int]] = field(default_factory=dict)
    sent_codes: set[str] = field(default_factory=set)
    sent_plate: PlateVote | None = None
    arrivals: int = 0
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=32))
    # The last reads' per-character evidence, for the vote (a car may wait for minutes).
    evidence: deque[PlateSighting] = field(default_factory=lambda: deque(maxlen=_EVIDENCE_KEPT))
    reached_window: bool = False
    window_frames: int = 0  # occupied window frames
    from_entry: bool = False  # it left the entry's view for the window
    left_entry_at: int = 0  # the tracker's window frame count then


@dataclass(frozen=True, slots=True)
class VisitView:
    """What the read schedule needs to know about the open visit."""

    visit: UUID
    has_code: bool
    has_plate: bool
    arrivals: int


class VisitTracker:
    """Turns a lane's observations into visits and arrival decisions (not thread-safe).

    ``positions`` names each camera's position; a camera not named looks at the window.
    """

    def __init__(
        self,
        rules: VotingRules,
        new_id: Callable[[], UUID] = uuid4,
        positions: Mapping[str, Position] | None = None,
    ) -> None:
        self._rules = rules
        self._new_id = new_id
        self._positions = dict(positions or {})
        window_cameras = sum(p is Position.WINDOW for p in self._positions.values())
        self._has_window = not self._positions or window_cameras > 0
        # Window observations count time for cars between the cameras, in frames per camera.
        self._window_cameras = max(1, window_cameras)
        self._window_frames = 0
        self._at: dict[Position, _Visit | None] = dict.fromkeys(Position)
        self._streaks: dict[Position, dict[str, int]] = {p: {} for p in Position}
        self._between: deque[_Visit] = deque()  # left the entry, not yet at the window

    def position(self, camera: str) -> Position:
        return self._positions.get(camera, Position.WINDOW)

    @property
    def current(self) -> VisitView | None:
        """The visit at the window, else the one at the entry."""
        return self._view(self._at[Position.WINDOW] or self._at[Position.ENTRY])

    def view(self, camera: str) -> VisitView | None:
        """The visit ``camera`` is looking at, if any."""
        return self._view(self._at[self.position(camera)])

    @staticmethod
    def _view(visit: _Visit | None) -> VisitView | None:
        if visit is None:
            return None
        return VisitView(visit.id, bool(visit.codes), visit.sent_plate is not None, visit.arrivals)

    def observe(self, seen: Observation) -> list[VisitEvent]:
        """Fold one observation in; returns what happened because of it, in order."""
        events: list[VisitEvent] = []
        where = self.position(seen.camera)
        if where is Position.WINDOW:
            self._window_frames += 1
            self._expire_between(seen.frame, events)
        visit = self._at[where]
        if visit is None:
            if not seen.occupied:
                return events
            visit = self._arrive(where, seen.frame, events)
        streaks = self._streaks[where]
        streaks[seen.camera] = 0 if seen.occupied else streaks.get(seen.camera, 0) + 1
        # Every camera of the position must have seen it empty that long, in its own frames.
        if all(streak >= self._rules.depart_after_frames for streak in streaks.values()):
            self._leave(where, seen.frame, events)
            return events
        if seen.plate is not None and self._next_car(visit, seen.plate):
            self._leave(where, seen.frame, events)
            visit = self._arrive(where, seen.frame, events)
        if where is Position.WINDOW and seen.occupied:
            visit.window_frames += 1
        self._count(visit, seen)
        events.extend(self._decide(visit, seen))
        return events

    def finish(self, frame: int) -> list[VisitEvent]:
        """End every open visit (the source ended or the agent stops), oldest first."""
        open_visits = [*self._between, self._at[Position.WINDOW], self._at[Position.ENTRY]]
        self._between.clear()
        self._at = dict.fromkeys(Position)
        unique = {v.id: v for v in open_visits if v is not None}
        return [VisitClosed(v.id, frame, v.arrivals) for v in unique.values()]

    def _arrive(self, where: Position, frame: int, events: list[VisitEvent]) -> _Visit:
        """A car comes into ``where``'s view: the next one expected there, or a new visit."""
        visit: _Visit | None = None
        if where is Position.WINDOW:
            entry = self._at[Position.ENTRY]
            if self._between:
                visit = self._between.popleft()
            elif entry is not None and not entry.reached_window:
                visit = entry  # the views overlap: the car is in both
            if visit is None:
                visit = self._open(frame, events)
            visit.reached_window = True
        else:
            visit = self._open(frame, events)
        self._at[where] = visit
        self._streaks[where] = {}
        return visit

    def _leave(self, where: Position, frame: int, events: list[VisitEvent]) -> None:
        """The car at ``where`` went out of view: on to the window, or gone."""
        visit = self._at[where]
        if visit is None:  # pragma: no cover - callers check
            raise RuntimeError(f"no car at the {where}")
        self._at[where] = None
        self._streaks[where] = {}
        if where is Position.ENTRY:
            if self._at[Position.WINDOW] is visit:
                return  # already at the window too; the window ends it
            if self._has_window and not visit.reached_window:
                visit.from_entry = True
                visit.left_entry_at = self._window_frames
                self._between.append(visit)
                return
        else:
            still_at_entry = self._at[Position.ENTRY] is visit
            if visit.window_frames < self._rules.depart_after_frames and (
                visit.from_entry or still_at_entry
            ):
                # A blip at the window (a person, a shadow), not the car from the entry: it is
                # still on its way.
                if still_at_entry:
                    visit.reached_window = False
                else:
                    self._between.appendleft(visit)
                return
            if still_at_entry:
                # It left the window while the entry still sees something: the next car.
                self._at[Position.ENTRY] = None
                self._streaks[Position.ENTRY] = {}
        events.append(VisitClosed(visit.id, frame, visit.arrivals))

    def _expire_between(self, frame: int, events: list[VisitEvent]) -> None:
        limit = self._rules.handoff_frames * self._window_cameras
        while self._between and self._window_frames - self._between[0].left_entry_at >= limit:
            visit = self._between.popleft()
            events.append(VisitClosed(visit.id, frame, visit.arrivals))

    def _open(self, frame: int, events: list[VisitEvent]) -> _Visit:
        visit = _Visit(self._new_id(), frame)
        events.append(VisitOpened(visit.id, frame))
        return visit

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
            tally.matched = tally.matched or seen.plate.expected is not None
            if seen.plate.evidence:
                visit.evidence.append(seen.plate)
            visit.plate_frames += 1
            visit.recent.append(seen.plate.key)
        for code in seen.code_hashes:
            if code not in visit.codes:
                visit.codes.append(code)
                visit.code_camera[code] = (seen.camera, seen.frame)

    def vote(self) -> PlateVote | None:
        """The plate of the visit at the window (else the entry) if it is settled, else None."""
        visit = self._at[Position.WINDOW] or self._at[Position.ENTRY]
        return None if visit is None else self._winner(visit)

    def _winner(self, visit: _Visit) -> PlateVote | None:
        if not visit.tallies:
            return None
        text, tally = max(visit.tallies.items(), key=lambda item: item[1].confidence)
        frames, confidence = tally.frames, tally.confidence
        if not tally.matched:
            # Reads of one plate that differ in a character or two (``AA1254LT`` and
            # ``AA1454LT``) vote character by character with the recogniser's evidence.
            # Only reads of this plate take part: of its length and a look-alike or two away
            # (the next car's plate is neither).
            split = _split(text)
            alike = [
                s
                for s in visit.evidence
                if _split(s.text) == split and plate_distance(s.text, text) <= _MISREAD
            ]
            spelled = vote([s.evidence for s in alike], split) if len(alike) >= 2 else None
            if spelled is not None:
                text, frames = spelled.plate.text, len(alike)
                confidence = sum(s.confidence for s in alike)
        rules = self._rules
        share = frames / max(1, visit.plate_frames)
        mean = confidence / frames
        if frames < rules.plate_min_frames or share < rules.plate_min_share:
            return None
        if mean < rules.plate_min_confidence:
            return None
        return PlateVote(text, round(min(1.0, share * mean), 3), frames)

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
        elif plate is not None and plate.text in visit.tallies:
            tally = visit.tallies[plate.text]
            camera, frame = tally.last_camera, tally.last_frame
        visit.sent_plate = plate or visit.sent_plate
        visit.arrivals += 1
        return (ArrivalDecision(visit.id, camera, frame, reason, code, visit.sent_plate),)


def _split(text: str) -> tuple[int, int, int]:
    """The lengths of a normalised plate's region, number and suffix (0s if not a plate)."""
    try:
        plate = parse_plate(text, known_regions_only=False)
    except PlateError:
        return (0, 0, 0)
    return (len(plate.region), len(plate.number), len(plate.suffix))
