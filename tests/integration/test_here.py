"""The citizen's "I'm here": a manual arrival by their code, READY only, open hours only,
rate limited; and the queue it joins, on the API, the citizen's page and the lane board."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.here import HereArrival, NotWaitingError, arrive_here
from api.runtime import Runtime
from core.values import PermitStatus, Recipient
from tests.factories import ready_permit
from tests.integration.server_app import bearer, server_settings

ALWAYS = {"days": dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "00:00-23:59")}
NEVER: dict[str, Any] = {"days": {}}
HIGH = {"burst": 1000, "per_minute": 1000}


def app(tmp_path: Path, **extra: Any) -> TestClient:
    extra.setdefault("opening_hours", ALWAYS)
    return TestClient(build_server(server_settings(tmp_path, **extra)))


def runtime_of(client: TestClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def caught_up(client: TestClient) -> None:
    """Wait until the read models show what the test saved."""
    reached = runtime_of(client).runner.reached
    assert client.portal.call(reached, 10.0)  # type: ignore[union-attr]


def hand_over(runtime: Runtime, permit_id: UUID, lane: str) -> None:
    runtime.service.hand_over(
        permit_id, handover_id=f"h-{permit_id}", by="operator", recipient=Recipient.OWNER,
        id_checked=True, channel=f"lane:{lane}", at_lane=lane,
    )  # fmt: skip


def test_im_here_releases_a_ready_permit_to_the_lane_picked_once(tmp_path: Path) -> None:
    with app(tmp_path) as client:
        runtime = runtime_of(client)
        ready = ready_permit(runtime.service)
        answer = client.post("/api/lanes/2/here", json={"code": ready.code.code})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["outcome"], body["permit_id"], body["lane"], body["window"]) == (
            "released", str(ready.id), "2", "1",  # the test site's lanes share window 1
        )  # fmt: skip
        permit = runtime.service.get(ready.id)
        assert (permit.status, permit.lane, str(permit.visit)) == (
            PermitStatus.RELEASED, "2", body["visit"],
        )  # fmt: skip
        # Pressed again: the permit is at the window already, nothing is released twice.
        again = client.post("/api/lanes/1/here", json={"code": ready.code.code})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "not_ready"
        assert runtime.service.get(ready.id).lane == "2"
        caught_up(client)
        timeline = client.get(f"/p/{ready.code.code}").json()["timeline"]
        released = [t for t in timeline if t["event"] == "Released"]
        assert [(t["detail"]["lane"], t["detail"]["method"]) for t in released] == [("2", "manual")]
        # The window hands it over as any release.
        hand_over(runtime, ready.id, "2")
        assert client.post("/api/lanes/2/here", json={"code": ready.code.code}).status_code == 403


def test_im_here_refuses_unknown_lanes_codes_and_permits_not_ready(tmp_path: Path) -> None:
    with app(tmp_path) as client:
        runtime = runtime_of(client)
        ready = ready_permit(runtime.service)
        assert client.post("/api/lanes/9/here", json={"code": ready.code.code}).status_code == 404
        malformed = client.post("/api/lanes/1/here", json={"code": "DT1:NOPE"})
        assert malformed.status_code == 400
        unknown = client.post("/api/lanes/1/here", json={"code": "DT1:" + "A" * 26})
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_code")
        runtime.service.reissue_code(ready.id, "officer", "hilang / lost")
        replaced = client.post("/api/lanes/1/here", json={"code": ready.code.code})
        assert (replaced.status_code, replaced.json()["error"]["code"]) == (403, "code_refused")
        assert runtime.service.get(ready.id).status is PermitStatus.READY


def test_im_here_only_while_the_site_is_open(tmp_path: Path) -> None:
    with app(tmp_path, opening_hours=NEVER) as client:
        runtime = runtime_of(client)
        ready = ready_permit(runtime.service)
        closed = client.post("/api/lanes/1/here", json={"code": ready.code.code})
        assert (closed.status_code, closed.json()["error"]["code"]) == (409, "closed_now")
        assert runtime.service.get(ready.id).status is PermitStatus.READY
        caught_up(client)
        page = client.get(f"/p/{ready.code.code}", headers={"accept": "text/html"}).text
        assert 'id="here"' in page  # the queue is shown
        assert 'id="here-form"' not in page  # the button is not


def test_im_here_is_rate_limited_per_code(tmp_path: Path) -> None:
    limits = {"forms_per_code": {"burst": 2, "per_minute": 1}, "forms_per_address": HIGH}
    with app(tmp_path, rate_limits=limits) as client:
        runtime = runtime_of(client)
        ready = ready_permit(runtime.service)
        assert client.post("/api/lanes/9/here", json={"code": ready.code.code}).status_code == 404
        assert client.post("/api/lanes/9/here", json={"code": ready.code.code}).status_code == 404
        limited = client.post("/api/lanes/1/here", json={"code": ready.code.code})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        form = client.post(f"/p/{ready.code.code}/here", data={"lane": "1"})
        assert form.status_code == 429
        assert runtime.service.get(ready.id).status is PermitStatus.READY


def test_the_queue_and_wait_on_the_api_the_citizens_page_and_the_board(tmp_path: Path) -> None:
    with app(tmp_path) as client:
        runtime = runtime_of(client)
        first, second = ready_permit(runtime.service), ready_permit(runtime.service)
        # The page's form: a redirect back to the status, which shows the permit at the window.
        posted = client.post(
            f"/p/{first.code.code}/here", data={"lane": "1"}, follow_redirects=False
        )
        assert (posted.status_code, posted.headers["location"]) == (
            303, f"/p/{first.code.code}#here",
        )  # fmt: skip
        caught_up(client)
        queues = {q["lane"]: q for q in client.get("/api/queue").json()}
        # One car at lane 1, none served yet today: the assumed 180 s a car.
        assert queues["1"] == {
            "lane": "1", "cars": 1, "served_last_hour": 0, "median_service_seconds": None,
            "eta_seconds": 180, "eta_minutes": 3,
        }  # fmt: skip
        assert (queues["2"]["cars"], queues["2"]["eta_minutes"]) == (0, 0)
        html = {"accept": "text/html"}
        waiting = client.get(f"/p/{second.code.code}", headers=html).text
        assert "1 mobil · ±3 menit" in waiting
        assert "1 car · ±3 min" in waiting
        assert 'id="here-button"' in waiting
        at_window = client.get(f"/p/{first.code.code}", headers=html).text
        assert 'id="here-form"' not in at_window  # released: no second press
        board = client.get("/lanes/1/board", headers={**html, **bearer("operator-1")}).text
        assert "1 mobil · ±3 menit" in board
        # Served: the lane is empty again and its median is the car's own time.
        hand_over(runtime, first.id, "1")
        caught_up(client)
        after = {q["lane"]: q for q in client.get("/api/queue").json()}["1"]
        assert (after["cars"], after["served_last_hour"], after["eta_seconds"]) == (0, 1, 0)
        assert after["median_service_seconds"] is not None
        assert 0 <= after["median_service_seconds"] < 60


def test_two_presses_at_once_release_the_permit_once(tmp_path: Path) -> None:
    with app(tmp_path) as client:
        runtime = runtime_of(client)
        ready = ready_permit(runtime.service)

        async def press_twice() -> list[HereArrival | BaseException]:
            both = await asyncio.gather(
                arrive_here(runtime, ready.code.code, "1"),
                arrive_here(runtime, ready.code.code, "2"),
                return_exceptions=True,
            )
            return list(both)

        answers = client.portal.call(press_twice)  # type: ignore[union-attr]
        arrived = [a for a in answers if isinstance(a, HereArrival)]
        refused = [a for a in answers if isinstance(a, NotWaitingError)]
        assert len(arrived) + len(refused) == 2
        assert arrived  # at least one press released it
        names = [name for name, _ in runtime.service.history(ready.id)]
        assert names.count("Released") == 1
        # Both presses that went through name the same visit: one car, one release.
        assert len({a.visit for a in arrived}) == 1


def test_a_permit_with_a_mobile_team_is_not_called_to_a_window(tmp_path: Path) -> None:
    with app(tmp_path) as client:
        runtime = runtime_of(client)
        ready = ready_permit(runtime.service)
        runtime.service.assign_to_team(ready.id, "officer", "a", "2026-12-24", "Balai Desa")
        refused = client.post("/api/lanes/1/here", json={"code": ready.code.code})
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "not_ready")
        assert "tim keliling a" in refused.json()["error"]["message"]
        assert runtime.service.get(ready.id).status is PermitStatus.READY
        caught_up(client)
        page = client.get(f"/p/{ready.code.code}", headers={"accept": "text/html"}).text
        assert 'id="here"' in page
        assert 'id="here-form"' not in page
