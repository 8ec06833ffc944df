"""The permit's rules, through the service on the in-memory store."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import datetime, timedelta
from enum import Enum

import pytest

from core.errors import (
    AlreadyHandedOverError,
    CodeRefusedError,
    DelegateNotAuthorisedError,
    IdentityNotCheckedError,
    InvalidInputError,
    InvalidTransitionError,
    PermitError,
    PermitNotFoundError,
    PlateError,
)
from core.values import PermitStatus, Recipient, ReleaseMethod
from tests.factories import DELEGATE_NIK, NIK, FrozenClock, memory_service, ready_permit, submit


def release(service, permit_id, visit=None, lane="1"):  # type: ignore[no-untyped-def]
    return service.release(
        permit_id, lane=lane, window="1", visit=visit or uuid.uuid4(), method=ReleaseMethod.CODE
    )


def hand_over(service, permit_id, handover_id="h1", **overrides):  # type: ignore[no-untyped-def]
    args = {
        "handover_id": handover_id,
        "by": "operator-1",
        "recipient": Recipient.OWNER,
        "id_checked": True,
        "channel": "lane:1",
    }
    args.update(overrides)
    return service.hand_over(permit_id, **args)


def test_a_permit_goes_from_submission_to_ready() -> None:
    service = memory_service()
    ready = ready_permit(service)
    permit = service.get(ready.id)
    assert permit.status is PermitStatus.READY
    assert permit.slot == "R1-01"
    assert permit.code_sha256 == ready.code.code_sha256
    assert permit.plate == "DK1234AB"
    names = [name for name, _ in service.history(ready.id)]
    assert names == [
        "Submitted", "DocumentsVerified", "FeeAssessed", "FeePaid", "Approved", "Printed",
        "Staged", "PickupCodeIssued",
    ]  # fmt: skip


def test_the_store_keeps_only_the_hash_of_the_code_and_nik() -> None:
    service = memory_service()
    ready = ready_permit(service)
    stored = b"".join(n.state for n in service.recorder.select_notifications(1, 1000))
    assert ready.code.code_sha256.encode() in stored
    assert ready.code.code.encode() not in stored
    assert ready.code.code[4:].encode() not in stored
    assert NIK.encode() not in stored


def test_submitting_the_same_reference_twice_returns_the_same_permit() -> None:
    service = memory_service()
    first = submit(service, reference="LAP-1")
    again = submit(service, reference="LAP-1")
    assert first == again
    assert service.get(first).version == 1


def test_a_bad_plate_or_nik_is_refused_at_submission() -> None:
    service = memory_service()
    with pytest.raises(PlateError):
        submit(service, plate="not a plate")
    with pytest.raises(InvalidInputError, match="NIK"):
        service.submit(
            site="badung", reference="X", kind="SIUP", applicant_name="A", nik="123", plate=None
        )


def test_nothing_is_released_before_ready() -> None:
    service = memory_service()
    permit_id = submit(service)
    service.verify_documents(permit_id, "officer")
    with pytest.raises(InvalidTransitionError, match="release"):
        release(service, permit_id)


def test_no_ready_before_the_fee_is_paid() -> None:
    service = memory_service()
    permit_id = submit(service)
    service.verify_documents(permit_id, "officer")
    service.assess_fee(permit_id, "officer", 50_000)
    with pytest.raises(InvalidTransitionError, match="fee_paid"):
        service.approve(permit_id, "officer")
    with pytest.raises(InvalidTransitionError):
        service.stage(permit_id, "runner", "R1-01")


def test_a_payment_must_match_the_fee_and_a_repeated_callback_changes_nothing() -> None:
    service = memory_service()
    permit_id = submit(service)
    service.verify_documents(permit_id, "officer")
    service.assess_fee(permit_id, "officer", 50_000)
    with pytest.raises(InvalidInputError, match="50000"):
        service.record_payment(permit_id, "PAY-1", 40_000)
    assert service.record_payment(permit_id, "PAY-1", 50_000) is True
    version = service.get(permit_id).version
    assert service.record_payment(permit_id, "PAY-1", 50_000) is False
    assert service.get(permit_id).version == version
    with pytest.raises(InvalidTransitionError):
        service.record_payment(permit_id, "PAY-2", 50_000)


def test_a_free_permit_needs_no_payment() -> None:
    service = memory_service()
    ready = ready_permit(service, fee=0)
    assert service.get(ready.id).status is PermitStatus.READY


def test_correction_loop_and_rejection() -> None:
    service = memory_service()
    permit_id = submit(service)
    with pytest.raises(InvalidInputError):
        service.request_correction(permit_id, "officer", " ")
    service.request_correction(permit_id, "officer", "KTP buram / KTP unreadable")
    assert service.get(permit_id).status is PermitStatus.CORRECTION_REQUESTED
    service.resubmit_documents(permit_id, "new scan")
    service.reject(permit_id, "officer", "not eligible")
    assert service.get(permit_id).status is PermitStatus.REJECTED
    with pytest.raises(InvalidTransitionError):
        service.verify_documents(permit_id, "officer")


def test_a_permit_is_handed_over_only_once() -> None:
    service = memory_service()
    ready = ready_permit(service)
    release(service, ready.id)
    assert hand_over(service, ready.id, "h1") is True
    with pytest.raises(AlreadyHandedOverError):
        hand_over(service, ready.id, "h2", by="operator-2")
    permit = service.get(ready.id)
    assert permit.status is PermitStatus.HANDED_OVER
    assert permit.handed_over_by == "operator-1"
    assert permit.conflicts == 1
    assert [n for n, _ in service.history(ready.id)][-2:] == [
        "HandedOver",
        "HandoverConflictRecorded",
    ]


def test_a_repeated_handover_with_the_same_id_is_a_retry_not_a_conflict() -> None:
    service = memory_service()
    ready = ready_permit(service)
    release(service, ready.id)
    assert hand_over(service, ready.id, "h1") is True
    assert hand_over(service, ready.id, "h1") is False
    assert service.get(ready.id).conflicts == 0


def test_a_window_handover_needs_a_release_and_a_checked_identity() -> None:
    service = memory_service()
    ready = ready_permit(service)
    with pytest.raises(InvalidTransitionError):
        hand_over(service, ready.id)
    release(service, ready.id)
    with pytest.raises(IdentityNotCheckedError):
        hand_over(service, ready.id, id_checked=False)
    with pytest.raises(PermitError, match="'by'"):
        hand_over(service, ready.id, by=" ")


def test_release_is_idempotent_per_visit_and_follows_the_car_to_another_lane() -> None:
    service = memory_service()
    ready = ready_permit(service)
    visit = uuid.uuid4()
    assert release(service, ready.id, visit) is True
    assert release(service, ready.id, visit) is False
    other = uuid.uuid4()
    assert release(service, ready.id, other, lane="2") is True
    permit = service.get(ready.id)
    assert (permit.lane, permit.visit) == ("2", other)


def test_a_car_that_leaves_sends_the_permit_back_to_storage() -> None:
    service = memory_service()
    ready = ready_permit(service)
    release(service, ready.id)
    service.return_to_storage(ready.id, "operator-1", "car left")
    permit = service.get(ready.id)
    assert permit.status is PermitStatus.READY
    assert permit.lane is None


def test_the_code_resolves_to_its_permit_only_at_its_site() -> None:
    service = memory_service()
    ready = ready_permit(service, site="badung")
    holder = service.resolve_code(ready.code.code, site="badung")
    assert (holder.permit_id, holder.recipient) == (ready.id, Recipient.OWNER)
    assert service.resolve_code(ready.code.code_sha256).permit_id == ready.id
    with pytest.raises(CodeRefusedError) as refused:
        service.resolve_code(ready.code.code, site="sleman")
    assert refused.value.reason == "wrong_site"


def test_an_expired_code_is_refused() -> None:
    clock = FrozenClock()
    service = memory_service(clock)
    ready = ready_permit(service)
    clock.advance(service.settings.code_ttl + timedelta(seconds=1))
    with pytest.raises(CodeRefusedError) as refused:
        service.resolve_code(ready.code.code)
    assert refused.value.reason == "expired"


def test_a_reissued_code_kills_the_old_one() -> None:
    service = memory_service()
    ready = ready_permit(service)
    new = service.reissue_code(ready.id, "officer", "phone lost")
    with pytest.raises(CodeRefusedError) as refused:
        service.resolve_code(ready.code.code)
    assert refused.value.reason == "replaced"
    assert service.resolve_code(new.code).permit_id == ready.id


def test_an_unknown_or_used_code_is_refused() -> None:
    service = memory_service()
    ready = ready_permit(service)
    with pytest.raises(CodeRefusedError) as unknown:
        service.resolve_code("DT1:" + "A" * 26)
    assert unknown.value.reason == "unknown"
    release(service, ready.id)
    hand_over(service, ready.id)
    with pytest.raises(CodeRefusedError) as used:
        service.resolve_code(ready.code.code)
    assert used.value.reason == "handed_over"


def test_a_delegate_collects_with_their_own_code_and_a_valid_authorisation() -> None:
    clock = FrozenClock()
    service = memory_service(clock)
    ready = ready_permit(service)
    issued = service.authorise_delegate(
        ready.id, name="Ketut Arta", nik=DELEGATE_NIK, expires_at=clock.now + timedelta(days=3)
    )
    holder = service.resolve_code(issued.code)
    assert holder.recipient is Recipient.DELEGATE
    assert service.check_nik(ready.id, DELEGATE_NIK, holder.delegate_id)
    assert not service.check_nik(ready.id, NIK, holder.delegate_id)
    assert service.check_nik(ready.id, NIK)
    release(service, ready.id)
    with pytest.raises(DelegateNotAuthorisedError):
        hand_over(service, ready.id, recipient=Recipient.DELEGATE, delegate_id="someone-else")
    hand_over(service, ready.id, recipient=Recipient.DELEGATE, delegate_id=holder.delegate_id)
    assert service.get(ready.id).status is PermitStatus.HANDED_OVER


def test_an_expired_authorisation_cannot_collect() -> None:
    clock = FrozenClock()
    service = memory_service(clock)
    ready = ready_permit(service)
    issued = service.authorise_delegate(
        ready.id, name="Ketut Arta", nik=DELEGATE_NIK, expires_at=clock.now + timedelta(hours=1)
    )
    delegate_id = service.resolve_code(issued.code).delegate_id
    release(service, ready.id)
    clock.advance(timedelta(hours=2))
    with pytest.raises(DelegateNotAuthorisedError, match="kedaluwarsa"):
        hand_over(service, ready.id, recipient=Recipient.DELEGATE, delegate_id=delegate_id)
    with pytest.raises(CodeRefusedError):
        service.resolve_code(issued.code)


def test_a_team_hands_over_only_what_is_assigned_to_it() -> None:
    service = memory_service()
    ready = ready_permit(service)
    with pytest.raises(PermitError, match="team a"):
        hand_over(service, ready.id, channel="team:a")
    service.assign_to_team(ready.id, "officer", "a", "2026-12-01", "Balai Desa Abiansemal")
    hand_over(service, ready.id, channel="team:a")
    assert service.get(ready.id).status is PermitStatus.HANDED_OVER


def test_cancel_and_expire_end_a_permit() -> None:
    service = memory_service()
    first = ready_permit(service)
    service.cancel(first.id, "officer", "applicant withdrew")
    assert service.get(first.id).status is PermitStatus.CANCELLED
    with pytest.raises(CodeRefusedError):
        service.resolve_code(first.code.code)
    second = ready_permit(service)
    service.expire(second.id, "not collected in 30 days")
    assert service.get(second.id).status is PermitStatus.EXPIRED
    with pytest.raises(InvalidTransitionError):
        release(service, second.id)


def test_an_unknown_permit_is_our_own_error() -> None:
    service = memory_service()
    with pytest.raises(PermitNotFoundError):
        service.get(uuid.uuid4())


IMMUTABLE = (str, int, float, bool, type(None), datetime, uuid.UUID, Enum, frozenset, tuple)


def test_a_copied_permit_shares_nothing_that_can_change() -> None:
    # PermitApplication.__deepcopy__ copies only the containers it knows; a new mutable
    # field would be shared between the cached permit and the desk's copy. This finds it.
    service = memory_service()
    ready = ready_permit(service)
    service.authorise_delegate(
        ready.id, name="Kadek Dwi", nik=DELEGATE_NIK, expires_at=service.clock() + timedelta(days=3)
    )
    service.reissue_code(ready.id, "officer", "lost phone")
    original = service.peek(ready.id)
    clone = copy.deepcopy(original)
    assert clone.id == original.id
    assert clone.version == original.version
    for name, value in vars(original).items():
        if isinstance(value, IMMUTABLE) or dataclasses.is_dataclass(value):
            if dataclasses.is_dataclass(value):
                params = type(value).__dict__["__dataclass_params__"]
                assert params.frozen, f"{name} is a dataclass that can change"
            continue
        assert getattr(clone, name) is not value, f"{name} is shared by the copy"
        assert getattr(clone, name) == value, name
    clone.release("1", "1", uuid.uuid4(), ReleaseMethod.CODE, None)
    assert original.status is PermitStatus.READY
    assert not original.pending_events
