"""Visit tracking and voting on scripted read sequences."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from uuid import UUID

from core.codes import PickupCode
from edge_lane.visits import (
    ArrivalDecision,
    DecisionReason,
    Observation,
    PlateSighting,
    Position,
    VisitClosed,
    VisitEvent,
    VisitOpened,
    VisitTracker,
    VotingRules,
)

CODE = PickupCode.generate().sha256
RULES = VotingRules(depart_after_frames=5, plate_min_frames=3, max_arrivals_per_visit=3)


def _ids() -> Iterable[UUID]:
    return (UUID(int=n) for n in itertools.count(1))


def tracker(rules: VotingRules = RULES) -> VisitTracker:
    ids = iter(_ids())
    return VisitTracker(rules, new_id=lambda: next(ids))


class Script:
    """Feeds frames to a tracker and keeps every event."""

    def __init__(self, rules: VotingRules = RULES) -> None:
        self.tracker = tracker(rules)
        self.frame = 0
        self.events: list[VisitEvent] = []

    def empty(self, count: int) -> None:
        for _ in range(count):
            self._feed(Observation("window", self.frame, occupied=False))

    def car(
        self, count: int, plate: str | None = None, conf: float = 0.9, code: bool = False
    ) -> None:
        for _ in range(count):
            sighting = PlateSighting(plate, conf) if plate else None
            codes = (CODE,) if code else ()
            self._feed(Observation("window", self.frame, True, True, sighting, codes))

    def _feed(self, observation: Observation) -> None:
        self.events.extend(self.tracker.observe(observation))
        self.frame += 1

    @property
    def arrivals(self) -> list[ArrivalDecision]:
        return [e for e in self.events if isinstance(e, ArrivalDecision)]


def test_one_car_with_a_steady_plate_is_one_arrival() -> None:
    script = Script()
    script.empty(5)
    script.car(40, "DK1234AB")
    script.empty(10)
    assert len(script.arrivals) == 1
    arrival = script.arrivals[0]
    assert arrival.plate is not None
    assert arrival.plate.text == "DK1234AB"
    assert arrival.plate.frames == 3  # sent as soon as the vote settled, not at the end
    assert arrival.reason is DecisionReason.FIRST
    assert arrival.code_sha256 is None


def test_a_code_after_a_plate_is_an_update_of_the_same_visit() -> None:
    script = Script()
    script.car(10, "DK1234AB")
    script.car(3, "DK1234AB", code=True)
    script.car(10, "DK1234AB")
    script.empty(10)
    first, update = script.arrivals
    assert update.visit == first.visit
    assert update.reason is DecisionReason.CODE_ADDED
    assert update.code_sha256 == CODE
    assert update.plate is not None
    assert update.plate.text == "DK1234AB"


def test_a_code_alone_is_an_arrival_at_once() -> None:
    script = Script()
    script.car(1, code=True)
    assert len(script.arrivals) == 1
    assert script.arrivals[0].code_sha256 == CODE
    assert script.arrivals[0].plate is None


def test_a_plate_after_a_code_is_added_to_the_visit() -> None:
    script = Script()
    script.car(2, code=True)
    script.car(5, "B987CD")
    first, update = script.arrivals
    assert update.reason is DecisionReason.PLATE_ADDED
    assert update.visit == first.visit
    assert update.code_sha256 == CODE  # an update carries what was known already


def test_a_plate_read_in_one_frame_of_thirty_is_noise() -> None:
    script = Script()
    script.car(14)
    script.car(1, "AB1234CD")
    script.car(15)
    script.empty(10)
    assert script.arrivals == []


def test_a_plate_below_the_confidence_floor_is_not_sent() -> None:
    script = Script()
    script.car(20, "DK1234AB", conf=0.3)
    assert script.arrivals == []


def test_disagreeing_reads_wait_for_a_clear_majority() -> None:
    script = Script(VotingRules(depart_after_frames=5, plate_min_share=0.7))
    for _ in range(3):
        script.car(1, "DK1Z34AB")
        script.car(1, "DK1234AB")
    assert script.arrivals == []  # never more than 60% agree, below the 70% floor
    script.car(4, "DK1234AB")
    assert [a.plate.text for a in script.arrivals if a.plate] == ["DK1234AB"]


def test_departure_ends_the_visit_and_the_next_car_is_a_new_visit() -> None:
    script = Script()
    script.car(10, "DK1234AB")
    script.empty(5)
    script.car(10, "B987CD")
    script.empty(5)
    opened = [e for e in script.events if isinstance(e, VisitOpened)]
    closed = [e for e in script.events if isinstance(e, VisitClosed)]
    assert len(opened) == 2
    assert len(closed) == 2
    first, second = script.arrivals
    assert first.visit != second.visit
    assert closed[0].arrivals == 1


def test_a_short_gap_does_not_split_a_waiting_car() -> None:
    script = Script()
    script.car(10, "DK1234AB")
    script.empty(4)  # a person walking past the sensor region, shorter than departure
    script.car(10, "DK1234AB")
    assert len({e.visit for e in script.events if isinstance(e, VisitOpened)}) == 1
    assert len(script.arrivals) == 1


def test_updates_are_capped_never_a_flood() -> None:
    rules = VotingRules(depart_after_frames=5, max_arrivals_per_visit=2)
    script = Script(rules)
    script.car(5, "DK1234AB")
    for n in range(5):
        other = PickupCode.generate().sha256
        script.events.extend(
            script.tracker.observe(Observation("window", 100 + n, True, True, None, (other,)))
        )
    assert len(script.arrivals) == 2


def test_a_different_plate_in_a_row_is_the_next_car_without_an_empty_lane() -> None:
    script = Script()
    script.car(10, "DK1234AB")
    script.car(8, "B987CD")
    visits = [a.visit for a in script.arrivals]
    assert [a.plate.text for a in script.arrivals if a.plate] == ["DK1234AB", "B987CD"]
    assert visits[0] != visits[1]


def test_a_look_alike_misread_is_not_the_next_car() -> None:
    script = Script()
    script.car(10, "DK1234AB")
    script.car(8, "DK1Z34AB")
    assert len({a.visit for a in script.arrivals}) == 1


def test_an_expected_plate_collects_its_near_reads() -> None:
    script = Script()
    for text in ("DK1Z34AB", "DK1234A8", "DK1234AB"):
        sighting = PlateSighting(text, 0.8, expected="DK1234AB")
        script.events.extend(
            script.tracker.observe(Observation("window", script.frame, True, True, sighting))
        )
        script.frame += 1
    assert [a.plate.text for a in script.arrivals if a.plate] == ["DK1234AB"]


def test_finish_closes_the_open_visit() -> None:
    script = Script()
    script.car(3, "DK1234AB")
    events = script.tracker.finish(99)
    assert [type(e) for e in events] == [VisitClosed]
    assert script.tracker.current is None
    assert script.tracker.finish(100) == []


class Lane:
    """Feeds an entry and a window camera frame by frame, as the agent's two threads do."""

    def __init__(self, rules: VotingRules = RULES) -> None:
        ids = iter(_ids())
        positions = {"entry": Position.ENTRY, "window": Position.WINDOW}
        self.tracker = VisitTracker(rules, new_id=lambda: next(ids), positions=positions)
        self.frame = 0
        self.events: list[VisitEvent] = []

    def frames(
        self,
        count: int,
        entry: str | None = None,
        window: str | None = None,
        *,
        code: str | None = None,
    ) -> None:
        """``entry`` / ``window``: the plate that camera reads ("" = a car, no plate read)."""
        for _ in range(count):
            for camera, plate in (("entry", entry), ("window", window)):
                occupied = plate is not None or (camera == "window" and code is not None)
                sighting = PlateSighting(plate, 0.9) if plate else None
                codes = (code,) if camera == "window" and code else ()
                seen = Observation(camera, self.frame, occupied, occupied, sighting, codes)
                self.events.extend(self.tracker.observe(seen))
            self.frame += 1

    @property
    def arrivals(self) -> list[ArrivalDecision]:
        return [e for e in self.events if isinstance(e, ArrivalDecision)]


