"""Departures on the arrival desk: a car leaving ends its visit once, in either order."""

from __future__ import annotations

import uuid

import pytest

from core.arrivals import ArrivalDesk, ReleasePolicy
from core.contract import AckOutcome, Arrival, Departure, decode
from core.errors import ContractError
from core.values import PermitStatus, visit_id_for
from core.visit import LaneVisit
from tests.factories import memory_service, ready_permit


def test_a_departure_ends_its_visit_once() -> None:
    service = memory_service(sole_writer=True)
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    car = uuid.uuid4()
    desk.decide(
        Arrival(site="badung", lane="1", visit=car, code_sha256=ready.code.code_sha256), "1"
    )
    departure = Departure(site="badung", lane="1", visit=car)
    assert desk.depart(departure) is AckOutcome.LEFT
    visit: LaneVisit = service.repository.get(visit_id_for("badung", "1", car))
    assert visit.left_at == departure.at
    left_version = visit.version
    # Sent again (its ack was lost), or another departure of the same car: nothing more.
    assert desk.depart(departure) is AckOutcome.DUPLICATE
    assert desk.depart(Departure(site="badung", lane="1", visit=car)) is AckOutcome.DUPLICATE
    assert service.repository.get(visit.id).version == left_version
    # Leaving does not take back what the visit released.
    assert service.get(ready.id).status is PermitStatus.RELEASED


@pytest.mark.parametrize("sole_writer", [True, False])
def test_a_departure_before_its_arrival_makes_the_visit_already_gone(sole_writer: bool) -> None:
    service = memory_service(sole_writer=sole_writer)
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    car = uuid.uuid4()
    assert desk.depart(Departure(site="badung", lane="1", visit=car)) is AckOutcome.LEFT
    late = Arrival(site="badung", lane="1", visit=car, code_sha256=ready.code.code_sha256)
    decision = desk.decide(late, "1")
    assert decision.outcome is AckOutcome.RELEASED
    visit: LaneVisit = service.repository.get(visit_id_for("badung", "1", car))
    assert visit.left_at is not None
    assert visit.outcome_of(str(late.id)) is not None
    assert visit.permits == (str(ready.id),)


def test_a_departure_names_its_site_lane_and_visit() -> None:
    good = Departure(site="badung", lane="1", visit=uuid.uuid4())
    assert decode(Departure, good.model_dump_json().encode()) == good
    for broken in (
        b'{"v": 1, "id": "%s", "site": "badung", "lane": "1"}' % str(uuid.uuid4()).encode(),
        b'{"v": 1, "site": "badung", "lane": "1/2", "visit": "%s"}' % str(uuid.uuid4()).encode(),
        b'{"v": 2, "site": "badung", "lane": "1", "visit": "%s"}' % str(uuid.uuid4()).encode(),
    ):
        with pytest.raises(ContractError):
            decode(Departure, broken)
