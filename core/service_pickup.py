"""Pickup: a permit released to a lane's window or assigned to a mobile team, the
holder's identity checked, and the handover recorded exactly once whatever the races.

A handover that loses such a race is refused and kept on the permit as a conflict.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from uuid import UUID

from core.codes import nik_hash
from core.errors import AlreadyHandedOverError
from core.identity import IdentityCheck, Verdict, known_hashes, verdict
from core.service_store import PermitStore
from core.values import Recipient, ReleaseMethod


class PickupCommands(PermitStore):
    """The commands of the window and of the mobile teams."""

    def check_nik(self, permit_id: UUID, nik: str, delegate_id: str | None = None) -> bool:
        """Whether ``nik`` is the holder's (or the named delegate's), without storing it."""
        try:
            hashed = nik_hash(nik, self._nik_key)
        except ValueError:
            return False
        with self._lock(permit_id):
            permit = self._permit(permit_id)
            if delegate_id is None:
                return hmac.compare_digest(hashed, permit.nik_hash)
            delegate = permit.delegates.get(delegate_id)
            return delegate is not None and hmac.compare_digest(delegate.nik_hash, hashed)

    def check_identity(
        self, permit_id: UUID, presented: str, delegate_id: str | None = None
    ) -> Verdict:
        """Whether ``presented`` (a whole NIK or its last 6 digits) is the holder's or the
        named delegate's: `core.identity.verdict`. An unknown delegate is a mismatch."""
        with self._lock(permit_id):
            known = known_hashes(self._permit(permit_id), delegate_id)
        return Verdict.MISMATCH if known is None else verdict(presented, known, self._nik_key)

    def release(
        self,
        permit_id: UUID,
        *,
        lane: str,
        window: str,
        visit: UUID,
        method: ReleaseMethod,
        code_sha256: str | None = None,
    ) -> bool:
        """Release a READY permit to a lane's window; False if this visit already has it."""
        return self._change(
            permit_id, lambda p: p.release(lane, window, visit, method, code_sha256)
        )

    def return_to_storage(
        self, permit_id: UUID, by: str, reason: str, *, at_lane: str | None = None
    ) -> None:
        """Back to its slot; with ``at_lane``, only if it was released to that lane."""
        self._change(permit_id, lambda p: p.return_to_storage(by, reason, at_lane))

    def hand_over(
        self,
        permit_id: UUID,
        *,
        handover_id: str,
        by: str,
        recipient: Recipient,
        id_checked: bool,
        channel: str,
        happened_at: datetime | None = None,
        delegate_id: str | None = None,
        at_lane: str | None = None,
        identity: IdentityCheck | None = None,
    ) -> bool:
        """Record the handover, exactly once whatever the races; False for a retry.

        A handover refused because the permit went to someone else first is kept on the
        permit as a conflict before `AlreadyHandedOverError` is raised. With ``at_lane``
        (a window's handover) the permit must have been released to that lane.
        """
        when = happened_at or self.clock()
        try:
            return self._change(
                permit_id,
                lambda p: p.hand_over(
                    handover_id,
                    by,
                    recipient,
                    id_checked,
                    channel,
                    when,
                    delegate_id,
                    at_lane,
                    identity,
                ),
            )
        except AlreadyHandedOverError as refused:
            reason = f"already handed over by {refused.by} ({refused.handover_id})"
            self._change(
                permit_id,
                lambda p: p.record_handover_conflict(handover_id, by, channel, reason, when),
            )
            raise

    def record_conflict(
        self,
        permit_id: UUID,
        *,
        handover_id: str,
        by: str,
        channel: str,
        reason: str,
        happened_at: datetime,
    ) -> None:
        """Keep a refused handover on the permit for the back office to resolve."""
        self._change(
            permit_id,
            lambda p: p.record_handover_conflict(handover_id, by, channel, reason, happened_at),
        )

    # -- mobile teams -----------------------------------------------------------------------

    def assign_to_team(self, permit_id: UUID, by: str, team: str, date: str, place: str) -> None:
        self._change(permit_id, lambda p: p.assign_to_team(by, team, date, place))

    def unassign_from_team(self, permit_id: UUID, by: str) -> None:
        self._change(permit_id, lambda p: p.unassign_from_team(by))
