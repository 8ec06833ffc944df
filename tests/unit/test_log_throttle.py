"""Warnings about bad messages: one line per kind per interval, the rest counted."""

from __future__ import annotations

import logging

import pytest

from api.log_throttle import WarningThrottle
from api.metrics import Metrics


def test_a_repeated_kind_is_held_back_counted_and_named_in_the_next_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    metrics = Metrics()
    throttle = WarningThrottle(logging.getLogger("t"), metrics, 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="t"):
        for _ in range(5):
            throttle.warning("invalid_json", "bad %s", "x")
        throttle.warning("too_large", "big")  # another kind has its own clock
        now[0] = 10.5
        throttle.warning("invalid_json", "bad %s", "y")
    assert [r.getMessage() for r in caplog.records] == [
        "bad x", "big", "bad y (+4 serupa ditahan / more like it held back in 10 s)",
    ]  # fmt: skip
    assert metrics.log_lines_held_back == 4
    assert "drivethru_log_lines_held_back_total 4" in metrics.render()
