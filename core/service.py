"""`PermitService`: the application service every process talks to for permit changes.

Methods take and return primitives and our dataclasses. Each command runs in `PermitStore`'s
retry loop (core/service_store.py): the aggregate decides on a fresh permit and the service
saves. Intake, the back office and the permit's endings are here; pickup codes are
`CodeCommands` (core/service_codes.py), the window and the mobile teams `PickupCommands`
(core/service_pickup.py).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from core.codes import mask_nik, nik_hash
from core.contact import Contact
from core.errors import CodeRefusedError, InvalidInputError, PermitError, PermitNotFoundError
from core.identity import nik_tail_hash
from core.permit import PermitApplication
from core.plates import normalise_plate
from core.service_codes import CodeCommands
from core.service_pickup import PickupCommands
from core.service_store import MAX_ATTEMPTS, utc_now
from core.settings import StoreSettings
from core.snapshot import PermitSnapshot
from core.subject_keys import PersonalDataApplication
from core.values import ExpiryCause, permit_id_for


class PermitLog(PersonalDataApplication):
    """The permit store opened for reading its notification log only (rebuilds, tools)."""

    name = "drivethru"

    def __init__(self, store: StoreSettings) -> None:
        super().__init__(store, env=store.eventsourcing_env())


class PermitService(CodeCommands, PickupCommands):
    """Permit applications from submission to handover, on the configured event store."""

    name = "drivethru"

    # -- intake and back office -------------------------------------------------------------

    def submit(
        self,
        *,
        site: str,
        reference: str,
        kind: str,
        applicant_name: str,
        nik: str,
        plate: str | None = None,
        number: str | None = None,
        contact: Contact | None = None,
    ) -> UUID:
        """Submit an application; the same reference at the same site again returns its id.

        A ``contact`` is recorded with it, in the same save (`ContactRecorded`).
        """
        permit_id = permit_id_for(site, reference)
        try:
            self.get(permit_id)
        except PermitNotFoundError:
            pass
        else:
            return permit_id
        if not applicant_name.strip():
            raise InvalidInputError(None, "Nama pemohon wajib / applicant name is required")
        try:
            hashed_nik = nik_hash(nik, self._nik_key)
        except ValueError as error:
            raise InvalidInputError(None, str(error)) from None
        permit = PermitApplication(
            site=site,
            reference=reference,
            number=number or reference,
            kind=kind,
            applicant_name=applicant_name.strip(),
            nik_hash=hashed_nik,
            nik_masked=mask_nik(nik),
            plate=normalise_plate(plate) if plate else None,
            nik_tail_hash=nik_tail_hash(nik, self._nik_key),
        )
        if contact is not None:
            permit.record_contact(contact)
        # A concurrent submit of the same reference may win; the id is the same either way.
        with contextlib.suppress(IntegrityError):
            self.save(permit)
        return permit.id

    def record_contact(self, permit_id: UUID, contact: Contact) -> bool:
        """Record or change the citizen's contact; False when it was already that."""
        return self._change(permit_id, lambda p: p.record_contact(contact))

    def contact_of(self, permit_id: UUID) -> Contact | None:
        with self._lock(permit_id):
            return self._permit(permit_id).contact

    def verify_documents(self, permit_id: UUID, by: str) -> None:
        self._change(permit_id, lambda p: p.verify_documents(by))

    def request_correction(self, permit_id: UUID, by: str, reason: str) -> None:
        self._change(permit_id, lambda p: p.request_correction(by, reason))

    def resubmit_documents(self, permit_id: UUID, note: str) -> None:
        self._change(permit_id, lambda p: p.resubmit_documents(note))

    def assess_fee(self, permit_id: UUID, by: str, amount_rupiah: int) -> None:
        self._change(permit_id, lambda p: p.assess_fee(by, amount_rupiah))

    def record_payment(
        self, permit_id: UUID, reference: str, amount_rupiah: int, paid_at: datetime | None = None
    ) -> bool:
        """Record a payment gateway's callback; a repeated reference is a no-op (False)."""
        when = paid_at or self.clock()
        return self._change(permit_id, lambda p: p.record_payment(reference, amount_rupiah, when))

    def approve(self, permit_id: UUID, by: str) -> None:
        self._change(permit_id, lambda p: p.approve(by))

    def reject(self, permit_id: UUID, by: str, reason: str) -> None:
        self._change(permit_id, lambda p: p.reject(by, reason))

    def print_document(self, permit_id: UUID, by: str) -> None:
        self._change(permit_id, lambda p: p.print_document(by))

    # -- endings and erasure ----------------------------------------------------------------

    def cancel(self, permit_id: UUID, by: str, reason: str) -> None:
        self._change(permit_id, lambda p: p.cancel(by, reason))

    def erase_personal_data(self, permit_id: UUID, by: str, reason: str) -> bool:
        """Erase the subject's personal data: a `DataErased` event saying why, then their key
        is deleted, so every sealed field of every event about them reads `ERASED`.

        Asked again, it records nothing and deletes the key if a crash left it (False).
        """
        recorded = self._change(permit_id, lambda p: p.erase_personal_data(by, reason))
        self.subject_keys.erase(permit_id.hex)
        return recorded

    def expire(self, permit_id: UUID, reason: str) -> None:
        self._change(permit_id, lambda p: p.expire(reason))

    def expire_if_due(
        self, permit_id: UUID, uncollected_after: timedelta | None
    ) -> ExpiryCause | None:
        """Record the permit's expiry if one is due on this service's clock; None if not.

        Asked again (the next run of the expiry job, a second server), it records nothing.
        """
        now = self.clock()

        def expire(permit: PermitApplication) -> ExpiryCause | None:
            cause = permit.due_expiry(now, uncollected_after)
            if cause is ExpiryCause.CODE:
                permit.expire_code(now)
            elif cause is ExpiryCause.UNCOLLECTED and uncollected_after is not None:
                permit.expire_uncollected(now, uncollected_after)
            return cause

        return self._change(permit_id, expire)


__all__ = [
    "MAX_ATTEMPTS",
    "CodeRefusedError",
    "PermitError",
    "PermitLog",
    "PermitService",
    "PermitSnapshot",
    "utc_now",
]
