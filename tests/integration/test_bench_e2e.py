"""The end-to-end benchmark runs against real services and reports consistent numbers."""

from __future__ import annotations

import pytest

from bench.e2e import run
from tests.services import require_service

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto]


def test_a_small_e2e_run_reports_every_arrival_acked_and_released() -> None:
    require_service("mosquitto", "the e2e benchmark runs the server against Mosquitto")

    # No ramp: the ramp's numbers depend on the machine; its plumbing is the same phase.
    report = run(quick=True, rate=50, lanes=4, seconds=3, steps=())

    for key in (
        "benchmark", "broker", "lanes", "rate", "release_ms", "ack_ms", "broker_round_trip_ms",
        "release_p99_over_broker_p99", "ack_loss", "releases_missing", "max_sustained_rate",
        "steps", "server_cpu_ms_per_arrival", "server_peak_rss_mb", "targets",
    ):  # fmt: skip
        assert key in report, key
    assert report["benchmark"] == "e2e"
    assert report["broker"] == "mosquitto"
    assert report["ack_loss"] == 0
    assert report["releases_missing"] == 0
    assert report["arrivals"] == report["acks"] == report["releases"] == 150
    assert report["see_operator"] == 0  # every code was a seeded READY permit's
    for name in ("release_ms", "ack_ms", "broker_round_trip_ms"):
        figures = report[name]
        assert isinstance(figures, dict)
        assert figures["count"] == 150
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"], name
    steps = report["steps"]
    assert isinstance(steps, list)
    assert len(steps) == 1
    assert steps[0]["arrivals"] == 150
    assert report["server_peak_rss_mb"] > 0  # type: ignore[operator]
    # Every process that works for an arrival is accounted for, the link within the server's.
    parts = report["cpu_ms_per_arrival"]
    assert isinstance(parts, dict)
    assert set(parts) == {"server", "mqtt_link", "broker", "load_generator"}
    assert all(ms > 0 for ms in parts.values()), parts
    server_and_link = parts["server"] + parts["mqtt_link"]
    assert abs(report["server_cpu_ms_per_arrival"] - server_and_link) < 0.01  # type: ignore[operator]
