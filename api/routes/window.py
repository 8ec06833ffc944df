"""What the cameras saw, for the window and the runner: the candidate permits a plate left
open, the operator's pick among them, and the "fetch now" list of pre-staged permits.

A plate read that is ambiguous (several READY plates as near) or only near does not release;
the console lists the candidates (masked holder, plate, slot), the operator checks the KTP
and picks one (`core.window.pick_candidate`: an event on the car's visit, saved with the
release). A plate the entry camera recognised pre-stages its permits: they are listed for
the runner, with their slots, before the car reaches the window.

The arrivals come from the lane's recent arrivals in the read models (projections/arrivals.py),
so every replica lists what any of them decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import aiosqlite
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import OfficeOrLaneDep, OperatorDep, RuntimeDep
from api.errors import error_responses
from api.routes.applications import PermitOut
from api.routes.lanes import _at_another_lane, _check_lane
from api.runtime import Runtime
from api.security import Caller
from api.window_identity import IdentityIn, pick_identity
from core.errors import ReleasedToAnotherLaneError
from core.plates import match_plate
from core.window import pick_candidate
from projections import queries
from projections.arrivals import recent_arrivals
from projections.lane_visits import cars_in_lanes
from projections.queries import PermitRow

router = APIRouter(
    prefix="/api/lanes", tags=["lanes"], responses=error_responses(401, 403, 404, 422, 429)
)
MAX_CANDIDATES = 8
OPEN_OUTCOMES = ("ambiguous", "prestaged")
"""An arrival with one of these outcomes released nothing: the operator decides."""


class CandidateOut(BaseModel):
    """A permit the plate may be: what the window may see of it."""

    id: str
    number: str
    holder: str
    """Masked: ``I W**** S******``."""
    plate: str | None
    slot: str | None
    status: str

    @classmethod
    def of(cls, row: PermitRow) -> CandidateOut:
        return cls(
            id=row.id, number=row.number, holder=row.holder, plate=row.plate, slot=row.slot,
            status=row.status,
        )  # fmt: skip


class CandidatesOut(BaseModel):
    lane: str
    plate: str | None
    """The plate as read (or as asked)."""
    match: str | None
    """How it matched the READY plates: exact, near, ambiguous or none."""
    outcome: str | None
    """The arrival's outcome, when the candidates are for the lane's latest arrival."""
    visit: str | None
    candidates: list[CandidateOut]


class PickIn(IdentityIn):
    """The operator's pick after the KTP check: ``nik`` (whole or last 6) or an override."""

    permit_id: UUID
    visit: UUID | None = None
    """The car's visit (from the arrival); none for the operator's own lookup."""
    candidates: list[UUID] = Field(default_factory=list)
    """The permits the operator chose among, as shown; kept on the event."""


class PickOut(BaseModel):
    visit: str
    released: bool
    recipient: str | None
    """Whose NIK matched: ``owner`` or ``delegate`` (None after an override)."""
    delegate_id: str | None
    permit: PermitOut


class FetchItem(BaseModel):
    lane: str
    window: str | None
    visit: str | None
    read_plate: str | None
    id: str
    number: str
    holder: str
    plate: str | None
    slot: str | None


class FetchNowOut(BaseModel):
    permits: list[FetchItem]


def _lanes(runtime: Runtime) -> list[str]:
    return [x.lane for x in runtime.settings.lanes]


async def _rows(conn: aiosqlite.Connection, ids: Iterable[str]) -> list[PermitRow]:
    found = []
    for permit_id in dict.fromkeys(ids):
        row = await queries.permit(conn, permit_id)
        if row is not None:
            found.append(row)
    return found


async def plate_candidates(
    conn: aiosqlite.Connection, site: str, read: str
) -> tuple[str, list[PermitRow]]:
    """The READY permits whose plates are near ``read``, nearest first, and the match kind."""
    waiting = [r for r in await queries.ready_permits(conn, site) if r.status == "ready"]
    found = match_plate(read, {r.plate for r in waiting if r.plate})
    order = {plate: i for i, plate in enumerate(found.candidates)}
    rows = sorted((r for r in waiting if r.plate in order), key=lambda r: order[r.plate or ""])
    return found.kind.value, rows[:MAX_CANDIDATES]


async def _recent(runtime: Runtime, lane: str) -> list[dict[str, Any]]:
    """The lane's latest arrivals, newest first, whichever replica decided them."""
    return await recent_arrivals(
        runtime.read_models.conn, runtime.settings.site, lane, runtime.settings.window_of(lane)
    )


async def _latest_open(runtime: Runtime, lane: str) -> dict[str, Any] | None:
    """The lane's latest arrival, if it left the operator to decide."""
    for arrival in await _recent(runtime, lane):
        return arrival if arrival.get("outcome") in OPEN_OUTCOMES else None
    return None


