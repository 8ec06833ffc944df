"""Warnings held back when the same kind repeats: a flood of bad messages writes a line now
and then, not a line each, and what was held back is counted and named in the next line."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from api.metrics import Metrics

MAX_KINDS = 256  # kinds are names from our code; the bound is only a guard


@dataclass(slots=True)
class _Kind:
    logged_at: float
    held_back: int = 0


class WarningThrottle:
    """At most one warning line per kind every ``interval_seconds``."""

    def __init__(
        self,
        logger: logging.Logger,
        metrics: Metrics,
        interval_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.metrics = metrics
        self.interval = interval_seconds
        self.clock = clock
        self._kinds: OrderedDict[str, _Kind] = OrderedDict()

    def warning(
        self, kind: str, message: str, *args: object, extra: Mapping[str, object] | None = None
    ) -> bool:
        """Log ``message % args`` unless ``kind`` was logged within the interval; True if logged."""
        now = self.clock()
        seen = self._kinds.get(kind)
        if seen is not None and now - seen.logged_at < self.interval:
            seen.held_back += 1
            self.metrics.log_line_held_back()
            return False
        if seen is not None and seen.held_back:
            message += " (+%d serupa ditahan / more like it held back in %.0f s)"
            args = (*args, seen.held_back, now - seen.logged_at)
        self._kinds[kind] = _Kind(now)
        self._kinds.move_to_end(kind)
        while len(self._kinds) > MAX_KINDS:
            self._kinds.popitem(last=False)
        self.logger.warning(message, *args, extra=extra)
        return True