def test_the_entry_plate_and_the_window_code_are_one_visit() -> None:
    lane = Lane()
    lane.frames(10, entry="DK1234AB")
    lane.frames(20)  # between the cameras, longer than a departure
    lane.frames(10, window="", code=CODE)
    lane.frames(10)
    first, update = lane.arrivals
    assert (first.camera, first.reason, first.code_sha256) == ("entry", DecisionReason.FIRST, None)
    assert first.plate is not None
    assert first.plate.text == "DK1234AB"
    assert (update.camera, update.reason, update.visit) == (
        "window",
        DecisionReason.CODE_ADDED,
        first.visit,
    )
    assert update.plate is not None
    assert update.plate.text == "DK1234AB"
    assert len([e for e in lane.events if isinstance(e, VisitOpened)]) == 1
    assert [e.visit for e in lane.events if isinstance(e, VisitClosed)] == [first.visit]


def test_the_window_serves_cars_in_the_order_they_passed_the_entry() -> None:
    other = PickupCode.generate().sha256
    lane = Lane()
    lane.frames(10, entry="DK1234AB")
    lane.frames(8)
    lane.frames(10, entry="B987CD", window="", code=CODE)  # the second queues behind
    lane.frames(8, window="", code=CODE)
    lane.frames(8)
    lane.frames(10, window="", code=other)
    lane.frames(8)
    by_visit: dict[UUID, set[str | None]] = {}
    for arrival in lane.arrivals:
        plate = arrival.plate.text if arrival.plate else None
        by_visit.setdefault(arrival.visit, set()).add(f"{plate}:{arrival.code_sha256}")
    assert list(by_visit.values()) == [
        {"DK1234AB:None", f"DK1234AB:{CODE}"},
        {"B987CD:None", f"B987CD:{other}"},
    ]
    closed = [e for e in lane.events if isinstance(e, VisitClosed)]
    assert [c.visit for c in closed] == list(by_visit)


