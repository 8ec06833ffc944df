"""Random command sequences against the permit service; the invariants hold after each step."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from core.errors import DrivethruError
from core.values import PermitStatus, Recipient, ReleaseMethod
from tests.factories import DELEGATE_NIK, FrozenClock, memory_service, ready_permit, submit

# The status each event leaves behind, to replay histories independently of the aggregate.
STATUS_AFTER = {
    "Submitted": "submitted",
    "DocumentsVerified": "documents_verified",
    "CorrectionRequested": "correction_requested",
    "DocumentsResubmitted": "submitted",
    "FeePaid": "fee_paid",
    "Approved": "approved",
    "Rejected": "rejected",
    "Printed": "printed",
    "PickupCodeIssued": "ready",
    "Released": "released",
    "ReturnedToStorage": "ready",
    "HandedOver": "handed_over",
    "Cancelled": "cancelled",
    "Expired": "expired",
    "PickupCodeExpired": "expired",
}
WHO = st.sampled_from(["officer", "operator-1", "operator-2", " "])


class PermitLifecycle(RuleBasedStateMachine):
    permits = Bundle("permits")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FrozenClock()
        self.service = memory_service(self.clock)
        self.codes: list[str] = []
        self.ids: list[uuid.UUID] = []

    def attempt(self, command, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Run a command; the only failures allowed are our own, explained errors."""
        try:
            return command(*args, **kwargs)
        except DrivethruError as error:
            refusal = error.message
        assert refusal  # every refusal says why
        return None

    @rule(target=permits, plate=st.sampled_from(["DK 1234 AB", "AB 1 C", None]))
    def submit_application(self, plate: str | None) -> uuid.UUID:
        permit_id = submit(self.service, plate=plate)
        self.ids.append(permit_id)
        return permit_id

    @rule(target=permits, fee=st.sampled_from([0, 50_000]))
    def ready_application(self, fee: int) -> uuid.UUID:
        """A shortcut to READY, so that the lane and handover rules get exercised often."""
        ready = ready_permit(self.service, fee=fee)
        self.ids.append(ready.id)
        self.codes.append(ready.code.code)
        return ready.id

    @rule(target=permits)
    def released_application(self) -> uuid.UUID:
        ready = ready_permit(self.service)
        self.service.release(
            ready.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE
        )
        self.ids.append(ready.id)
        return ready.id

    @rule(permit=permits, by=WHO)
    def verify(self, permit: uuid.UUID, by: str) -> None:
        self.attempt(self.service.verify_documents, permit, by)

    @rule(permit=permits, by=WHO)
    def request_correction(self, permit: uuid.UUID, by: str) -> None:
        self.attempt(self.service.request_correction, permit, by, "blurry KTP")

    @rule(permit=permits)
    def resubmit(self, permit: uuid.UUID) -> None:
        self.attempt(self.service.resubmit_documents, permit, "new scan")

    @rule(permit=permits, fee=st.sampled_from([0, 50_000, -1]))
    def assess_fee(self, permit: uuid.UUID, fee: int) -> None:
        self.attempt(self.service.assess_fee, permit, "officer", fee)

    @rule(permit=permits, amount=st.sampled_from([50_000, 10]), ref=st.sampled_from(["P1", "P2"]))
    def pay(self, permit: uuid.UUID, amount: int, ref: str) -> None:
        self.attempt(self.service.record_payment, permit, ref, amount)

    @rule(permit=permits, by=WHO)
    def approve(self, permit: uuid.UUID, by: str) -> None:
        self.attempt(self.service.approve, permit, by)

    @rule(permit=permits)
    def reject(self, permit: uuid.UUID) -> None:
        self.attempt(self.service.reject, permit, "officer", "not eligible")

    @rule(permit=permits)
    def print_document(self, permit: uuid.UUID) -> None:
        self.attempt(self.service.print_document, permit, "officer")

    @rule(permit=permits, slot=st.sampled_from(["R1-01", ""]))
    def stage(self, permit: uuid.UUID, slot: str) -> None:
        issued = self.attempt(self.service.stage, permit, "runner", slot)
        if issued is not None:
            self.codes.append(issued.code)

    @rule(permit=permits)
    def reissue(self, permit: uuid.UUID) -> None:
        issued = self.attempt(self.service.reissue_code, permit, "officer", "lost")
        if issued is not None:
            self.codes.append(issued.code)

    @rule(permit=permits, hours=st.sampled_from([-1, 2, 48]))
    def authorise_delegate(self, permit: uuid.UUID, hours: int) -> None:
        issued = self.attempt(
            self.service.authorise_delegate,
            permit,
            name="Ketut Arta",
            nik=DELEGATE_NIK,
            expires_at=self.clock.now + timedelta(hours=hours),
        )
        if issued is not None:
            self.codes.append(issued.code)

    @rule(permit=permits, lane=st.sampled_from(["1", "2"]), visit=st.sampled_from(range(3)))
    def release(self, permit: uuid.UUID, lane: str, visit: int) -> None:
        self.attempt(
            self.service.release,
            permit,
            lane=lane,
            window="1",
            visit=uuid.UUID(int=visit),
            method=ReleaseMethod.PLATE,
        )

    @rule(permit=permits)
    def return_to_storage(self, permit: uuid.UUID) -> None:
        self.attempt(self.service.return_to_storage, permit, "operator-1", "left")

    @rule(
        permit=permits,
        handover=st.sampled_from(["h1", "h2", "h3"]),
        by=WHO,
        checked=st.booleans(),
        recipient=st.sampled_from(list(Recipient)),
        channel=st.sampled_from(["lane:1", "team:a"]),
    )
    def hand_over(
        self,
        permit: uuid.UUID,
        handover: str,
        by: str,
        checked: bool,
        recipient: Recipient,
        channel: str,
    ) -> None:
        delegates = self.service._permit(permit).delegates
        self.attempt(
            self.service.hand_over,
            permit,
            handover_id=handover,
            by=by,
            recipient=recipient,
            id_checked=checked,
            channel=channel,
            delegate_id=next(iter(delegates), None),
        )

    @rule(permit=permits, handover=st.sampled_from(["h1", "h2"]), by=WHO)
    def hand_over_at_the_window(self, permit: uuid.UUID, handover: str, by: str) -> None:
        self.attempt(
            self.service.hand_over,
            permit,
            handover_id=handover,
            by=by,
            recipient=Recipient.OWNER,
            id_checked=True,
            channel="lane:1",
        )

    @rule(permit=permits)
    def assign_team(self, permit: uuid.UUID) -> None:
        self.attempt(self.service.assign_to_team, permit, "officer", "a", "2026-12-01", "Balai")

    @rule(permit=permits)
    def cancel(self, permit: uuid.UUID) -> None:
        self.attempt(self.service.cancel, permit, "officer", "withdrawn")

    @rule(permit=permits)
    def expire(self, permit: uuid.UUID) -> None:
        self.attempt(self.service.expire, permit, "too late")

    @rule(permit=permits)
    def expiry_job(self, permit: uuid.UUID) -> None:
        self.attempt(self.service.expire_if_due, permit, timedelta(days=14))

    @rule(hours=st.sampled_from([1, 24 * 31]))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    @invariant()
    def histories_obey_the_lifecycle(self) -> None:
        for permit_id in self.ids:
            names = [name for name, _ in self.service.history(permit_id)]
            snapshot = self.service.get(permit_id)
            assert snapshot.version == len(names) == len(list(self.service.events.get(permit_id)))
            assert names.count("HandedOver") <= 1, "handed over twice"
            status = "submitted"
            paid = False
            for name in names:
                if name == "FeeAssessed":
                    fee = self.service._permit(permit_id).fee_rupiah
                    status = "fee_assessed"
                    paid = paid or fee == 0
                    status = "fee_paid" if paid else status
                if name == "FeePaid":
                    paid = True
                if name == "PickupCodeIssued":
                    assert paid, "ready before the fee was paid"
                if name == "Released":
                    assert status in ("ready", "released"), f"released while {status}"
                if name == "HandedOver":
                    assert status in ("ready", "released"), f"handed over while {status}"
                if name in ("PickupCodeExpired", "Expired"):
                    assert status == "ready", f"expired while {status}"
                if name == "PickupCodeReissued" and status == "expired":
                    status = "ready"  # a new code for an expired permit: it waits again
                status = STATUS_AFTER.get(name, status)
            assert snapshot.status is PermitStatus(status)
            conflicts = names.count("HandoverConflictRecorded")
            assert snapshot.conflicts == conflicts
            if conflicts:
                assert "HandedOver" in names

    @invariant()
    def no_code_text_is_ever_stored(self) -> None:
        if not self.codes:
            return
        stored = b"".join(n.state for n in self.service.recorder.select_notifications(1, 10_000))
        for code in self.codes:
            assert code[4:].encode() not in stored


PermitLifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_permit_lifecycle = PermitLifecycle.TestCase
