"""Health, metrics and site figures."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from api.deps import CallerDep, RuntimeDep
from api.errors import error_responses
from projections import queries

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def health(runtime: RuntimeDep) -> dict[str, object]:
    bridge = runtime.bridge
    return {
        "ok": True,
        "site": runtime.settings.site,
        "broker_connected": bridge.connected if bridge else None,
        "mqtt_link": {"pid": bridge.link.pid, "restarts": bridge.link.restarts} if bridge else None,
        "projection_position": runtime.runner.position,
        "warm": runtime.warm,
    }


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(runtime: RuntimeDep) -> str:
    runtime.metrics.set_gauge("projection_lag_events", await runtime.runner.lag())
    runtime.metrics.set_gauge("live_subscribers", runtime.broadcaster.subscribers)
    if runtime.bridge is not None:
        runtime.metrics.set_gauge("broker_connected", int(runtime.bridge.connected))
        runtime.metrics.set_gauge("mqtt_link_restarts", runtime.bridge.link.restarts)
    if runtime.notifier is not None:  # notifications waiting, sent and given up
        counts = await asyncio.to_thread(runtime.notifier.store.counts)
        for state, count in counts.items():
            runtime.metrics.set_gauge(f"notify_outbox_{state}", count)
    return runtime.metrics.render()


@router.get("/api/site", responses=error_responses(401, 429))
async def site(runtime: RuntimeDep, _caller: CallerDep) -> dict[str, object]:
    counts = await queries.site_counts(runtime.read_models.conn, runtime.settings.site)
    return {
        "site": runtime.settings.site,
        "name": runtime.settings.site_name,
        "lanes": [lane.model_dump() for lane in runtime.settings.lanes],
        "release_on": runtime.settings.release_on.value,
        "counts": counts,
    }