def test_overlapping_views_still_make_one_visit() -> None:
    lane = Lane()
    lane.frames(10, entry="DK1234AB")
    lane.frames(5, entry="DK1234AB", window="", code=CODE)  # seen by both cameras at once
    lane.frames(10, window="", code=CODE)
    lane.frames(8)
    assert len({a.visit for a in lane.arrivals}) == 1
    assert len([e for e in lane.events if isinstance(e, VisitOpened)]) == 1


def test_a_car_that_never_reaches_the_window_is_closed_after_the_handoff_time() -> None:
    lane = Lane(VotingRules(depart_after_frames=5, handoff_frames=30))
    lane.frames(10, entry="DK1234AB")
    lane.frames(20)
    assert not [e for e in lane.events if isinstance(e, VisitClosed)]
    lane.frames(20)
    assert len([e for e in lane.events if isinstance(e, VisitClosed)]) == 1
    lane.frames(10, window="", code=CODE)  # a later car that skipped the entry: a new visit
    assert len({a.visit for a in lane.arrivals}) == 2


def test_a_blip_at_the_window_does_not_take_the_car_on_its_way_from_the_entry() -> None:
    lane = Lane()
    lane.frames(10, entry="DK1234AB")
    lane.frames(8)
    lane.frames(1, window="")  # someone walks past the window camera
    lane.frames(8)
    lane.frames(10, window="", code=CODE)  # then the car arrives and shows its code
    lane.frames(8)
    first, update = lane.arrivals
    assert update.visit == first.visit
    assert update.code_sha256 == CODE
    assert len([e for e in lane.events if isinstance(e, VisitClosed)]) == 1


def test_a_blip_at_the_window_while_the_car_is_at_the_entry_keeps_one_visit() -> None:
    lane = Lane()
    lane.frames(6, entry="DK1234AB")
    lane.frames(1, entry="DK1234AB", window="")
    lane.frames(8, entry="DK1234AB")  # the window is empty for longer than a departure
    lane.frames(8)
    lane.frames(10, window="", code=CODE)
    lane.frames(8)
    assert len({a.visit for a in lane.arrivals}) == 1
    assert [a.reason for a in lane.arrivals] == [DecisionReason.FIRST, DecisionReason.CODE_ADDED]
