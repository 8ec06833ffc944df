"""What the end-to-end tests share: the real server process on a real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MQTT_USERS
from tests.server_process import ServerProcess
from tests.services import MosquittoServer


@pytest.fixture
def server(tmp_path: Path, mosquitto: MosquittoServer) -> Iterator[ServerProcess]:
    """`drivethru serve` started on Mosquitto, stopped after the test."""
    process = ServerProcess(tmp_path, mosquitto.url, MQTT_USERS["server"])
    process.start()
    try:
        yield process
    finally:
        process.stop()
