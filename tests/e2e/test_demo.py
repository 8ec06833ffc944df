"""`drivethru demo --headless`: the whole drive-through runs by itself and releases every car."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import free_port

pytestmark = pytest.mark.slow


def test_the_headless_demo_releases_every_car_with_a_ready_permit(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "demo", "--headless", "--duration", "150",
         "--port", str(free_port()), "--state", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{", done.stdout.index("Ringkasan")) :])
    assert summary["not_released"] == []
    assert summary["releases"] == summary["ready_cars"] == 5
    assert summary["handovers"] == 5
    assert summary["cars_seen"] >= 6  # the car without a permit is seen too
    assert summary["median_arrival_to_release_ms"] < 1000
    assert "DIRILIS / RELEASED" in done.stdout
    assert "silakan ke petugas / see operator" in done.stdout  # the car with no permit
