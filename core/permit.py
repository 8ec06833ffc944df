"""The permit application aggregate: its state, and the events that change it.

Every event of the permit is defined here, on `PermitApplication`, and is stored under
``core.permit:PermitApplication.<name>``: stores already hold those topics, so the events
stay on this class (tests/integration/test_stored_topics.py). The commands that record them
are `PermitCommands` (`core/permit_commands.py`), their rules `PermitRules`
(`core/permit_rules.py`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import cast
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.contact import Contact
from core.permit_commands import PermitCommands
from core.permit_rules import CODE_EXPIRED
from core.personal import ERASED
from core.values import Delegate, Handover, PermitStatus, Recipient, permit_id_for

S = PermitStatus


class PermitApplication(PermitCommands, Aggregate):
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
    """The code hash that released it to the window, if a code did (whose: `core.identity`)."""
    personal_data_erased: bool = False

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

    # -- back office ------------------------------------------------------------------------

    @event("DocumentsVerified")
    def _documents_verified(self, by: str) -> None:
        self.status = S.DOCUMENTS_VERIFIED

    @event("CorrectionRequested")
    def _correction_requested(self, by: str, reason: str) -> None:
        self.status = S.CORRECTION_REQUESTED

    @event("DocumentsResubmitted")
    def _documents_resubmitted(self, note: str) -> None:
        self.status = S.SUBMITTED

    @event("FeeAssessed")
    def _fee_assessed(self, by: str, amount_rupiah: int) -> None:
        self.fee_rupiah = amount_rupiah
        # A permit without retribusi has nothing to pay.
        self.status = S.FEE_PAID if amount_rupiah == 0 else S.FEE_ASSESSED

    @event("FeePaid")
    def _fee_paid(self, reference: str, amount_rupiah: int, paid_at: datetime) -> None:
        self.payment_reference = reference
        self.paid_at = paid_at
        self.status = S.FEE_PAID

    @event("Approved")
    def _approved(self, by: str) -> None:
        self.status = S.APPROVED

    @event("Rejected")
    def _rejected(self, by: str, reason: str) -> None:
        self.status = S.REJECTED

    @event("Printed")
    def _printed(self, by: str) -> None:
        self.status = S.PRINTED

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

    def _released(
        self, lane: str, window: str, visit: UUID, method: str, by_code: str | None
    ) -> None:
        """Record `Released` (the command is `release`)."""
        self.trigger_event(
            self.Released, lane=lane, window=window, visit=visit, method=method, by_code=by_code
        )

    @event("ReturnedToStorage")
    def _returned_to_storage(self, by: str, reason: str, lane: str | None) -> None:
        self.lane = self.window = None
        self.visit = None
        self.status = S.READY

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

    @event("HandoverConflictRecorded")
    def _handover_conflict_recorded(
        self, handover_id: str, by: str, channel: str, reason: str, happened_at: datetime
    ) -> None:
        self.conflicts += 1
        self.conflict_ids.add(handover_id)

    # -- the citizen's contact --------------------------------------------------------------

    @event("ContactRecorded")
    def _contact_recorded(self, phone: str | None, email: str | None, lang: str) -> None:
        self.contact = Contact(phone, email, "en" if lang == "en" else "id")

    # -- mobile teams -----------------------------------------------------------------------

    @event("AssignedToTeam")
    def _assigned_to_team(self, by: str, team: str, date: str, place: str) -> None:
        self.team = team

    @event("UnassignedFromTeam")
    def _unassigned_from_team(self, by: str, team: str) -> None:
        self.team = None

    # -- personal data (UU PDP) -------------------------------------------------------------

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

    @event("Cancelled")
    def _cancelled(self, by: str, reason: str) -> None:
        self.status = S.CANCELLED

    @event("PickupCodeExpired")
    def _pickup_code_expired(self, code_sha256: str | None, expires_at: datetime | None) -> None:
        self._codes_die()

    @event("Expired")
    def _expired(self, reason: str) -> None:
        self._codes_die()

    def _codes_die(self) -> None:
        dead = {d.code_sha256 for d in self.delegates.values()}
        if self.code_sha256 is not None:
            dead.add(self.code_sha256)
        self.expired_code_hashes = self.expired_code_hashes | dead
        self.status = S.EXPIRED


__all__ = ["CODE_EXPIRED", "PermitApplication"]
