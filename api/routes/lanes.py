"""The lane window: the board, handovers, returns and manual arrivals, for operators."""

from __future__ import annotations

import asyncio
import uuid
from typing import Literal
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import CallerDep, OperatorDep, RuntimeDep
from api.errors import error_responses
from api.routes.applications import PermitOut
from api.security import Caller, ForbiddenError
from api.window_identity import IdentityIn, at_window, handover_identity
from core.errors import (
    AlreadyHandedOverError,
    InvalidInputError,
    PermitNotFoundError,
    ReleasedToAnotherLaneError,
)
from core.plates import correct_plate
from core.values import Recipient, ReleaseMethod
from projections import queries
from projections.arrivals import recent_arrivals

router = APIRouter(
    prefix="/api/lanes", tags=["lanes"], responses=error_responses(401, 403, 404, 422, 429)
)
WITH_BODY = error_responses(400, 409)


class HandoverIn(IdentityIn):
    """The handover after the KTP check: the NIK typed from it (or its last 6 digits), checked
    against the chosen recipient's, or an override with its reason."""

    permit_id: UUID
    handover_id: str = Field(min_length=1, max_length=64)
    """Made by the console once per button press, so a retried request is not a second handover."""
    recipient: Literal["owner", "delegate"] = "owner"
    delegate_id: str | None = None
    id_checked: bool | None = None
    """Older consoles' tick box: accepted, but not enough; ``nik`` or ``override_reason`` is."""


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    permit_id: UUID
    reason: str = Field(default="mobil pergi / car left", max_length=200)


class ManualArrivalIn(BaseModel):
    """The car's plate or the permit's number: exactly one of them."""

    model_config = ConfigDict(
        extra="forbid",
        # What `_one_of` checks, stated in the schema: one is a string, the other absent or null.
        json_schema_extra={
            "oneOf": [
                {"required": ["plate"], "properties": {"plate": {"type": "string"},
                                                       "number": {"type": "null"}}},
                {"required": ["number"], "properties": {"number": {"type": "string"},
                                                        "plate": {"type": "null"}}},
            ]
        },
    )  # fmt: skip

    plate: str | None = Field(default=None, max_length=16)
    number: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_of(self) -> ManualArrivalIn:
        if (self.plate is None) == (self.number is None):
            raise ValueError("isi plate atau number / give plate or number")
        return self


class UnknownLaneError(InvalidInputError):
    code = "unknown_lane"
    status = 404

    def __init__(self, lane: str) -> None:
        super().__init__(None, f"Jalur {lane} tidak ada / no lane {lane}")


def _check_lane(runtime_lanes: list[str], caller: Caller, lane: str) -> None:
    if lane not in runtime_lanes:
        raise UnknownLaneError(lane)
    if caller.role in ("officer",):
        return
    if not caller.may_work_lane(lane):
        raise ForbiddenError(
            f"Operator {caller.name} tidak bertugas di jalur {lane} / not assigned to lane {lane}"
        )


def _at_another_lane(caller: Caller, refused: ReleasedToAnotherLaneError) -> Exception:
    """403 when the permit waits at a lane the caller does not work, else 409 (wrong window)."""
    if refused.lane is not None and caller.may_work_lane(refused.lane):
        return refused
    return ForbiddenError(refused.message)


@router.get("/{lane}/board")
async def board(lane: str, runtime: RuntimeDep, caller: CallerDep) -> dict[str, object]:
    """What the window needs now: permits released to this lane and the cars seen lately."""
    _check_lane([x.lane for x in runtime.settings.lanes], caller, lane)
    conn = runtime.read_models.conn
    released = [
        row for row in await queries.permits_by_status(conn, runtime.settings.site, "released")
        if row.lane == lane
    ]  # fmt: skip
    waiting = await queries.site_counts(conn, runtime.settings.site)
    return {
        "lane": lane,
        "window": runtime.settings.window_of(lane),
        "released": [
            {
                "id": r.id,
                "number": r.number,
                "holder": r.holder,
                "plate": r.plate,
                "slot": r.slot,
                "visit": r.visit,
                "released_at": r.released_at,
            }
            for r in released
        ],
        # From the read models: the arrivals every replica decided (projections/arrivals.py).
        "recent_arrivals": await recent_arrivals(
            conn, runtime.settings.site, lane, runtime.settings.window_of(lane)
        ),
        "ready_at_site": waiting.get("ready", 0),
    }


