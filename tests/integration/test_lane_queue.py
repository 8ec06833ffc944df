"""The queue at each lane and its wait, from real permit events folded into the read models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import eventsourcing.domain
import pytest

from core.arrivals import ArrivalDesk, PlateCandidates, ReleasePolicy
from core.contract import Arrival, Departure, PlateEvidence
from core.service import PermitService
from core.values import Recipient, ReleaseMethod
from projections.bootstrap import runner_for
from projections.lane_queue import DEFAULT_SERVICE_SECONDS, lane_queues
from projections.store import ReadModels
from tests.factories import FrozenClock, ready_permit, sqlite_service

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """One clock for the service and for the events' own timestamps (the library's)."""
    frozen = FrozenClock(NOW - timedelta(hours=3))
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", frozen)
    return frozen


class Lane:
    """Cars at a lane, moved along the clock by the test."""

    def __init__(self, service: PermitService, clock: FrozenClock, lane: str) -> None:
        self.service, self.clock, self.lane = service, clock, lane

    def at(self, hhmm: str) -> None:
        hour, minute = (int(part) for part in hhmm.split(":"))
        self.clock.now = NOW.replace(hour=hour, minute=minute)

    def arrive(self, hhmm: str, *permits: UUID) -> None:
        """One car with ``permits`` released to the window at ``hhmm`` (UTC)."""
        self.at(hhmm)
        visit = uuid.uuid4()
        for permit in permits:
            self.service.release(
                permit, lane=self.lane, window=self.lane, visit=visit, method=ReleaseMethod.CODE
            )

    def hand_over(self, hhmm: str, permit: UUID) -> None:
        self.at(hhmm)
        self.service.hand_over(
            permit, handover_id=uuid.uuid4().hex, by="op", recipient=Recipient.OWNER,
            id_checked=True, channel=f"lane:{self.lane}", at_lane=self.lane,
        )  # fmt: skip


async def project(service: PermitService, path: Path) -> ReadModels:
    models = await ReadModels(path).open()
    await runner_for(service, models).catch_up()
    return models


async def test_cars_in_the_lane_and_the_last_hours_median_make_the_wait(
    tmp_path: Path, clock: FrozenClock
) -> None:
    service = sqlite_service(tmp_path / "events.db", clock)
    permits = [ready_permit(service, plate=None).id for _ in range(9)]
    a, b1, b2, c, d, e, f, g, h = permits
    one, two = Lane(service, clock, "1"), Lane(service, clock, "2")
    one.arrive("08:50", a)
    one.hand_over("08:55", a)  # served before the last hour: not in the median
    one.arrive("09:20", b1)
    one.arrive("09:21", b2)  # another car
    one.hand_over("09:24", b1)
    one.arrive("09:30", c)
    one.hand_over("09:32", c)  # 120 s
    one.arrive("09:40", d)
    one.hand_over("09:45", d)  # 300 s
    one.arrive("09:50", e)
    one.at("09:52")
    service.return_to_storage(e, "op", "mobil pergi / car left", at_lane="1")  # left, unserved
    one.arrive("09:55", f)
    one.arrive("09:58", g)
    two.arrive("09:57", h)
    one.hand_over("09:59", b2)  # b1 and b2 were two cars: 240 s and 38 min
    clock.now = NOW
    models = await project(service, tmp_path / "read.db")
    try:
        queues = await lane_queues(models.conn, "badung", ["1", "2", "3"], NOW)
    finally:
        await models.close()
        service.close()
    lane1, lane2, lane3 = queues["1"], queues["2"], queues["3"]
    # Lane 1: f and g wait; served in the hour: b1 240 s, c 120 s, d 300 s, b2 2280 s.
    assert (lane1.cars, lane1.served_last_hour) == (2, 4)
    assert lane1.median_service_seconds == 270.0  # (240 + 300) / 2
    assert (lane1.eta_seconds, lane1.eta_minutes) == (540, 9)
    # Lane 2: one car, nothing served in the hour: the assumed time per car.
    assert (lane2.cars, lane2.served_last_hour, lane2.median_service_seconds) == (1, 0, None)
    assert lane2.eta_seconds == DEFAULT_SERVICE_SECONDS == 180
    assert (lane3.cars, lane3.eta_seconds, lane3.eta_minutes) == (0, 0, 0)


async def test_a_car_with_two_permits_is_one_car_served_from_first_release_to_last_handover(
    tmp_path: Path, clock: FrozenClock
) -> None:
    service = sqlite_service(tmp_path / "events.db", clock)
    x, y, z = (ready_permit(service, plate=None).id for _ in range(3))
    lane = Lane(service, clock, "1")
    lane.arrive("09:40", x, y)  # one car, two permits
    lane.hand_over("09:43", x)
    # Half served: still one car in the lane, and not yet a service time.
    models = await project(service, tmp_path / "read.db")
    try:
        half = (await lane_queues(models.conn, "badung", ["1"], NOW))["1"]
        assert (half.cars, half.served_last_hour) == (1, 0)
        lane.hand_over("09:46", y)
        lane.arrive("09:50", z)
        await runner_for(service, models).catch_up()
        done = (await lane_queues(models.conn, "badung", ["1"], NOW))["1"]
    finally:
        await models.close()
        service.close()
    assert (done.cars, done.served_last_hour, done.median_service_seconds) == (1, 1, 360.0)
    assert (done.eta_seconds, done.eta_minutes) == (360, 6)


async def test_cars_in_the_lane_are_the_visits_the_edge_has_not_seen_leave(
    tmp_path: Path, clock: FrozenClock
) -> None:
    service = sqlite_service(tmp_path / "events.db", clock)
    served_permit = ready_permit(service, plate=None)
    returned_permit = ready_permit(service, plate=None)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    lane = Lane(service, clock, "1")
    cars = {
        name: uuid.uuid4()
        for name in ("gone", "waits", "stale", "served", "returned", "early", "other")
    }

    def arrive(
        hhmm: str, car: str, code: str | None = None, plate: str | None = "DK1111ZZ"
    ) -> None:
        lane.at(hhmm)
        evidence = PlateEvidence(text=plate, confidence=0.9, frames=9) if plate else None
        desk.decide(
            Arrival(site="badung", lane="2" if car == "other" else "1", visit=cars[car],
                    at=clock.now, code_sha256=code, plate=None if code else evidence),
            "1", PlateCandidates("none", plate, ()),
        )  # fmt: skip

    def leave(hhmm: str, car: str) -> None:
        lane.at(hhmm)
        desk.depart(Departure(site="badung", lane="1", visit=cars[car], at=clock.now))

    arrive("08:40", "stale")  # its departure never came: gone after an hour
    arrive("09:50", "gone")  # matched nothing, waited, left
    arrive("09:52", "waits")  # matched nothing, still there
    arrive("09:53", "served", code=served_permit.code.code_sha256)
    lane.hand_over("09:57", served_permit.id)  # served, not seen leaving yet: on its way out
    arrive("09:54", "returned", code=returned_permit.code.code_sha256)
    lane.at("09:57")  # the operator puts it back on the shelf: the car left without it
    service.return_to_storage(returned_permit.id, "op", "mobil pergi / car left", at_lane="1")
    leave("09:55", "gone")
    leave("09:56", "early")  # its departure came first (another replica took the arrival)
    arrive("09:58", "early")
    arrive("09:59", "other")  # another lane's
    clock.now = NOW
    followed = await ReadModels(tmp_path / "followed.db").open()
    try:
        await runner_for(service, followed, page_size=2).catch_up()
        queues = await lane_queues(followed.conn, "badung", ["1", "2"], NOW)
        assert (queues["1"].cars, queues["2"].cars) == (1, 1)
        leave("09:59", "waits")
        await runner_for(service, followed, page_size=2).catch_up()
        queues = await lane_queues(followed.conn, "badung", ["1", "2"], NOW)
        assert (queues["1"].cars, queues["2"].cars) == (0, 1)
        # Folded page by page or rebuilt at once, the lane holds the same visits.
        rebuilt = await ReadModels(tmp_path / "rebuilt.db").open()
        try:
            await runner_for(service, rebuilt, page_size=1000).catch_up()
            query = "SELECT * FROM lane_visits ORDER BY id"
            assert (
                await (await followed.conn.execute(query)).fetchall()
                == await (await rebuilt.conn.execute(query)).fetchall()
            )
        finally:
            await rebuilt.close()
    finally:
        await followed.close()
        service.close()
