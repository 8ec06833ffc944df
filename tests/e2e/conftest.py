"""What the end-to-end tests share: the real server process on a real broker, and Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MQTT_USERS
from tests.server_process import ServerProcess
from tests.services import MosquittoServer, require_service


@pytest.fixture
def server(tmp_path: Path, mosquitto: MosquittoServer) -> Iterator[ServerProcess]:
    """`drivethru serve` started on Mosquitto, stopped after the test."""
    process = ServerProcess(tmp_path, mosquitto.url, MQTT_USERS["server"])
    process.start()
    try:
        yield process
    finally:
        process.stop()


CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture
def browser() -> Iterator[Any]:
    require_service("chromium", "Chromium is not installed (Debian package chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


class Console:
    """Every console error and uncaught exception of the pages a test opens."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any) -> Any:
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page
