"""Team handovers applied from the field: once, in their offline time, conflicts kept."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from bench.seed import seed_on_store
from core.contract import TeamHandover
from core.service import PermitService
from core.teams import CLOCK_AHEAD_TOLERANCE, TeamDesk, TeamOutcome
from core.values import PermitStatus, Recipient, ReleaseMethod
from tests.factories import FrozenClock, memory_service, ready_permit


def team_handover(permit_id: uuid.UUID, clock: FrozenClock, **extra: object) -> TeamHandover:
    fields: dict[str, object] = {
        "team": "a", "permit_id": str(permit_id), "by": "petugas-ribon-1",
        "recipient": "owner", "id_checked": True,
        "happened_at": clock.now - timedelta(hours=3),
    }  # fmt: skip
    fields.update(extra)
    return TeamHandover.model_validate(fields)


def assigned(service, clock):  # type: ignore[no-untyped-def]
    ready = ready_permit(service)
    service.assign_to_team(ready.id, "officer", "a", "2026-12-01", "Balai Desa Abiansemal")
    clock.advance(timedelta(hours=4))  # the team goes out; handovers come hours later
    return ready


def test_a_team_handover_is_applied_with_its_offline_time_once() -> None:
    clock = FrozenClock()
    service = memory_service(clock)
    ready = assigned(service, clock)
    message = team_handover(ready.id, clock)
    desk = TeamDesk(service)
    assert desk.apply(message).outcome is TeamOutcome.APPLIED
    assert desk.apply(message).outcome is TeamOutcome.DUPLICATE
    permit = service.get(ready.id)
    assert permit.status is PermitStatus.HANDED_OVER
    assert permit.handed_over_by == "petugas-ribon-1"
    handover = service._permit(ready.id).handover
    assert handover is not None
    assert handover.happened_at == message.happened_at
    assert handover.channel == "team:a"


def recorded_at_server_time(
    desk: TeamDesk, service: PermitService, permit_id: uuid.UUID, clock: FrozenClock,
    claimed: datetime, way: str,
) -> None:  # fmt: skip
    """Apply a handover dated ``claimed``: applied, at the server's time, the device told."""
    decision = desk.apply(team_handover(permit_id, clock, happened_at=claimed))
    assert decision.outcome is TeamOutcome.APPLIED
    assert decision.reason is not None
    assert f"jam perangkat {way}" in decision.reason
    handover = service._permit(permit_id).handover
    assert handover is not None
    assert handover.happened_at == clock.now


def test_a_handover_dated_ahead_of_the_server_is_recorded_at_the_servers_time() -> None:
    # A tablet whose clock was never set (or reset by a flat battery) runs ahead.
    clock = FrozenClock()
    service = memory_service(clock)
    desk = TeamDesk(service)
    ahead, slightly = assigned(service, clock), assigned(service, clock)
    recorded_at_server_time(
        desk, service, ahead.id, clock, clock.now + timedelta(days=2), "di depan"
    )
    # Within the tolerance the device's time stands: clocks differ by seconds.
    near = clock.now + CLOCK_AHEAD_TOLERANCE - timedelta(seconds=1)
    kept = desk.apply(team_handover(slightly.id, clock, happened_at=near))
    assert (kept.outcome, kept.reason) == (TeamOutcome.APPLIED, None)
    handover = service._permit(slightly.id).handover
    assert handover is not None
    assert handover.happened_at == near


def test_a_handover_dated_before_its_permit_was_paid_is_recorded_at_the_servers_time() -> None:
    # A flat battery reset the tablet's clock to its factory date.
    clock = FrozenClock()
    service = memory_service(clock)
    desk = TeamDesk(service)
    reset, late = assigned(service, clock), assigned(service, clock)
    factory = clock.now.replace(year=2000, month=1, day=1)
    recorded_at_server_time(desk, service, reset.id, clock, factory, "di belakang")
    # Hours late, after the fee was paid, is a team's ordinary day: the time stands.
    kept = desk.apply(team_handover(late.id, clock, happened_at=clock.now - timedelta(hours=3)))
    assert (kept.outcome, kept.reason) == (TeamOutcome.APPLIED, None)


def test_a_permit_handed_over_at_a_window_meanwhile_is_a_recorded_conflict() -> None:
    clock = FrozenClock()
    service = memory_service(clock)
    ready = assigned(service, clock)
    service.release(ready.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE)
    service.hand_over(
        ready.id, handover_id="window", by="op", recipient=Recipient.OWNER, id_checked=True,
        channel="lane:1",
    )  # fmt: skip
    message = team_handover(ready.id, clock)
    decision = TeamDesk(service).apply(message)
    assert decision.outcome is TeamOutcome.CONFLICT
    assert TeamDesk(service).apply(message).outcome is TeamOutcome.CONFLICT
    permit = service.get(ready.id)
    assert permit.handed_over_by == "op"  # the window's handover stands
    assert permit.conflicts == 1  # sent twice, recorded once


def test_a_reissued_code_or_a_withdrawn_assignment_is_a_conflict() -> None:
    clock = FrozenClock()
    service = memory_service(clock)
    first = assigned(service, clock)
    service.reissue_code(first.id, "officer", "leaked")
    reissued = TeamDesk(service).apply(
        team_handover(first.id, clock, code_sha256=first.code.code_sha256)
    )
    assert reissued.outcome is TeamOutcome.CONFLICT
    assert reissued.reason is not None
    assert "diganti" in reissued.reason
    second = assigned(service, clock)
    service.unassign_from_team(second.id, "officer")
    withdrawn = TeamDesk(service).apply(team_handover(second.id, clock))
    assert withdrawn.outcome is TeamOutcome.CONFLICT
    for permit_id in (first.id, second.id):
        assert service.get(permit_id).status is PermitStatus.READY
        assert service.get(permit_id).conflicts == 1


def test_two_teams_handing_over_one_permit_the_second_is_a_conflict() -> None:
    clock = FrozenClock()
    service = memory_service(clock)
    ready = assigned(service, clock)
    desk = TeamDesk(service)
    assert desk.apply(team_handover(ready.id, clock)).outcome is TeamOutcome.APPLIED
    other = desk.apply(team_handover(ready.id, clock, team="b", by="tim-b"))
    assert other.outcome is TeamOutcome.CONFLICT
    assert service.get(ready.id).conflicts == 1


def test_an_unknown_permit_is_rejected() -> None:
    clock = FrozenClock()
    decision = TeamDesk(memory_service(clock)).apply(team_handover(uuid.uuid4(), clock))
    assert decision.outcome is TeamOutcome.REJECTED


def test_a_permit_without_a_fee_takes_any_past_time() -> None:
    # No payment to date the permit by: only a time ahead of the server is refused.
    clock = FrozenClock()
    service = memory_service(clock)
    free = next(iter(seed_on_store(service, "badung", 1)))
    service.assign_to_team(uuid.UUID(free.id), "officer", "a", "2026-12-01", "Balai Desa Sading")
    old = clock.now.replace(year=2000, month=1, day=1)
    kept = TeamDesk(service).apply(team_handover(uuid.UUID(free.id), clock, happened_at=old))
    assert (kept.outcome, kept.reason) == (TeamOutcome.APPLIED, None)
