"""Live updates for consoles: a fan-out of small JSON events, served as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any


class Broadcaster:
    """Each subscriber gets its own bounded queue; a slow one loses old events, not the server."""

    def __init__(self, queue_size: int = 256) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._queue_size = queue_size

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, event: dict[str, Any]) -> None:
        """Send ``event`` to every subscriber; call on the event loop."""
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()  # drop the oldest: consoles reload state on "changed"
            queue.put_nowait(event)

    async def stream(self, lanes: frozenset[str] | None = None) -> AsyncIterator[str]:
        """SSE lines for one client; ``lanes`` filters lane events (None: all)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield ": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                lane = event.get("lane")
                if lanes is not None and lane is not None and lane not in lanes:
                    continue
                yield f"event: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n"
        finally:
            self._subscribers.discard(queue)
