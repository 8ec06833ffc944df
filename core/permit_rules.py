"""The rules a permit's commands check, and what its state says at a given moment.

`PermitRules` is a base of `PermitApplication` (`core/permit.py`): it only reads the permit's
state, set by the aggregate's events, and raises from the `PermitError` tree. Nothing here
records an event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from core.contact import Contact
from core.errors import (
    AlreadyHandedOverError,
    CodeRefusedError,
    DelegateNotAuthorisedError,
    ExpiryNotDueError,
    InvalidInputError,
    InvalidTransitionError,
    ReleasedToAnotherLaneError,
)
from core.values import CodeHolder, Delegate, ExpiryCause, Handover, PermitStatus, Recipient

S = PermitStatus
CODE_EXPIRED = (
    "Kode kedaluwarsa, minta kode baru ke petugas / code expired, ask an officer for a new one"
)


class PermitRules:
    """The permit's state as its commands read it, and the rules they check."""

    # Set by the events of `PermitApplication`, which declares them.
    id: UUID
    site: str
    status: PermitStatus
    fee_rupiah: int | None
    payment_reference: str | None
    code_sha256: str | None
    code_expires_at: datetime | None
    ready_since: datetime | None
    retired_code_hashes: set[str]
    expired_code_hashes: frozenset[str]
    delegates: dict[str, Delegate]
    lane: str | None
    window: str | None
    visit: UUID | None
    team: str | None
    handover: Handover | None
    conflicts: int
    conflict_ids: set[str]
    contact: Contact | None
    personal_data_erased: bool

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

    def check_expiry_ahead(self, expires_at: datetime, now: datetime | None) -> None:
        if now is not None and expires_at <= now:
            raise InvalidInputError(
                self.id, "Masa berlaku kode sudah lewat / the code's expiry is in the past"
            )

    def check_at_lane(self, lane: str) -> None:
        """A window acts only on what was released to it: a later read may have moved the
        permit to another lane, whose window is then the one that has it."""
        if self.status in (S.RELEASED, S.HANDED_OVER) and self.lane != lane:
            raise ReleasedToAnotherLaneError(self.id, self.lane, lane)

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
