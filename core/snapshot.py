"""`PermitSnapshot`: what a caller may know about a permit at one moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from core.permit import PermitApplication
from core.values import PermitStatus


@dataclass(frozen=True, slots=True)
class PermitSnapshot:
    """What a caller may know about a permit at one moment."""

    id: UUID
    version: int
    site: str
    reference: str
    number: str
    kind: str
    applicant_name: str
    plate: str | None
    status: PermitStatus
    fee_rupiah: int | None
    paid_at: datetime | None
    slot: str | None
    code_sha256: str | None
    code_expires_at: datetime | None
    lane: str | None
    window: str | None
    visit: UUID | None
    team: str | None
    handed_over_by: str | None
    handover_id: str | None
    conflicts: int

    @classmethod
    def of(cls, permit: PermitApplication) -> PermitSnapshot:
        handover = permit.handover
        return cls(
            id=permit.id,
            version=permit.version,
            site=permit.site,
            reference=permit.reference,
            number=permit.number,
            kind=permit.kind,
            applicant_name=permit.applicant_name,
            plate=permit.plate,
            status=permit.status,
            fee_rupiah=permit.fee_rupiah,
            paid_at=permit.paid_at,
            slot=permit.slot,
            code_sha256=permit.code_sha256,
            code_expires_at=permit.code_expires_at,
            lane=permit.lane,
            window=permit.window,
            visit=permit.visit,
            team=permit.team,
            handed_over_by=handover.by if handover else None,
            handover_id=handover.handover_id if handover else None,
            conflicts=permit.conflicts,
        )
