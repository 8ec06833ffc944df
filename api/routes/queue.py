"""The lanes' queues and waits, and the citizen's "I'm here" by pickup code (no sign-in)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import RuntimeDep
from api.errors import error_responses
from api.here import HereArrival, arrive_here
from api.rate_limit import Rule, client_address
from api.routes.citizen import CODE_PATTERN
from api.runtime import Runtime
from projections.lane_queue import LaneQueue, lane_queues

router = APIRouter(tags=["citizen"])


class LaneQueueOut(BaseModel):
    lane: str
    cars: int
    """Cars in the lane now: visits released to its window and not yet gone."""
    served_last_hour: int
    median_service_seconds: float | None
    """Median from release to handover of the cars served in the last hour."""
    eta_seconds: int
    """The wait of a car joining now, for its turn at the window."""
    eta_minutes: int

    @classmethod
    def of(cls, queue: LaneQueue) -> LaneQueueOut:
        return cls(**asdict(queue), eta_minutes=queue.eta_minutes)


async def queues_now(runtime: Runtime) -> dict[str, LaneQueue]:
    """Every lane's queue at this site, on the service's clock."""
    settings = runtime.settings
    return await lane_queues(
        runtime.read_models.conn,
        settings.site,
        [lane.lane for lane in settings.lanes],
        runtime.service.clock(),
    )


@router.get("/api/queue")
async def queue(runtime: RuntimeDep) -> list[LaneQueueOut]:
    """Each lane's cars now, the last hour's median service time and the wait it makes."""
    return [LaneQueueOut.of(q) for q in (await queues_now(runtime)).values()]


class HereIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(max_length=64, json_schema_extra={"pattern": CODE_PATTERN})]
    """The pickup code the citizen holds (the owner's or a delegate's)."""


class HereOut(BaseModel):
    outcome: str = "released"
    permit_id: str
    lane: str
    window: str
    visit: str

    @classmethod
    def of(cls, arrival: HereArrival) -> HereOut:
        return cls(**asdict(arrival))


@router.post("/api/lanes/{lane}/here", responses=error_responses(400, 403, 404, 409, 429))
async def here(lane: str, body: HereIn, request: Request, runtime: RuntimeDep) -> HereOut:
    """ "Saya sudah di sini / I'm here": the holder's code releases a READY permit to this
    lane's window as a manual arrival, while the site is open (409 when closed or not
    READY)."""
    runtime.limiter.take(Rule.FORMS, client_address(request), body.code)
    return HereOut.of(await arrive_here(runtime, body.code, lane))
