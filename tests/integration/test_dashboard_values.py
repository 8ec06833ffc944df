"""The dashboard's figures from known events: median and p90 service time per lane, how cars
were recognised, cars waiting and the service rating, as the page shows them."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import eventsourcing.domain
import pytest
from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.runtime import Runtime
from core.values import Recipient, ReleaseMethod
from tests.factories import FrozenClock, ReadyPermit, ready_permit
from tests.integration.server_app import bearer, server_settings

CODE, PLATE, MANUAL = ReleaseMethod.CODE, ReleaseMethod.PLATE, ReleaseMethod.MANUAL
# (lane, how the car was recognised, seconds from release to handover; None: still waiting)
CARS: list[tuple[str, ReleaseMethod, int | None]] = [
    ("1", CODE, 60), ("1", CODE, 120), ("1", PLATE, 180), ("1", MANUAL, 240), ("1", CODE, 600),
    ("2", CODE, 30), ("2", MANUAL, 90), ("2", PLATE, None),
]  # fmt: skip


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """The events' own timestamps (the library's clock) on a clock the test moves."""
    frozen = FrozenClock(datetime.now(UTC) - timedelta(hours=2))
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", frozen)
    return frozen


def serve(runtime: Runtime, clock: FrozenClock) -> list[ReadyPermit]:
    permits = []
    for lane, method, seconds in CARS:
        permit = ready_permit(runtime.service)
        clock.advance(timedelta(minutes=5))
        runtime.service.release(permit.id, lane=lane, window="1", visit=uuid4(), method=method)
        if seconds is not None:
            runtime.service.hand_over(
                permit.id, handover_id=f"h-{permit.id}", by="operator",
                recipient=Recipient.OWNER, id_checked=True, channel=f"lane:{lane}",
                happened_at=clock() + timedelta(seconds=seconds), at_lane=lane,
            )  # fmt: skip
        permits.append(permit)
    return permits


def bar_titles(page: str) -> list[str]:
    """The bars' accessible titles, ``label: value``, in the order drawn."""
    return [html.unescape(t) for t in re.findall(r"<rect [^>]*><title>([^<]+)</title>", page)]


def test_the_dashboard_shows_service_times_methods_waiting_cars_and_rating(
    tmp_path: Path, clock: FrozenClock
) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        permits = serve(runtime, clock)
        for permit, rating in zip(permits, (5, 4, 4), strict=False):
            sent = client.post(
                f"/p/{permit.code.code}/feedback", data={"rating": str(rating)},
                follow_redirects=False,
            )  # fmt: skip
            assert sent.status_code == 303
        assert client.portal.call(runtime.runner.reached, 10.0)  # type: ignore[union-attr]
        page = client.get("/dashboard", headers={"accept": "text/html", **bearer("officer")})
        assert page.status_code == 200
        text = page.text
    titles = bar_titles(text)
    # Lane 1: 60 120 180 240 600 s, median 180, p90 the fifth (int(0.9 * 5) = 4): 600.
    # Lane 2: 30 90 s (the waiting car has no time yet), median 60, p90 the second: 90.
    assert [t for t in titles if " p50: " in t or " p90: " in t] == [
        "1 p50: 180 s", "1 p90: 600 s", "2 p50: 60 s", "2 p90: 90 s",
    ]  # fmt: skip
    # Eight cars: QR code 4, plate 2, manual 2.
    legend = re.findall(r'<text [^>]*font-size="16"[^>]*>([^<]+)</text>', text)
    assert [html.unescape(x) for x in legend] == [
        "Kode QR / QR code 50% (4)",
        "Pelat nomor / Number plate 25% (2)",
        "Manual / Manual 25% (2)",
    ]
    waiting = re.search(r"<strong>(\d+)</strong> <span class=\"l-id\">mobil menunggu", text)
    assert waiting is not None
    assert waiting.group(1) == "1"  # one car at a window (lane 2)
    assert "<strong>4.3 / 5 (3)</strong>" in text  # (5 + 4 + 4) / 3 from three ratings
