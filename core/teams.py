"""Handovers that mobile teams (RIBON style) made in the field, often hours before sending.

Each handover message is applied to its permit with the time it really happened. What can
no longer be applied — the permit went through a window meanwhile, another team handed it
over, its code was reissued, the assignment was withdrawn — is kept on the permit as a
conflict for the back office, never dropped. A message sent again is a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from core.contract import TeamHandover
from core.errors import AlreadyHandedOverError, PermitError, PermitNotFoundError
from core.service import PermitService
from core.values import Recipient

# How far ahead of the server's clock a device's clock may run before its times are not
# believed: phones keep time by the network within seconds; minutes are a clock left unset.
CLOCK_AHEAD_TOLERANCE = timedelta(minutes=5)
# The same for a clock behind: a handover dated this much before its permit's fee was paid
# (and so before it was printed) happened on a clock reset to its factory date, not then.
CLOCK_BEHIND_TOLERANCE = CLOCK_AHEAD_TOLERANCE


class TeamOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class TeamDecision:
    handover_id: UUID
    permit_id: str
    outcome: TeamOutcome
    reason: str | None


class TeamDesk:
    """Applies team handovers exactly once; refusals become recorded conflicts."""

    def __init__(self, service: PermitService) -> None:
        self.service = service

    def apply(self, handover: TeamHandover) -> TeamDecision:
        handover_id = str(handover.id)
        channel = f"team:{handover.team}"
        try:
            permit_id = UUID(handover.permit_id)
            permit = self.service.get(permit_id)
        except (ValueError, PermitNotFoundError):
            return self._decision(
                handover, TeamOutcome.REJECTED, "izin tidak dikenal / unknown permit"
            )
        if permit.handover_id == handover_id:
            return self._decision(handover, TeamOutcome.DUPLICATE, None)
        happened_at, clock_note = self._when(handover, permit.paid_at)
        reason = self._code_problem(permit_id, handover)
        if reason is None:
            try:
                self.service.hand_over(
                    permit_id, handover_id=handover_id, by=handover.by,
                    recipient=Recipient(handover.recipient), id_checked=handover.id_checked,
                    channel=channel, happened_at=happened_at,
                    delegate_id=handover.delegate_id,
                )  # fmt: skip
            except AlreadyHandedOverError as refused:
                # The service has already recorded the conflict on the permit.
                return self._decision(handover, TeamOutcome.CONFLICT, refused.message)
            except PermitError as refused:
                reason = refused.message
            else:
                return self._decision(handover, TeamOutcome.APPLIED, clock_note)
        self.service.record_conflict(
            permit_id, handover_id=handover_id, by=handover.by, channel=channel,
            reason=reason, happened_at=happened_at,
        )  # fmt: skip
        return self._decision(handover, TeamOutcome.CONFLICT, reason)

    def _when(
        self, handover: TeamHandover, paid_at: datetime | None
    ) -> tuple[datetime, str | None]:
        """When the handover happened, as far as the server can tell, and a note if the
        device's clock could not be taken at its word.

        A field tablet's clock may run ahead or behind (a flat battery resets it to its
        factory date, or it was never set): a handover dated later than now, or before its
        permit's fee was even paid, did not happen then. It is recorded at the server's time,
        and the device is told. Any other time in the past is believed: teams send hours
        late, and an office may record a team's assignment after the handover it covers.
        """
        now = self.service.clock()
        claimed = handover.happened_at
        if claimed > now + CLOCK_AHEAD_TOLERANCE:
            way = ("di depan", "ahead")
        elif paid_at is not None and claimed < paid_at - CLOCK_BEHIND_TOLERANCE:
            way = ("di belakang", "behind")
        else:
            return claimed, None
        return now, (
            f"jam perangkat {way[0]} ({claimed.isoformat()}); dicatat pada waktu server / "
            f"device clock {way[1]}; recorded at the server's time"
        )

    def _code_problem(self, permit_id: UUID, handover: TeamHandover) -> str | None:
        """A handover made on a code that was reissued meanwhile is a conflict."""
        if handover.code_sha256 is None:
            return None
        permit = self.service.peek(permit_id)
        if handover.code_sha256 in permit.retired_code_hashes:
            return "kode sudah diganti / the code was reissued meanwhile"
        return None

    @staticmethod
    def _decision(handover: TeamHandover, outcome: TeamOutcome, reason: str | None) -> TeamDecision:
        return TeamDecision(handover.id, handover.permit_id, outcome, reason)
