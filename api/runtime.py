"""The server's composition root: every adapter wired once, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from api.bridge import MqttBridge
from api.expiry import ExpiryJob
from api.home_assistant import home_assistant_for
from api.live import Broadcaster
from api.metrics import Metrics
from api.notify.bootstrap import build_notifier
from api.notify.notifier import Notifier
from api.pages.feedback import FeedbackStore
from api.rate_limit import RateLimiter
from api.retention import RetentionJob
from api.settings import ServerSettings
from core.arrivals import ArrivalDesk
from core.complaint import ComplaintDesk
from core.service import PermitService
from projections import queries
from projections.arrivals import live_event
from projections.bootstrap import follow_saves, open_for_server
from projections.permits import PageRows
from projections.runner import ProjectionRunner
from projections.store import ReadModels
from projections.store_watch import StoreWatch

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The running server's parts."""

    settings: ServerSettings
    service: PermitService
    desk: ArrivalDesk
    runner_models: ReadModels
    read_models: ReadModels
    """A second connection for queries, so readers never see a page half-written."""
    runner: ProjectionRunner
    broadcaster: Broadcaster
    metrics: Metrics
    bridge: MqttBridge | None
    limiter: RateLimiter
    feedback: FeedbackStore
    """Citizens' ratings and complaints, in ``feedback.db`` beside the read models."""
    complaints: ComplaintDesk
    """The office's answers to them; one desk serialises changes to the cached complaints."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    warm: bool = False
    """The permits waiting at the site are in memory (see `_warm`)."""
    expiry: ExpiryJob | None = None
    """Records codes and permits past their time (`api/expiry.py`)."""
    retention: RetentionJob | None = None
    """Erases personal data past its period (`api/retention.py`)."""
    notifier: Notifier | None = None
    """Citizens' notifications (`api/notify/`), when site.toml has ``[[notify]]``."""
    store_watch: StoreWatch | None = None
    """Wakes the runner for other replicas' saves to a shared PostgreSQL store."""

    def note_arrival(self, event: dict[str, Any]) -> None:
        """Tell this server's consoles of a lane's status or a team's handover (event loop).

        Arrivals are not told from here but from the log (`arrivals_folded`): a console
        connected to another replica than the one that decided sees them too.
        """
        if event.get("type") != "arrival":
            self.broadcaster.publish(event)

    def arrivals_folded(self, page: PageRows) -> None:
        """Tell the consoles of the arrivals a projected page recorded (`projections.arrivals`)."""
        site = self.settings.site
        for values in page.arrivals:
            site_of, lane, visit = values[2], values[3], values[4]
            if site_of == site:
                released = page.released_to.get((lane, visit), [])
                window = self.settings.window_of(lane)
                self.broadcaster.publish(live_event(values, released, window))


async def start_runtime(settings: ServerSettings) -> Runtime:
    """Open the store and read models, catch up, then start the runner and the bridge."""
    # Not fast-forwarding cached aggregates from the store on each read: see `sole_writer`.
    service = PermitService(
        settings.service,
        env={"AGGREGATE_CACHE_FASTFORWARD": "n"} if settings.sole_writer else None,
    )
    served = await open_for_server(
        service, settings.service.store, settings.read_models, gather_seconds=PAGE_GATHER_SECONDS
    )
    runner, runner_models, read_models = served.runner, served.runner_models, served.read_models
    broadcaster = Broadcaster()
    metrics = Metrics()
    desk = ArrivalDesk(service, settings.release_on)
    runtime = Runtime(
        settings, service, desk, runner_models, read_models, runner, broadcaster, metrics, None,
        RateLimiter(settings.rate_limits, metrics),
        FeedbackStore(
            settings.read_models.parent / "feedback.db",
            timedelta(days=settings.feedback_retention_days),
        ),
        ComplaintDesk(service),
    )  # fmt: skip
    if settings.broker is not None:
        runtime.bridge = MqttBridge(
            settings, settings.broker, desk, service, read_models, metrics,
            runtime.note_arrival, runner,
        )  # fmt: skip
    bridge = runtime.bridge

    def applied(position: int) -> None:
        broadcaster.publish({"type": "changed", "position": position})

    runner.on_applied(applied)
    runner.on_arrivals(runtime.arrivals_folded)
    if bridge is not None:
        # Not after every page: a release changes no manifest, and rebuilding them for each
        # of hundreds of arrivals a second took a tenth of the server's time (py-spy).
        runner.on_manifests_changed(bridge.manifests_changed)
    # Other replicas' saves too, at once rather than at the next poll.
    runtime.store_watch = follow_saves(service, runner)
    runtime.tasks.append(asyncio.create_task(runner.run(), name="projections"))
    runtime.tasks.append(asyncio.create_task(_warm(runtime), name="warm-cache"))
    runtime.expiry = ExpiryJob(
        service, read_models.conn, settings.site,
        timedelta(days=settings.uncollected_expire_days),
    )  # fmt: skip
    runtime.tasks.append(
        asyncio.create_task(
            runtime.expiry.run_every(settings.expiry_interval_seconds), name="expiry"
        )
    )
    runtime.retention = RetentionJob(
        service, read_models.conn, settings.site, settings.retention.periods()
    )
    runtime.tasks.append(
        asyncio.create_task(
            runtime.retention.run_every(settings.retention_interval_seconds), name="retention"
        )
    )
    if bridge is not None and settings.home_assistant.enabled:
        home_assistant = home_assistant_for(settings, read_models.conn, bridge)
        runner.on_applied(home_assistant.changed)
        runtime.tasks.append(asyncio.create_task(home_assistant.run(), name="home-assistant"))
    runtime.notifier = build_notifier(settings, service)
    if runtime.notifier is not None:
        runtime.tasks.append(asyncio.create_task(runtime.notifier.run(), name="notifier"))
    if bridge is not None:
        await bridge.start()
    return runtime


async def stop_runtime(runtime: Runtime) -> None:
    if runtime.bridge is not None:
        await runtime.bridge.stop()
    runtime.runner.stop()
    if runtime.store_watch is not None:
        await asyncio.to_thread(runtime.store_watch.stop)
    for task in runtime.tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    with contextlib.suppress(Exception):  # leave the read models caught up when we can
        await runtime.runner.catch_up()
    await runtime.read_models.close()
    await runtime.runner_models.close()
    if runtime.notifier is not None:
        runtime.notifier.close()
    runtime.service.close()


# Saves gathered into one projection page: at 200 arrivals/s a page per arrival cost more
# of the server's time than deciding it; consoles still see a release well within a second.
PAGE_GATHER_SECONDS = 0.02
WARM_PERMITS = 10_000  # with their codes: two thirds of the cache (core/service.py)


async def _warm(runtime: Runtime) -> None:
    """Load the permits waiting at this site into memory, so arrivals read no store."""
    started = time.perf_counter()
    waiting = await queries.waiting_codes(
        runtime.read_models.conn, runtime.settings.site, WARM_PERMITS
    )
    codes = [(code, UUID(permit_id)) for code, permit_id in waiting]
    loaded = await asyncio.to_thread(runtime.service.warm, codes)
    # Thousands of cached permits are hundreds of thousands of objects that live as long as
    # the server: a full collection scanning them paused the loop for 30-100 ms (measured:
    # 33 ms for 3,000 permits), the slowest arrivals' whole wait. They are kept out of it.
    gc.collect()
    gc.freeze()
    runtime.warm = True
    log.info(
        "%d izin siap dimuat / ready permits loaded in %.1f s",
        loaded, time.perf_counter() - started,
    )  # fmt: skip
