"""Live consoles and the embedded broker: the same flow without Mosquitto's extras."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import MQTT_USERS
from tests.e2e.test_server_lane_flow import ROOT, ack_for, arrival, make_ready
from tests.mqtt_peer import MqttPeer
from tests.server_process import KEYS, ServerProcess
from tests.services import BrokerEndpoint

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path, broker: BrokerEndpoint) -> Iterator[tuple[ServerProcess, MqttPeer]]:
    # The embedded broker speaks MQTT 3.1.1 only: the server's fallback setting.
    protocol = "5" if broker.kind == "mosquitto" else "3.1.1"
    server = ServerProcess(tmp_path, broker.url, MQTT_USERS["server"], protocol)
    server.start()
    lane = MqttPeer(
        broker.host, broker.port, "lane-1", MQTT_USERS["lane-1"],
        [f"{ROOT}/lanes/1/acks", f"{ROOT}/lanes/1/releases"], v5=broker.kind == "mosquitto",
    )  # fmt: skip
    try:
        yield server, lane
    finally:
        lane.close()
        server.stop()


def test_the_console_sees_the_release_within_the_second(
    served: tuple[ServerProcess, MqttPeer],
) -> None:
    server, lane = served
    ready = make_ready(server, "DK 2468 BA")
    events: list[tuple[float, dict[str, object]]] = []
    connected = threading.Event()

    def listen() -> None:
        headers = {"Authorization": f"Bearer {KEYS['operator-1'][0]}"}
        with (
            httpx.Client(base_url=server.url, headers=headers, timeout=20) as client,
            client.stream("GET", "/api/lanes/1/events") as stream,
        ):
            for line in stream.iter_lines():
                connected.set()
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    if event.get("type") == "arrival":
                        events.append((time.monotonic(), event))
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(10)
    message = arrival(code=ready["code"])
    sent = time.monotonic()
    lane.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
    assert lane.wait_for(ack_for(message["id"]), timeout=15).json()["outcome"] == "released"
    listener.join(10)
    assert events, "the console got the arrival"
    seen, event = events[0]
    assert event["outcome"] == "released"
    assert event["released"] == [ready["permit"]["id"]]
    assert seen - sent < 1.0
    with server.client("operator-1") as operator:
        board = operator.get("/api/lanes/1/board").json()
    assert [p["id"] for p in board["released"]] == [ready["permit"]["id"]]
    assert board["recent_arrivals"][0]["visit"] == message["visit"]


def test_the_citizen_page_follows_the_permit(served: tuple[ServerProcess, MqttPeer]) -> None:
    server, _lane = served
    ready = make_ready(server, "AB 4521 KD")
    with server.client() as citizen:
        deadline = time.monotonic() + 10
        status = citizen.get(f"/p/{ready['code']}")
        while status.status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.1)  # the read models follow the store within moments
            status = citizen.get(f"/p/{ready['code']}")
        body = status.json()
        assert body["status"] == "ready"
        assert body["ready"] is True
        assert body["lanes"] == ["1", "2"]
        assert [t["event"] for t in body["timeline"]][-1] == "PickupCodeIssued"
        assert "5103" not in status.text  # no NIK, not even a part of it
        assert "Wayan" not in status.text  # the name only masked
        page = citizen.get(f"/p/{ready['code']}", headers={"Accept": "text/html"})
        # The site's own hours (site.toml), in both languages, and whether it is open now.
        assert "Senin–Minggu 00.00–23.59" in page.text
        assert "Monday–Sunday 00:00–23:59" in page.text
        assert "Buka sekarang, sampai 23.59" in page.text or "Tutup, buka besok 00.00" in page.text