@router.get("/{lane}/candidates")
async def candidates(
    lane: str,
    runtime: RuntimeDep,
    caller: OperatorDep,
    plate: str | None = Query(default=None, max_length=16),
) -> CandidatesOut:
    """The permits a plate may be: for ``plate``, or for the lane's latest arrival when it
    was ambiguous or only pre-staged (empty when the latest arrival released)."""
    _check_lane(_lanes(runtime), caller, lane)
    conn, site = runtime.read_models.conn, runtime.settings.site
    arrival = None if plate is not None else await _latest_open(runtime, lane)
    read = plate if plate is not None else (arrival or {}).get("plate")
    kind, rows = await plate_candidates(conn, site, read) if read else (None, [])
    if arrival is not None:  # a code's pre-staged permit, whatever the plate read
        shown = {r.id for r in rows}
        extra = [r for r in await _rows(conn, arrival.get("permits") or []) if r.id not in shown]
        rows += [r for r in extra if r.status == "ready"]
    return CandidatesOut(
        lane=lane, plate=read, match=kind,
        outcome=arrival.get("outcome") if arrival else None,
        visit=arrival.get("visit") if arrival else None,
        candidates=[CandidateOut.of(r) for r in rows[:MAX_CANDIDATES]],
    )  # fmt: skip


@router.post("/{lane}/pick", responses=error_responses(400, 409))
def pick(lane: str, body: PickIn, runtime: RuntimeDep, caller: OperatorDep) -> PickOut:
    """Pick one of the candidates after the KTP check: recorded on the car's visit, and the
    permit is released to this window. A NIK that is neither the holder's nor a delegate's
    is refused (409) and counted against guessing (429)."""
    _check_lane(_lanes(runtime), caller, lane)
    service = runtime.service
    identity, who = pick_identity(
        service, runtime.limiter, lane=lane, permit_id=body.permit_id, given=body
    )
    try:
        done = pick_candidate(
            service, site=runtime.settings.site, lane=lane,
            window=runtime.settings.window_of(lane) or "1", visit=body.visit,
            permit_id=body.permit_id,
            candidates=[str(c) for c in body.candidates] or [str(body.permit_id)],
            by=caller.name, identity=identity,
        )  # fmt: skip
    except ReleasedToAnotherLaneError as refused:
        raise _at_another_lane(caller, refused) from None
    return PickOut(
        visit=str(done.visit), released=done.released,
        recipient=who.recipient.value if who.recipient else None, delegate_id=who.delegate_id,
        permit=PermitOut.of(service.get(body.permit_id)),
    )  # fmt: skip


async def fetch_now_for(runtime: Runtime, lanes: Iterable[str]) -> list[FetchItem]:
    """Permits the lanes' cameras pre-staged that still wait in their slots, newest first,
    while their car is in the lane (not seen leaving, and there for an hour at most)."""
    conn = runtime.read_models.conn
    in_lane = await cars_in_lanes(conn, runtime.settings.site, runtime.service.clock())
    items: list[FetchItem] = []
    seen: set[str] = set()
    for lane in lanes:
        for arrival in await _recent(runtime, lane):
            if arrival.get("outcome") != "prestaged" or (lane, arrival.get("visit")) not in in_lane:
                continue
            for row in await _rows(conn, arrival.get("permits") or []):
                if row.id in seen or row.status != "ready":
                    continue
                seen.add(row.id)
                items.append(
                    FetchItem(
                        lane=lane,
                        window=runtime.settings.window_of(lane),
                        visit=arrival.get("visit"),
                        read_plate=arrival.get("plate"),
                        id=row.id,
                        number=row.number,
                        holder=row.holder,
                        plate=row.plate,
                        slot=row.slot,
                    )
                )
    return items


def _visible_lanes(runtime: Runtime, caller: Caller) -> list[str]:
    if caller.role == "operator":
        return [lane for lane in _lanes(runtime) if caller.may_work_lane(lane)]
    return _lanes(runtime)


@router.get("/fetch-now")
async def fetch_now_all(runtime: RuntimeDep, caller: OfficeOrLaneDep) -> FetchNowOut:
    """The runner's list: pre-staged permits to fetch, at every lane the caller may see."""
    return FetchNowOut(permits=await fetch_now_for(runtime, _visible_lanes(runtime, caller)))


@router.get("/{lane}/fetch-now")
async def fetch_now(lane: str, runtime: RuntimeDep, caller: OfficeOrLaneDep) -> FetchNowOut:
    """Pre-staged permits to fetch for one lane, before the car reaches its window."""
    _check_lane(_lanes(runtime), caller, lane)
    return FetchNowOut(permits=await fetch_now_for(runtime, [lane]))
