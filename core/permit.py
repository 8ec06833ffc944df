"""The permit application aggregate: every stage from submission to handover, as events.

Commands are verbs; the events they record are past tense. Rules live in ``check_*``
methods that raise from the `PermitError` tree. Commands that a retry can repeat (a payment
callback, a release for the same visit, a handover with the same id) return quietly the
second time instead of recording a second event.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.contact import Contact
from core.errors import (
    AlreadyHandedOverError,
    CodeRefusedError,
    DelegateNotAuthorisedError,
    ExpiryNotDueError,
    IdentityNotCheckedError,
    InvalidInputError,
    InvalidTransitionError,
    PermitError,
    ReleasedToAnotherLaneError,
)
from core.identity import IdentityCheck
from core.personal import ERASED
from core.values import (
    CodeHolder,
    Delegate,
    ExpiryCause,
    Handover,
    PermitStatus,
    Recipient,
    ReleaseMethod,
    permit_id_for,
)

S = PermitStatus
CODE_EXPIRED = (
    "Kode kedaluwarsa, minta kode baru ke petugas / code expired, ask an officer for a new one"
)


class PermitApplication(Aggregate):
    """One citizen's application for one permit, from submission to handover."""

    # A class default rather than an `__init__` field: snapshots taken before it existed
    # restore without it.
    paid_at: datetime | None = None
    ready_since: datetime | None = None
    """When it last became READY with a fresh code: the uncollected period counts from here."""
    expired_code_hashes: frozenset[str] = frozenset()
    """Codes that died with an expiry (the owner's and the delegates'): still refused as
    expired after a reissue gives the permit a new code."""
    contact: Contact | None = None
    """Where the citizen hears from us (`core/contact.py`): personal data, the notifier's only."""
    nik_tail_hash: str | None = None
    """Keyed hash of the NIK's last 6 digits (`core.identity`); None if submitted before."""
    released_by_code: str | None = None
    personal_data_erased: bool = False
    """The code hash that released it to the window, if a code did (whose: `core.identity`)."""

    @staticmethod
    def create_id(site: str, reference: str) -> UUID:
        return permit_id_for(site, reference)

    @event("Submitted")
    def __init__(
        self,
        site: str,
        reference: str,
        number: str,
        kind: str,
        applicant_name: str,
        nik_hash: str,
        nik_masked: str,
        plate: str | None,
        nik_tail_hash: str | None = None,
    ) -> None:
        self.site = site
        self.nik_tail_hash = nik_tail_hash
        self.reference = reference
        self.number = number
        self.kind = kind
        self.applicant_name = applicant_name
        self.nik_hash = nik_hash
        self.nik_masked = nik_masked
        self.plate = plate
        self.status = S.SUBMITTED
        self.fee_rupiah: int | None = None
        self.payment_reference: str | None = None
        self.slot: str | None = None
        self.code_sha256: str | None = None
        self.code_expires_at: datetime | None = None
        self.retired_code_hashes: set[str] = set()
        self.delegates: dict[str, Delegate] = {}
        self.lane: str | None = None
        self.window: str | None = None
        self.visit: UUID | None = None
        self.team: str | None = None
        self.handover: Handover | None = None
        self.conflicts = 0
        self.conflict_ids: set[str] = set()

    def __deepcopy__(self, memo: dict[int, object]) -> PermitApplication:
        """A copy to change without touching this one (the arrival desk's batches).

        Every field is an immutable value but these containers, so copying them is a deep
        copy at a fraction of `copy.deepcopy`'s generic cost (a third of a decision, measured).
        tests/unit/test_permit_rules.py checks that no other field is mutable.
        """
        clone = object.__new__(type(self))
        clone.__dict__ = self.__dict__.copy()  # five times faster than copy.copy's protocol
        clone.retired_code_hashes = set(self.retired_code_hashes)
        clone.delegates = dict(self.delegates)
        clone.conflict_ids = set(self.conflict_ids)
        clone._pending_events = list(self._pending_events)
        return clone

    # -- rules ---------------------------------------------------------------------------

    def check_status(self, command: str, *allowed: PermitStatus) -> None:
        if self.status not in allowed:
            raise InvalidTransitionError(
                self.id, command, self.status.value, " | ".join(s.value for s in allowed)
            )

    def check_by(self, by: str) -> None:
        if not by.strip():
            raise InvalidInputError(self.id, "Petugas wajib diisi / 'by' is required")

    def check_code_usable(self, code_sha256: str, now: datetime) -> CodeHolder:
        """Who ``code_sha256`` speaks for, or `CodeRefusedError` with the reason."""
        if self.status is S.HANDED_OVER:
            raise CodeRefusedError(
                self.id, "handed_over", "Izin sudah diserahkan / permit already handed over"
            )
        if code_sha256 in self.retired_code_hashes:
            raise CodeRefusedError(
                self.id, "replaced", "Kode sudah diganti / code was replaced by a newer one"
            )
        if self.status is S.EXPIRED or code_sha256 in self.expired_code_hashes:
            raise CodeRefusedError(self.id, "expired", CODE_EXPIRED)
        if self.status not in (S.READY, S.RELEASED):
            raise CodeRefusedError(
                self.id, "not_ready", f"Izin belum siap ({self.status}) / permit not ready"
            )
        if code_sha256 == self.code_sha256:
            if self.code_has_expired(now):
                raise CodeRefusedError(self.id, "expired", CODE_EXPIRED)
            return CodeHolder(self.id, Recipient.OWNER, None)
        for delegate in self.delegates.values():
            if delegate.code_sha256 == code_sha256:
                if now >= delegate.expires_at:
                    raise CodeRefusedError(
                        self.id, "expired", "Surat kuasa kedaluwarsa / authorisation expired"
                    )
                return CodeHolder(self.id, Recipient.DELEGATE, delegate.delegate_id)
        raise CodeRefusedError(self.id, "unknown", "Kode tidak dikenal / unknown code")

    def code_has_expired(self, now: datetime) -> bool:
        """The owner's code is past its ``expires_at`` (whether or not the expiry job has
        recorded it yet)."""
        return self.code_expires_at is not None and now >= self.code_expires_at

    def waits_for_pickup(self, now: datetime) -> bool:
        """May a car collect it now: READY with a live code, or already at a window."""
        if self.status is S.RELEASED:
            return True  # the car is at the window: the operator finishes the handover
        return self.status is S.READY and not self.code_has_expired(now)

    def check_not_handed_over(self) -> None:
        if self.handover is not None:
            raise AlreadyHandedOverError(self.id, self.handover.handover_id, self.handover.by)

    # -- back office ------------------------------------------------------------------------

    def verify_documents(self, by: str) -> None:
        self.check_by(by)
        self.check_status("verify_documents", S.SUBMITTED)
        self._documents_verified(by)

    @event("DocumentsVerified")
    def _documents_verified(self, by: str) -> None:
        self.status = S.DOCUMENTS_VERIFIED

    def request_correction(self, by: str, reason: str) -> None:
        self.check_by(by)
        self.check_status("request_correction", S.SUBMITTED, S.DOCUMENTS_VERIFIED)
        if not reason.strip():
            raise InvalidInputError(self.id, "Alasan wajib diisi / a reason is required")
        self._correction_requested(by, reason)

    @event("CorrectionRequested")
    def _correction_requested(self, by: str, reason: str) -> None:
        self.status = S.CORRECTION_REQUESTED

    def resubmit_documents(self, note: str) -> None:
        self.check_status("resubmit_documents", S.CORRECTION_REQUESTED)
        self._documents_resubmitted(note)

    @event("DocumentsResubmitted")
    def _documents_resubmitted(self, note: str) -> None:
        self.status = S.SUBMITTED

    def assess_fee(self, by: str, amount_rupiah: int) -> None:
        self.check_by(by)
        self.check_status("assess_fee", S.DOCUMENTS_VERIFIED, S.FEE_ASSESSED)
        if amount_rupiah < 0:
            raise InvalidInputError(self.id, "Retribusi negatif / negative fee")
        self._fee_assessed(by, amount_rupiah)

    @event("FeeAssessed")
    def _fee_assessed(self, by: str, amount_rupiah: int) -> None:
        self.fee_rupiah = amount_rupiah
        # A permit without retribusi has nothing to pay.
        self.status = S.FEE_PAID if amount_rupiah == 0 else S.FEE_ASSESSED

    def record_payment(self, reference: str, amount_rupiah: int, paid_at: datetime) -> bool:
        """Record a payment; the same reference again is a retry and changes nothing.

        Returns True when the payment was recorded now.
        """
        if reference == self.payment_reference:
            return False
        self.check_status("record_payment", S.FEE_ASSESSED)
        if not reference.strip():
            raise InvalidInputError(self.id, "Referensi pembayaran kosong / empty reference")
        if amount_rupiah != self.fee_rupiah:
            raise InvalidInputError(
                self.id,
                f"Jumlah {amount_rupiah} tidak sama dengan retribusi {self.fee_rupiah} / "
                f"amount {amount_rupiah} differs from the fee {self.fee_rupiah}",
            )
        self._fee_paid(reference, amount_rupiah, paid_at)
        return True

    @event("FeePaid")
    def _fee_paid(self, reference: str, amount_rupiah: int, paid_at: datetime) -> None:
        self.payment_reference = reference
        self.paid_at = paid_at
        self.status = S.FEE_PAID

    def approve(self, by: str) -> None:
        self.check_by(by)
        self.check_status("approve", S.FEE_PAID)
        self._approved(by)

    @event("Approved")
    def _approved(self, by: str) -> None:
        self.status = S.APPROVED

    def reject(self, by: str, reason: str) -> None:
        self.check_by(by)
        self.check_status("reject", S.SUBMITTED, S.DOCUMENTS_VERIFIED, S.FEE_ASSESSED, S.FEE_PAID)
        if not reason.strip():
            raise InvalidInputError(self.id, "Alasan wajib diisi / a reason is required")
        self._rejected(by, reason)

    @event("Rejected")
    def _rejected(self, by: str, reason: str) -> None:
        self.status = S.REJECTED

    def print_document(self, by: str) -> None:
        self.check_by(by)
        self.check_status("print", S.APPROVED)
        self._printed(by)

    @event("Printed")
    def _printed(self, by: str) -> None:
        self.status = S.PRINTED

    def stage(
        self,
        by: str,
        slot: str,
        code_sha256: str,
        code_expires_at: datetime,
        now: datetime | None = None,
    ) -> None:
        """Put the printed document in a storage slot and issue its pickup code: READY."""
        self.check_by(by)
        self.check_status("stage", S.PRINTED)
        if not slot.strip():
            raise InvalidInputError(self.id, "Slot penyimpanan wajib diisi / slot is required")
        self._staged(by, self.site, slot.strip())
        self._pickup_code_issued(code_sha256, code_expires_at, now)

    @event("Staged")
    def _staged(self, by: str, site: str, slot: str) -> None:
        self.slot = slot

    @event("PickupCodeIssued")
    def _pickup_code_issued(
        self, code_sha256: str, expires_at: datetime, issued_at: datetime | None = None
    ) -> None:
        self.code_sha256 = code_sha256
        self.code_expires_at = expires_at
        # Issues recorded before `issued_at` existed: the staging just before, same command.
        self.ready_since = issued_at or self.modified_on
        self.status = S.READY

    def check_expiry_ahead(self, expires_at: datetime, now: datetime | None) -> None:
        if now is not None and expires_at <= now:
            raise InvalidInputError(
                self.id, "Masa berlaku kode sudah lewat / the code's expiry is in the past"
            )

    def reissue_code(
        self,
        by: str,
        code_sha256: str,
        expires_at: datetime,
        reason: str,
        now: datetime | None = None,
    ) -> str | None:
        """Replace the pickup code; the old one dies. Returns the old code's hash.

        An EXPIRED permit (its code's time passed, or nobody came for it) is READY again
        with the new code, and its uncollected period starts again.
        """
        self.check_by(by)
        self.check_status("reissue_code", S.READY, S.RELEASED, S.EXPIRED)
        self.check_expiry_ahead(expires_at, now)
        old = self.code_sha256
        self._pickup_code_reissued(by, code_sha256, expires_at, reason, old, now)
        return old

    @event("PickupCodeReissued")
    def _pickup_code_reissued(
        self,
        by: str,
        code_sha256: str,
        expires_at: datetime,
        reason: str,
        old_sha256: str | None,
        issued_at: datetime | None = None,
    ) -> None:
        if old_sha256 is not None:
            self.retired_code_hashes.add(old_sha256)
        self.code_sha256 = code_sha256
        self.code_expires_at = expires_at
        if self.status is S.EXPIRED:
            self.ready_since = issued_at or self.modified_on
            self.status = S.READY

    def authorise_delegate(
        self,
        delegate_id: str,
        name: str,
        nik_hash: str,
        nik_masked: str,
        expires_at: datetime,
        code_sha256: str,
        now: datetime,
        nik_tail_hash: str | None = None,
    ) -> None:
        """Record a surat kuasa: the delegate collects with their own code and their KTP."""
        if self.status.is_final:
            raise InvalidTransitionError(
                self.id, "authorise_delegate", self.status.value, "not final"
            )
        if not name.strip():
            raise InvalidInputError(self.id, "Nama penerima kuasa wajib / name required")
        if expires_at <= now:
            raise InvalidInputError(self.id, "Kuasa sudah kedaluwarsa / already expired")
        if delegate_id in self.delegates:
            raise InvalidInputError(self.id, f"Kuasa {delegate_id} sudah ada / already exists")
        self._delegate_authorised(
            delegate_id, name.strip(), nik_hash, nik_masked, expires_at, code_sha256,
            nik_tail_hash,
        )  # fmt: skip

    @event("DelegateAuthorised")
    def _delegate_authorised(
        self,
        delegate_id: str,
        name: str,
        nik_hash: str,
        nik_masked: str,
        expires_at: datetime,
        code_sha256: str,
        nik_tail_hash: str | None = None,
    ) -> None:
        self.delegates[delegate_id] = Delegate(
            delegate_id, name, nik_hash, expires_at, code_sha256, nik_tail_hash
        )

    # -- the lane ---------------------------------------------------------------------------

    def release(
        self, lane: str, window: str, visit: UUID, method: ReleaseMethod, by_code: str | None
    ) -> bool:
        """Release the permit to a lane's window. Returns False for a repeat of the same visit.

        A release to another visit (the car moved to another lane) moves the permit there.
        """
        if self.status is S.RELEASED and self.visit == visit:
            return False
        self.check_not_handed_over()
        self.check_status("release", S.READY, S.RELEASED)
        self.trigger_event(
            self.Released, lane=lane, window=window, visit=visit, method=method.value,
            by_code=by_code,
        )  # fmt: skip
        return True

    class Released(Aggregate.Event):
        """A class of its own rather than an ``@event`` method: it is recorded for every car,
        and the decorator's mapping of arguments cost a tenth of a decision (py-spy)."""

        lane: str
        window: str
        visit: UUID
        method: str
        by_code: str | None

        def apply(self, aggregate: Aggregate) -> None:
            permit = cast("PermitApplication", aggregate)
            permit.lane, permit.window, permit.visit = self.lane, self.window, self.visit
            permit.released_by_code = self.by_code
            permit.status = S.RELEASED

    def check_at_lane(self, lane: str) -> None:
        """A window acts only on what was released to it: a later read may have moved the
        permit to another lane, whose window is then the one that has it."""
        if self.status in (S.RELEASED, S.HANDED_OVER) and self.lane != lane:
            raise ReleasedToAnotherLaneError(self.id, self.lane, lane)

    def return_to_storage(self, by: str, reason: str, at_lane: str | None = None) -> None:
        """The car left without the permit: back to its slot, still READY."""
        self.check_by(by)
        if at_lane is not None:
            self.check_at_lane(at_lane)
        self.check_status("return_to_storage", S.RELEASED)
        self._returned_to_storage(by, reason, self.lane)

    @event("ReturnedToStorage")
    def _returned_to_storage(self, by: str, reason: str, lane: str | None) -> None:
        self.lane = self.window = None
        self.visit = None
        self.status = S.READY

    def hand_over(
        self,
        handover_id: str,
        by: str,
        recipient: Recipient,
        id_checked: bool,
        channel: str,
        happened_at: datetime,
        delegate_id: str | None = None,
        at_lane: str | None = None,
        identity: IdentityCheck | None = None,
    ) -> bool:
        """Record the handover; the same ``handover_id`` again is a retry and changes nothing.

        A window hands over a RELEASED permit (released to ``at_lane``, when given); a mobile
        team a READY permit assigned to it.
        """
        if self.handover is not None and self.handover.handover_id == handover_id:
            return False
        self.check_by(by)
        if at_lane is not None:
            # Before the handed-over check: another lane's attempt is no conflict to record.
            self.check_at_lane(at_lane)
        self.check_not_handed_over()
        if channel.startswith("team:"):
            self.check_status("hand_over", S.READY, S.RELEASED)
            team = channel.removeprefix("team:")
            if self.team != team:
                raise PermitError(
                    self.id,
                    f"Izin tidak ditugaskan ke tim {team} / permit not assigned to team {team}",
                )
        else:
            self.check_status("hand_over", S.RELEASED)
        if not id_checked:
            raise IdentityNotCheckedError(self.id)
        if recipient is Recipient.DELEGATE:
            self.check_delegate(delegate_id, happened_at)
        self._handed_over(
            handover_id, by, recipient.value, channel, happened_at, delegate_id,
            identity.method.value if identity else None, identity.reason if identity else None,
        )  # fmt: skip
        return True

    def check_delegate(self, delegate_id: str | None, at: datetime) -> None:
        delegate = self.delegates.get(delegate_id or "")
        if delegate is None:
            raise DelegateNotAuthorisedError(
                self.id, "Tidak ada surat kuasa untuk penerima ini / no authorisation on record"
            )
        if at >= delegate.expires_at:
            raise DelegateNotAuthorisedError(
                self.id, "Surat kuasa kedaluwarsa / the authorisation has expired"
            )

    @event("HandedOver")
    def _handed_over(
        self,
        handover_id: str,
        by: str,
        recipient: str,
        channel: str,
        happened_at: datetime,
        delegate_id: str | None,
        identity: str | None = None,
        identity_reason: str | None = None,
    ) -> None:
        # Handovers recorded before the window's NIK check load with identity None.
        self.handover = Handover(
            handover_id, by, Recipient(recipient), channel, happened_at, delegate_id,
            identity, identity_reason,
        )  # fmt: skip
        self.status = S.HANDED_OVER

    def record_handover_conflict(
        self, handover_id: str, by: str, channel: str, reason: str, happened_at: datetime
    ) -> None:
        """Keep a refused handover attempt on the record, for the back office to resolve.

        The same attempt reported again (a resent message) is recorded once.
        """
        if handover_id in self.conflict_ids:
            return
        self._handover_conflict_recorded(handover_id, by, channel, reason, happened_at)

    @event("HandoverConflictRecorded")
    def _handover_conflict_recorded(
        self, handover_id: str, by: str, channel: str, reason: str, happened_at: datetime
    ) -> None:
        self.conflicts += 1
        self.conflict_ids.add(handover_id)

    # -- the citizen's contact --------------------------------------------------------------

    def record_contact(self, contact: Contact) -> bool:
        """Record (or change) where the citizen is notified; the same contact again is a no-op."""
        if contact == self.contact:
            return False
        if self.status.is_final:
            raise InvalidTransitionError(self.id, "record_contact", self.status.value, "not final")
        self._contact_recorded(contact.phone, contact.email, contact.lang)
        return True

    @event("ContactRecorded")
    def _contact_recorded(self, phone: str | None, email: str | None, lang: str) -> None:
        self.contact = Contact(phone, email, "en" if lang == "en" else "id")

    # -- mobile teams -----------------------------------------------------------------------

    def assign_to_team(self, by: str, team: str, date: str, place: str) -> None:
        self.check_by(by)
        self.check_status("assign_to_team", S.READY)
        if not team.strip():
            raise InvalidInputError(self.id, "Tim wajib diisi / team is required")
        self._assigned_to_team(by, team, date, place)

    @event("AssignedToTeam")
    def _assigned_to_team(self, by: str, team: str, date: str, place: str) -> None:
        self.team = team

    def unassign_from_team(self, by: str) -> None:
        self.check_by(by)
        if self.team is None:
            raise InvalidInputError(self.id, "Izin tidak ditugaskan / permit not assigned")
        self._unassigned_from_team(by, self.team)

    @event("UnassignedFromTeam")
    def _unassigned_from_team(self, by: str, team: str) -> None:
        self.team = None

    # -- personal data (UU PDP) -------------------------------------------------------------

    def erase_personal_data(self, by: str, reason: str) -> bool:
        """Record that the subject's personal data is erased (the service then deletes their
        key, `core.personal`); False when it already was."""
        self.check_by(by)
        if not reason.strip():
            raise InvalidInputError(self.id, "Alasan wajib diisi / a reason is required")
        if self.personal_data_erased:
            return False
        self._data_erased(by, reason.strip())
        return True

    @event("DataErased")
    def _data_erased(self, by: str, reason: str) -> None:
        self.applicant_name = ERASED
        self.plate = None if self.plate is None else ERASED
        self.delegates = {
            key: replace(delegate, name=ERASED) for key, delegate in self.delegates.items()
        }
        self.contact = None
        self.personal_data_erased = True

    # -- endings ----------------------------------------------------------------------------

    def cancel(self, by: str, reason: str) -> None:
        self.check_by(by)
        self.check_not_handed_over()
        if self.status.is_final:
            raise InvalidTransitionError(self.id, "cancel", self.status.value, "not final")
        self._cancelled(by, reason)

    @event("Cancelled")
    def _cancelled(self, by: str, reason: str) -> None:
        self.status = S.CANCELLED

    def due_expiry(self, now: datetime, uncollected_after: timedelta | None) -> ExpiryCause | None:
        """Which expiry is due at ``now``, if any. Only a READY permit expires: a RELEASED
        one waits at a window with its car, and the operator hands it over or returns it."""
        if self.status is not S.READY:
            return None
        if self.code_has_expired(now):
            return ExpiryCause.CODE
        until = self._collectable_until(uncollected_after)
        if until is not None and now >= until:
            return ExpiryCause.UNCOLLECTED
        return None

    def _collectable_until(self, after: timedelta | None) -> datetime | None:
        if after is None or self.ready_since is None:
            return None
        return self.ready_since + after

    def check_code_expired(self, now: datetime) -> None:
        if not self.code_has_expired(now):
            raise ExpiryNotDueError(
                self.id,
                f"Kode berlaku sampai {self.code_expires_at} / the code is valid until "
                f"{self.code_expires_at}",
            )

    def check_uncollected(self, now: datetime, after: timedelta) -> None:
        until = self._collectable_until(after)
        if until is None or now < until:
            raise ExpiryNotDueError(
                self.id, f"Masih bisa diambil sampai {until} / still collectable until {until}"
            )

    def expire_code(self, now: datetime) -> None:
        """The pickup code's time passed: it and the delegates' codes die, and the permit is
        EXPIRED until the office reissues a code."""
        self.check_status("expire_code", S.READY)
        self.check_code_expired(now)
        self._pickup_code_expired(self.code_sha256, self.code_expires_at)

    @event("PickupCodeExpired")
    def _pickup_code_expired(self, code_sha256: str | None, expires_at: datetime | None) -> None:
        self._codes_die()

    def expire_uncollected(self, now: datetime, after: timedelta) -> None:
        """Not collected within ``after`` of becoming READY: EXPIRED, as `expire`."""
        self.check_status("expire", S.READY)
        self.check_uncollected(now, after)
        days = after.days
        self._expired(f"Tidak diambil dalam {days} hari / not collected within {days} days")

    def expire(self, reason: str) -> None:
        """Not collected in time: the code dies and the document goes back to the office."""
        self.check_status("expire", S.READY)
        self._expired(reason)

    @event("Expired")
    def _expired(self, reason: str) -> None:
        self._codes_die()

    def _codes_die(self) -> None:
        dead = {d.code_sha256 for d in self.delegates.values()}
        if self.code_sha256 is not None:
            dead.add(self.code_sha256)
        self.expired_code_hashes = self.expired_code_hashes | dead
        self.status = S.EXPIRED
