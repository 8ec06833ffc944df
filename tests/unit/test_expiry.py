"""Pickup codes and uncollected permits expire on the service's clock; the office reissues."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from core.arrivals import ArrivalDesk, PlateCandidates, ReleasePolicy
from core.codes import PickupCode
from core.contract import AckOutcome
from core.errors import CodeRefusedError, ExpiryNotDueError, InvalidTransitionError
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from core.values import ExpiryCause, PermitStatus, ReleaseMethod
from tests.factories import DELEGATE_NIK, FrozenClock, ready_permit
from tests.unit.test_arrival_desk import arrival

CODE_TTL = timedelta(days=30)
UNCOLLECTED = timedelta(days=14)


def service_with(clock: FrozenClock, code_ttl: timedelta = CODE_TTL) -> PermitService:
    settings = ServiceSettings.for_demo(StoreSettings(backend="memory"))
    return PermitService(settings.model_copy(update={"code_ttl": code_ttl}), clock=clock)


def events_named(service: PermitService, permit_id: uuid.UUID, name: str) -> int:
    return sum(1 for event, _ in service.history(permit_id) if event == name)


def test_a_code_past_its_expiry_is_refused_before_and_after_the_job_records_it() -> None:
    clock = FrozenClock()
    service = service_with(clock)
    ready = ready_permit(service)
    clock.advance(CODE_TTL)
    with pytest.raises(CodeRefusedError) as before:
        service.resolve_code(ready.code.code_sha256)
    assert before.value.reason == "expired"
    assert service.expire_if_due(ready.id, None) is ExpiryCause.CODE
    assert service.expire_if_due(ready.id, None) is None  # the next run records nothing
    assert events_named(service, ready.id, "PickupCodeExpired") == 1
    assert service.get(ready.id).status is PermitStatus.EXPIRED
    with pytest.raises(CodeRefusedError) as after:
        service.resolve_code(ready.code.code)
    assert after.value.reason == "expired"
    message = after.value.message
    assert message.index("Kode kedaluwarsa") < message.index("code expired")


def test_an_expiry_before_its_time_is_refused_by_the_permits_rules() -> None:
    clock = FrozenClock()
    service = service_with(clock)
    ready = ready_permit(service)
    clock.advance(CODE_TTL - timedelta(seconds=1))
    permit = service.peek(ready.id)
    assert permit.due_expiry(clock.now, UNCOLLECTED * 3) is None
    with pytest.raises(ExpiryNotDueError):
        permit.expire_code(clock.now)
    with pytest.raises(ExpiryNotDueError):
        permit.expire_uncollected(clock.now, UNCOLLECTED * 3)
    assert service.expire_if_due(ready.id, UNCOLLECTED * 3) is None
    assert service.get(ready.id).status is PermitStatus.READY


def test_a_permit_nobody_collects_expires_after_the_sites_days() -> None:
    clock = FrozenClock()
    service = service_with(clock)
    ready = ready_permit(service)
    clock.advance(UNCOLLECTED - timedelta(minutes=1))
    assert service.expire_if_due(ready.id, UNCOLLECTED) is None
    clock.advance(timedelta(minutes=1))
    assert service.expire_if_due(ready.id, UNCOLLECTED) is ExpiryCause.UNCOLLECTED
    assert service.expire_if_due(ready.id, UNCOLLECTED) is None
    assert events_named(service, ready.id, "Expired") == 1
    assert service.get(ready.id).status is PermitStatus.EXPIRED
    with pytest.raises(CodeRefusedError) as refused:
        service.resolve_code(ready.code.code_sha256)  # the code was still in its time
    assert refused.value.reason == "expired"


def test_a_permit_at_a_window_does_not_expire_under_its_car() -> None:
    clock = FrozenClock()
    service = service_with(clock)
    ready = ready_permit(service)
    service.release(ready.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE)
    clock.advance(CODE_TTL * 2)
    assert service.expire_if_due(ready.id, UNCOLLECTED) is None
    assert service.get(ready.id).status is PermitStatus.RELEASED
    service.return_to_storage(ready.id, "runner", "car left")
    assert service.expire_if_due(ready.id, UNCOLLECTED) is ExpiryCause.CODE


def test_a_reissue_after_expiry_makes_it_ready_with_a_new_expiry() -> None:
    clock = FrozenClock()
    service = service_with(clock)
    ready = ready_permit(service)
    delegate = service.authorise_delegate(
        ready.id, name="Ni Made Ayu", nik=DELEGATE_NIK, expires_at=clock.now + CODE_TTL * 3
    )
    clock.advance(CODE_TTL)
    service.expire_if_due(ready.id, UNCOLLECTED)
    clock.advance(timedelta(days=2))
    issued = service.reissue_code(ready.id, "officer", "tidak diambil / not collected")
    permit = service.get(ready.id)
    assert permit.status is PermitStatus.READY
    assert issued.expires_at == clock.now + CODE_TTL
    assert permit.code_expires_at == issued.expires_at
    assert service.resolve_code(issued.code).permit_id == ready.id
    for dead, reason in ((ready.code.code_sha256, "replaced"), (delegate.code_sha256, "expired")):
        with pytest.raises(CodeRefusedError) as refused:
            service.resolve_code(dead)
        assert refused.value.reason == reason
    # The uncollected period starts again with the new code.
    clock.advance(UNCOLLECTED - timedelta(minutes=1))
    assert service.expire_if_due(ready.id, UNCOLLECTED) is None
    clock.advance(timedelta(minutes=1))
    assert service.expire_if_due(ready.id, UNCOLLECTED) is ExpiryCause.UNCOLLECTED


def test_only_a_waiting_or_expired_permit_gets_a_new_code() -> None:
    clock = FrozenClock()
    service = service_with(clock)
    ready = ready_permit(service)
    service.cancel(ready.id, "officer", "withdrawn")
    with pytest.raises(InvalidTransitionError):
        service.reissue_code(ready.id, "officer", "again")


def test_an_arrival_with_an_expired_code_is_rejected_with_the_reason() -> None:
    clock = FrozenClock()
    service = service_with(clock)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    late, later = ready_permit(service), ready_permit(service)
    clock.advance(CODE_TTL)
    service.expire_if_due(later.id, None)  # one recorded by the job, one not yet
    for ready in (late, later):
        decision = desk.decide(arrival(ready.code.code_sha256), window="1")
        assert decision.outcome is AckOutcome.REJECTED
        assert decision.reason is not None
        assert decision.reason.index("Kode kedaluwarsa") < decision.reason.index("code expired")
        assert decision.released == ()


def test_an_expired_permits_plate_does_not_match() -> None:
    clock = FrozenClock()
    service = service_with(clock)
    desk = ArrivalDesk(service, ReleasePolicy.CODE_OR_PLATE)
    late, later = ready_permit(service, plate="DK 77 EX"), ready_permit(service, plate="DK 78 EX")
    clock.advance(CODE_TTL)
    service.expire_if_due(later.id, None)
    # Candidates as read models a moment behind would still name them.
    for ready, plate in ((late, "DK77EX"), (later, "DK78EX")):
        candidates = PlateCandidates("exact", plate, (ready.id,))
        decision = desk.decide(arrival(plate=plate), window="1", plate=candidates)
        assert decision.outcome is AckOutcome.NO_MATCH
        assert decision.released == ()
        assert service.get(ready.id).status is not PermitStatus.RELEASED


def test_a_code_issued_with_an_expiry_in_the_past_is_refused() -> None:
    clock = FrozenClock()
    service = service_with(clock)
    ready = ready_permit(service)
    permit = service.peek(ready.id)
    with pytest.raises(ValueError, match="sudah lewat"):
        permit.reissue_code(
            "officer", PickupCode.generate().sha256, clock.now - timedelta(seconds=1),
            "typo", clock.now,
        )  # fmt: skip
    assert isinstance(permit.ready_since, datetime)
