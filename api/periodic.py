"""Running a server job now and then every so often, until the server stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def every(
    seconds: float, run_once: Callable[[], Awaitable[object]], log: logging.Logger, failed: str
) -> None:
    """Await ``run_once()`` now and then every ``seconds`` until cancelled; a failed run is
    logged with ``failed`` and the next one tries again: the server keeps serving."""
    while True:
        try:
            await run_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(failed)
        await asyncio.sleep(seconds)
