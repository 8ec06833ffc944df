"""The office's list of ratings and complaints: each with its permit, its lane and what the
office did with it (`core.complaint`), filtered by lane, rating, state and day."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from uuid import UUID

from api.pages.feedback import Feedback
from api.runtime import Runtime
from core.complaint import ComplaintState
from core.errors import PermitError
from projections import queries

State = Literal["open", "answered", "closed"]
LISTED = 500


class NoFeedbackError(PermitError):
    """The permit has no rating or complaint (or is another site's)."""

    code = "feedback_not_found"
    status = 404

    def __init__(self, permit_id: UUID) -> None:
        super().__init__(
            permit_id, "Tidak ada nilai atau pengaduan untuk izin ini / no feedback for this permit"
        )


@dataclass(frozen=True, slots=True)
class ComplaintFilter:
    """Which feedback to list; None leaves a filter out. ``day`` is on the site's clock."""

    lane: str | None = None
    rating: int | None = None
    state: State | None = None
    day: date | None = None


@dataclass(frozen=True, slots=True)
class ComplaintView:
    """One rating or complaint, its permit and lane, and the office's answer."""

    permit_id: str
    number: str | None
    holder: str | None
    lane: str | None
    team: str | None
    rating: int
    complaint: str
    at: str
    office: ComplaintState


def _range(runtime: Runtime, day: date | None) -> tuple[str, str]:
    """The UTC text bounds of ``day`` on the site's clock (all kept feedback without one)."""
    if day is None:
        return "", "~"  # every ISO timestamp sorts between these
    start = datetime.combine(day, time(0), runtime.settings.zone).astimezone(UTC)
    return start.isoformat(), (start + timedelta(days=1)).isoformat()


async def listed(runtime: Runtime, chosen: ComplaintFilter) -> list[ComplaintView]:
    """The feedback that passes ``chosen``, newest first."""
    since, until = _range(runtime, chosen.day)
    given = await runtime.feedback.listed(since, until, chosen.rating, LISTED)
    desk = runtime.complaints
    conn = runtime.read_models.conn
    found = []
    for entry in given:
        row = await queries.permit(conn, entry.permit_id)
        if row is not None and row.site != runtime.settings.site:
            continue
        if chosen.lane is not None and (row is None or row.lane != chosen.lane):
            continue
        office = await asyncio.to_thread(desk.of, UUID(entry.permit_id))
        if chosen.state is not None and office.state != chosen.state:
            continue
        found.append(_view(entry, row, office))
    return found


def _view(entry: Feedback, row: queries.PermitRow | None, office: ComplaintState) -> ComplaintView:
    return ComplaintView(
        entry.permit_id, row.number if row else None, row.holder if row else None,
        row.lane if row else None, row.team if row else None, entry.rating, entry.complaint,
        entry.at, office,
    )  # fmt: skip


async def feedback_of(runtime: Runtime, permit_id: UUID) -> ComplaintView:
    """One permit's feedback with the office's answer; `NoFeedbackError` without any."""
    entry = await runtime.feedback.of(str(permit_id))
    row = await queries.permit(runtime.read_models.conn, str(permit_id))
    if entry is None or (row is not None and row.site != runtime.settings.site):
        raise NoFeedbackError(permit_id)
    office = await asyncio.to_thread(runtime.complaints.of, permit_id)
    return _view(entry, row, office)
