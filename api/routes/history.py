"""The audit trail of a permit for the back office: its events with who did what, and the
state after each (api/history.py says which clock counts)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import OfficerDep, RuntimeDep
from api.errors import error_responses
from api.history import CLOCK, AtQuery, PermitEvent, events_until, permit_events
from api.pages.labels import EVENTS
from api.routes.applications import PermitOut

router = APIRouter(
    prefix="/api/applications", tags=["applications"], responses=error_responses(401, 403, 422, 429)
)

Detail = str | int | float | bool | None


class PermitEventOut(BaseModel):
    """One event: what happened, when, who did it, and the permit as it stood after it."""

    version: int
    event: str
    label_id: str
    label_en: str
    at: datetime
    """The moment that counts: ``happened_at`` when the event has one, else ``recorded_at``."""
    recorded_at: datetime
    happened_at: datetime | None
    by: str | None
    lane: str | None
    details: dict[str, Detail]
    state: PermitOut

    @classmethod
    def of(cls, event: PermitEvent) -> PermitEventOut:
        label_id, label_en = EVENTS.get(event.name, (event.name, event.name))
        details: dict[str, Detail] = {}
        for name, value in event.details.items():
            details[name] = value if isinstance(value, (str, int, float, bool)) else None
        return cls(
            version=event.version, event=event.name, label_id=label_id, label_en=label_en,
            at=event.at, recorded_at=event.recorded_at, happened_at=event.happened_at,
            by=event.by, lane=event.lane, details=details, state=PermitOut.of(event.state),
        )  # fmt: skip


class PermitHistoryOut(BaseModel):
    """A permit's events, oldest first, up to ``at`` when one was asked for."""

    id: UUID
    number: str
    clock: str
    at: datetime | None
    events: list[PermitEventOut]


@router.get("/{permit_id}/events", responses=error_responses(404))
def events(
    permit_id: UUID, runtime: RuntimeDep, _caller: OfficerDep, at: AtQuery = None
) -> PermitHistoryOut:
    """The permit's events with who did what and the state after each (its audit trail)."""
    trail = permit_events(runtime.service, permit_id)
    if at is not None:
        trail = events_until(trail, at)
    return PermitHistoryOut(
        id=permit_id,
        number=trail[-1].state.number,
        clock=CLOCK,
        at=at,
        events=[PermitEventOut.of(event) for event in trail],
    )
