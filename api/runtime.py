"""The server's composition root: every adapter wired once, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from api.bridge import MqttBridge
from api.live import Broadcaster
from api.metrics import Metrics
from api.settings import ServerSettings
from core.arrivals import ArrivalDesk
from core.service import PermitService
from projections.runner import ProjectionRunner
from projections.store import ReadModels

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
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _lane_logs: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)

    def note_arrival(self, event: dict[str, Any]) -> None:
        """Keep an arrival in its lane's recent list and tell the consoles (event loop)."""
        if event.get("type") == "arrival":
            lane = str(event.get("lane"))
            self._lane_logs.setdefault(lane, deque(maxlen=20)).appendleft(event)
        self.broadcaster.publish(event)

    def lane_log(self, lane: str) -> tuple[dict[str, Any], ...]:
        return tuple(self._lane_logs.get(lane, ()))


async def start_runtime(settings: ServerSettings) -> Runtime:
    """Open the store and read models, catch up, then start the runner and the bridge."""
    service = PermitService(settings.service)
    runner_models = await ReadModels(settings.read_models).open()
    read_models = await ReadModels(settings.read_models).open()
    runner = ProjectionRunner(
        service.recorder, service.mapper.transcoder, runner_models, poll_seconds=1.0
    )
    await runner.catch_up()
    broadcaster = Broadcaster()
    metrics = Metrics()
    desk = ArrivalDesk(service, settings.release_on)
    runtime = Runtime(
        settings, service, desk, runner_models, read_models, runner, broadcaster, metrics, None
    )
    if settings.broker is not None:
        runtime.bridge = MqttBridge(
            settings, settings.broker, desk, service, read_models, metrics, runtime.note_arrival
        )
    bridge = runtime.bridge

    def applied(position: int) -> None:
        broadcaster.publish({"type": "changed", "position": position})
        if bridge is not None:
            bridge.manifests_changed(position)

    runner.on_applied(applied)
    service.add_save_listener(runner.wake)
    runtime.tasks.append(asyncio.create_task(runner.run(), name="projections"))
    if bridge is not None:
        await bridge.start()
    return runtime


async def stop_runtime(runtime: Runtime) -> None:
    if runtime.bridge is not None:
        await runtime.bridge.stop()
    runtime.runner.stop()
    for task in runtime.tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    with contextlib.suppress(Exception):  # leave the read models caught up when we can
        await runtime.runner.catch_up()
    await runtime.read_models.close()
    await runtime.runner_models.close()
    runtime.service.close()
