"""What a permit can be asked to do: each command checks its rules and records an event.

`PermitCommands` is a base of `PermitApplication` (`core/permit.py`), which holds the events
these commands record and what each changes; the rules are `PermitRules`. Commands that a
retry can repeat (a payment callback, a release for the same visit, a handover with the same
id) return quietly the second time instead of recording a second event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from core.contact import Contact
from core.errors import (
    IdentityNotCheckedError,
    InvalidInputError,
    InvalidTransitionError,
    PermitError,
)
from core.identity import IdentityCheck
from core.permit_rules import PermitRules
from core.values import PermitStatus, Recipient, ReleaseMethod

S = PermitStatus


class PermitCommands(PermitRules):
    """The permit's commands, from the back office's checks to the handover and the end."""

    # The events the commands record: `PermitApplication`'s methods of these names, which
    # mypy checks against these signatures.
    _documents_verified: Callable[[str], None]
    _correction_requested: Callable[[str, str], None]
    _documents_resubmitted: Callable[[str], None]
    _fee_assessed: Callable[[str, int], None]
    _fee_paid: Callable[[str, int, datetime], None]
    _approved: Callable[[str], None]
    _rejected: Callable[[str, str], None]
    _printed: Callable[[str], None]
    _staged: Callable[[str, str, str], None]
    _pickup_code_issued: Callable[[str, datetime, datetime | None], None]
    _pickup_code_reissued: Callable[[str, str, datetime, str, str | None, datetime | None], None]
    _delegate_authorised: Callable[[str, str, str, str, datetime, str, str | None], None]
    _released: Callable[[str, str, UUID, str, str | None], None]
    _returned_to_storage: Callable[[str, str, str | None], None]
    _handed_over: Callable[[str, str, str, str, datetime, str | None, str | None, str | None], None]
    _handover_conflict_recorded: Callable[[str, str, str, str, datetime], None]
    _contact_recorded: Callable[[str | None, str | None, str], None]
    _assigned_to_team: Callable[[str, str, str, str], None]
    _unassigned_from_team: Callable[[str, str], None]
    _data_erased: Callable[[str, str], None]
    _cancelled: Callable[[str, str], None]
    _pickup_code_expired: Callable[[str | None, datetime | None], None]
    _expired: Callable[[str], None]

    # -- back office ------------------------------------------------------------------------

    def verify_documents(self, by: str) -> None:
        self.check_by(by)
        self.check_status("verify_documents", S.SUBMITTED)
        self._documents_verified(by)

    def request_correction(self, by: str, reason: str) -> None:
        self.check_by(by)
        self.check_status("request_correction", S.SUBMITTED, S.DOCUMENTS_VERIFIED)
        if not reason.strip():
            raise InvalidInputError(self.id, "Alasan wajib diisi / a reason is required")
        self._correction_requested(by, reason)

    def resubmit_documents(self, note: str) -> None:
        self.check_status("resubmit_documents", S.CORRECTION_REQUESTED)
        self._documents_resubmitted(note)

    def assess_fee(self, by: str, amount_rupiah: int) -> None:
        self.check_by(by)
        self.check_status("assess_fee", S.DOCUMENTS_VERIFIED, S.FEE_ASSESSED)
        if amount_rupiah < 0:
            raise InvalidInputError(self.id, "Retribusi negatif / negative fee")
        self._fee_assessed(by, amount_rupiah)

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

    def approve(self, by: str) -> None:
        self.check_by(by)
        self.check_status("approve", S.FEE_PAID)
        self._approved(by)

    def reject(self, by: str, reason: str) -> None:
        self.check_by(by)
        self.check_status("reject", S.SUBMITTED, S.DOCUMENTS_VERIFIED, S.FEE_ASSESSED, S.FEE_PAID)
        if not reason.strip():
            raise InvalidInputError(self.id, "Alasan wajib diisi / a reason is required")
        self._rejected(by, reason)

    def print_document(self, by: str) -> None:
        self.check_by(by)
        self.check_status("print", S.APPROVED)
        self._printed(by)

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
        self._released(lane, window, visit, method.value, by_code)
        return True

    def return_to_storage(self, by: str, reason: str, at_lane: str | None = None) -> None:
        """The car left without the permit: back to its slot, still READY."""
        self.check_by(by)
        if at_lane is not None:
            self.check_at_lane(at_lane)
        self.check_status("return_to_storage", S.RELEASED)
        self._returned_to_storage(by, reason, self.lane)

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

    def record_handover_conflict(
        self, handover_id: str, by: str, channel: str, reason: str, happened_at: datetime
    ) -> None:
        """Keep a refused handover attempt on the record, for the back office to resolve.

        The same attempt reported again (a resent message) is recorded once.
        """
        if handover_id in self.conflict_ids:
            return
        self._handover_conflict_recorded(handover_id, by, channel, reason, happened_at)

    # -- the citizen's contact --------------------------------------------------------------

    def record_contact(self, contact: Contact) -> bool:
        """Record (or change) where the citizen is notified; the same contact again is a no-op."""
        if contact == self.contact:
            return False
        if self.status.is_final:
            raise InvalidTransitionError(self.id, "record_contact", self.status.value, "not final")
        self._contact_recorded(contact.phone, contact.email, contact.lang)
        return True

    # -- mobile teams -----------------------------------------------------------------------

    def assign_to_team(self, by: str, team: str, date: str, place: str) -> None:
        self.check_by(by)
        self.check_status("assign_to_team", S.READY)
        if not team.strip():
            raise InvalidInputError(self.id, "Tim wajib diisi / team is required")
        self._assigned_to_team(by, team, date, place)

    def unassign_from_team(self, by: str) -> None:
        self.check_by(by)
        if self.team is None:
            raise InvalidInputError(self.id, "Izin tidak ditugaskan / permit not assigned")
        self._unassigned_from_team(by, self.team)

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

    # -- endings ----------------------------------------------------------------------------

    def cancel(self, by: str, reason: str) -> None:
        self.check_by(by)
        self.check_not_handed_over()
        if self.status.is_final:
            raise InvalidTransitionError(self.id, "cancel", self.status.value, "not final")
        self._cancelled(by, reason)

    def expire_code(self, now: datetime) -> None:
        """The pickup code's time passed: it and the delegates' codes die, and the permit is
        EXPIRED until the office reissues a code."""
        self.check_status("expire_code", S.READY)
        self.check_code_expired(now)
        self._pickup_code_expired(self.code_sha256, self.code_expires_at)

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
