"""A code opened the moment it was issued is found, though the read models are still behind."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.runtime import Runtime
from core.codes import PickupCode
from tests.factories import ready_permit, submit
from tests.integration.server_app import server_settings

# Far longer than any request here: a page answered before it ended did not wait it out.
GATHER = 6.0


def _runner_in_its_pause(runtime: Runtime) -> None:
    """Make the runner fold one save and then gather further saves for ``GATHER`` seconds."""
    runtime.runner.gather_seconds = GATHER
    before = runtime.runner.position
    submit(runtime.service, plate="DK 9 ZZ")
    deadline = time.monotonic() + 5
    while runtime.runner.position == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runtime.runner.position > before


def test_the_citizen_page_and_the_api_find_a_code_issued_a_moment_ago(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        _runner_in_its_pause(runtime)
        first = ready_permit(runtime.service, plate="DK 1 AB")
        started = time.monotonic()
        page = client.get(f"/p/{first.code.code}", headers={"Accept": "text/html"})
        assert page.status_code == 200, page.text[:300]
        assert time.monotonic() - started < GATHER / 2

        # The fold the page asked for is followed by another pause: the API case.
        second = ready_permit(runtime.service, plate="DK 2 AB")
        answer = client.get(f"/p/{second.code.code}", headers={"Accept": "application/json"})
        assert answer.status_code == 200, answer.text[:300]
        assert answer.json()["status"] == "ready"


def test_a_wrong_code_is_answered_at_once(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        ready_permit(runtime.service)
        runtime.runner.gather_seconds = GATHER
        guessed = PickupCode.generate().text
        client.get(f"/p/{guessed}", headers={"Accept": "application/json"})  # catches up
        started = time.monotonic()
        answer = client.get(f"/p/{guessed}", headers={"Accept": "application/json"})
        assert answer.status_code == 404
        assert time.monotonic() - started < GATHER / 2