@router.post("/{lane}/handover", responses=WITH_BODY)
def hand_over(lane: str, body: HandoverIn, runtime: RuntimeDep, caller: OperatorDep) -> PermitOut:
    """Record the handover after the KTP check; a second one for the permit is a conflict."""
    _check_lane([x.lane for x in runtime.settings.lanes], caller, lane)
    recipient = Recipient(body.recipient)
    try:
        at_window(runtime.service, body.permit_id, lane)
        identity = handover_identity(
            runtime.service, runtime.limiter, lane=lane, permit_id=body.permit_id,
            recipient=recipient, delegate_id=body.delegate_id, given=body,
        )  # fmt: skip
        runtime.service.hand_over(
            body.permit_id, handover_id=body.handover_id, by=caller.name,
            recipient=recipient, id_checked=True, channel=f"lane:{lane}",
            delegate_id=body.delegate_id, at_lane=lane, identity=identity,
        )  # fmt: skip
    except AlreadyHandedOverError:
        runtime.metrics.conflict()
        raise
    except ReleasedToAnotherLaneError as refused:
        raise _at_another_lane(caller, refused) from None
    runtime.metrics.handover()
    return PermitOut.of(runtime.service.get(body.permit_id))


@router.post("/{lane}/return", responses=WITH_BODY)
def return_to_storage(
    lane: str, body: ReturnIn, runtime: RuntimeDep, caller: OperatorDep
) -> PermitOut:
    _check_lane([x.lane for x in runtime.settings.lanes], caller, lane)
    try:
        runtime.service.return_to_storage(body.permit_id, caller.name, body.reason, at_lane=lane)
    except ReleasedToAnotherLaneError as refused:
        raise _at_another_lane(caller, refused) from None
    return PermitOut.of(runtime.service.get(body.permit_id))


@router.post("/{lane}/arrivals", responses=WITH_BODY)
async def manual_arrival(
    lane: str, body: ManualArrivalIn, runtime: RuntimeDep, caller: OperatorDep
) -> dict[str, object]:
    """The camera failed: the operator names the car's plate or the permit number."""
    _check_lane([x.lane for x in runtime.settings.lanes], caller, lane)
    conn = runtime.read_models.conn
    site = runtime.settings.site
    if body.number is not None:
        row = await queries.permit_by_number(conn, body.number)
        if row is None or row.site != site:
            raise PermitNotFoundError(uuid.UUID(int=0))
        candidates = [row]
    else:
        fixed = correct_plate(body.plate or "")
        kind, candidates = await queries.match_ready_plate(
            conn, site, fixed.text if fixed else (body.plate or "")
        )
        if kind == "ambiguous" or not candidates:
            return {"outcome": kind if candidates else "no_match", "permits": []}
    visit = uuid.uuid4()
    window = runtime.settings.window_of(lane) or "1"
    released = []
    for row in candidates:
        await asyncio.to_thread(
            runtime.service.release,
            UUID(row.id), lane=lane, window=window, visit=visit, method=ReleaseMethod.MANUAL,
        )  # fmt: skip
        released.append(row.id)
    # The consoles hear of it from the log, on every replica (projections/arrivals.py).
    return {"outcome": "released", "permits": released, "visit": str(visit)}


class EventStream(StreamingResponse):
    """Server-Sent Events, so the OpenAPI document names the media type the route sends."""

    media_type = "text/event-stream"


@router.get(
    "/{lane}/events",
    response_model=None,
    # Not response_class: the errors of this route are JSON like everywhere else.
    responses={200: {"description": "Server-Sent Events", "content": {"text/event-stream": {}}}},
)
async def events(lane: str, runtime: RuntimeDep, caller: CallerDep) -> EventStream:
    """Server-Sent Events for the lane console: arrivals, releases, changes."""
    _check_lane([x.lane for x in runtime.settings.lanes], caller, lane)
    return EventStream(
        runtime.broadcaster.stream(frozenset({lane})),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
