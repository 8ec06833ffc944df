"""Ratings and complaints for the office: listed, answered and closed (officers)."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api.complaints import (
    ComplaintFilter,
    ComplaintView,
    State,
    feedback_of,
    listed,
)
from api.deps import OfficerDep, RuntimeDep
from api.errors import error_responses
from core.complaint import MAX_ANSWER, ComplaintClosedError
from core.errors import DrivethruError

router = APIRouter(
    prefix="/api/complaints", tags=["complaints"], responses=error_responses(401, 403, 422, 429)
)


class ComplaintClosedConflictError(DrivethruError):
    code = "complaint_closed"
    status = 409


def _iso_day(value: object) -> object:
    """Only ``YYYY-MM-DD``: pydantic alone would take ``0`` for 1970-01-01."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("tanggal YYYY-MM-DD / a date as YYYY-MM-DD")
    return value


class ComplaintOut(BaseModel):
    permit_id: str
    number: str | None
    holder: str | None
    """Masked, as on every staff page."""
    lane: str | None
    team: str | None
    rating: int
    complaint: str
    at: str
    state: State
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None
    close_reason: str | None

    @classmethod
    def of(cls, view: ComplaintView) -> ComplaintOut:
        office = view.office
        return cls(
            permit_id=view.permit_id, number=view.number, holder=view.holder, lane=view.lane,
            team=view.team, rating=view.rating, complaint=view.complaint, at=view.at,
            state=office.state, answer=office.answer, answered_by=office.answered_by,
            answered_at=office.answered_at, closed_by=office.closed_by,
            closed_at=office.closed_at, close_reason=office.close_reason,
        )  # fmt: skip


@router.get("")
async def complaints(
    runtime: RuntimeDep,
    caller: OfficerDep,
    lane: Annotated[str | None, Query(max_length=16)] = None,
    rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    state: State | None = None,
    day: Annotated[
        date | None,
        BeforeValidator(_iso_day),
        Query(description="Hari di jam situs / the day on the site's clock (YYYY-MM-DD)"),
    ] = None,
) -> list[ComplaintOut]:
    """Ratings and complaints, newest first, with their permit, lane and answer."""
    chosen = ComplaintFilter(lane, rating, state, day)
    return [ComplaintOut.of(v) for v in await listed(runtime, chosen)]


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=MAX_ANSWER, pattern=r"\S")
    """Shown to the citizen on their status page (and sent, where notifications are on)."""


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


@router.post("/{permit_id}/answer", responses=error_responses(400, 404, 409))
async def answer(
    permit_id: UUID, body: AnswerIn, runtime: RuntimeDep, caller: OfficerDep
) -> ComplaintOut:
    """Answer a rating or complaint; an answer again replaces it (409 once closed)."""
    await feedback_of(runtime, permit_id)  # 404 without feedback
    desk = runtime.complaints
    try:
        await asyncio.to_thread(
            desk.answer, permit_id, runtime.settings.site, body.answer, caller.name
        )
    except ComplaintClosedError as closed:
        raise ComplaintClosedConflictError(closed.message) from None
    return ComplaintOut.of(await feedback_of(runtime, permit_id))


@router.post("/{permit_id}/close", responses=error_responses(400, 404, 409))
async def close(
    permit_id: UUID, body: CloseIn, runtime: RuntimeDep, caller: OfficerDep
) -> ComplaintOut:
    """Close a rating or complaint, answered or not (409 when closed already)."""
    await feedback_of(runtime, permit_id)
    desk = runtime.complaints
    try:
        await asyncio.to_thread(
            desk.close, permit_id, runtime.settings.site, caller.name, body.reason
        )
    except ComplaintClosedError as closed:
        raise ComplaintClosedConflictError(closed.message) from None
    return ComplaintOut.of(await feedback_of(runtime, permit_id))
