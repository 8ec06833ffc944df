"""A mobile team's day against the real server and a real Mosquitto: offline, killed, synced.

The team device is the real process (``python -m edge_lane.mobile``), driven through its
page; the permits are READY on the server and assigned to team ``a``.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from uuid import UUID

import pytest

from bench.seed import seed_on_store
from core.contract import TeamAck, Topics, decode
from core.service import PermitService
from tests.conftest import MQTT_USERS, SITE
from tests.e2e.test_server_crash import service_settings
from tests.e2e.test_server_lane_flow import arrival, make_ready
from tests.integration.test_mobile_device import MobileDevice, eventually
from tests.mqtt_peer import MqttPeer
from tests.server_process import ServerProcess
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(180)]
TOPICS = Topics(SITE)
PERMITS = 50
PLACE = "Balai Banjar Kapal, Mengwi"


def seed_for_team(workdir: Path, count: int) -> list[tuple[str, str]]:
    """``count`` READY permits assigned to team a, straight on the store; (id, code) each."""
    service = PermitService(service_settings(workdir))
    try:
        seeded = list(seed_on_store(service, SITE, count))
        for permit in seeded:
            service.assign_to_team(UUID(permit.id), "seed", "a", date.today().isoformat(), PLACE)
        return [(permit.id, permit.code) for permit in seeded]
    finally:
        service.close()


def handovers_applied(workdir: Path, permit_ids: list[str]) -> dict[str, list[datetime]]:
    """When the server recorded each permit's HandedOver events (normally exactly one)."""
    service = PermitService(service_settings(workdir))
    try:
        return {
            permit_id: [at for name, at in service.history(UUID(permit_id)) if name == "HandedOver"]
            for permit_id in permit_ids
        }
    finally:
        service.close()


@pytest.fixture
def server(tmp_path: Path, mosquitto: MosquittoServer) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path, mosquitto.url, MQTT_USERS["server"])
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def device(tmp_path: Path, mosquitto: MosquittoServer) -> Iterator[MobileDevice]:
    workdir = tmp_path / "team-a"
    workdir.mkdir()
    made = MobileDevice(workdir, mosquitto.url)
    try:
        yield made
    finally:
        made.stop()


def test_fifty_offline_handovers_through_a_kill_reach_the_server_once_each_in_order(
    tmp_path: Path, mosquitto: MosquittoServer, server: ServerProcess, device: MobileDevice
) -> None:
    permits = seed_for_team(tmp_path, PERMITS)
    random.Random(3).shuffle(permits)  # the day's order is not the order they were printed
    server.start()
    device.start()
    eventually(lambda: len(device.state()["permits"]) == PERMITS, 30, "the team's manifest")

    mosquitto.stop()
    eventually(lambda: not device.state()["connected"], what="the device to go offline")
    half = PERMITS // 2
    handed = [device.hand_over(code)["handover_id"] for _, code in permits[:half]]
    device.kill()  # kill -9 in the middle of the day, still offline
    device.start()
    assert device.state()["unsynced"] == half
    handed += [device.hand_over(code)["handover_id"] for _, code in permits[half:]]
    assert device.state()["unsynced"] == PERMITS
    time.sleep(1)  # hours, in spirit

    mosquitto.start()
    state = eventually(
        lambda: (s := device.state())["unsynced"] == 0 and s, 60, "the device to sync"
    )
    assert state["problems"] == []
    assert state["last_sync"] is not None

    with server.client("officer") as officer:
        for permit_id, _ in permits:
            shown = officer.get(f"/api/applications/{permit_id}").json()
            assert shown["status"] == "handed_over", shown
            assert shown["handed_over_by"] == "Tim A Made"
            assert shown["conflicts"] == 0

        def listed() -> list[dict[str, object]]:
            rows: list[dict[str, object]] = officer.get(
                "/api/applications", params={"status": "handed_over"}
            ).json()
            return rows if len(rows) == PERMITS else []

        rows = eventually(listed, 20, "the read model")
    order = [row["id"] for row in sorted(rows, key=lambda r: str(r["handed_over_at"]))]
    assert order == [permit_id for permit_id, _ in permits]
    assert {row["recipient"] for row in rows} == {"owner"}
    with server.client("admin") as admin:
        dashboard = admin.get("/dashboard", headers={"Accept": "text/html"}).text
    # The dashboard's team table: team a, 50 handed over, none left.
    assert f'<th scope="row">a</th><td>{PERMITS}</td><td>0</td>' in dashboard
    server.stop()
    applied = handovers_applied(tmp_path, [permit_id for permit_id, _ in permits])
    assert {len(times) for times in applied.values()} == {1}  # exactly once each
    by_server_time = sorted(applied, key=lambda permit_id: applied[permit_id][0])
    assert by_server_time == [permit_id for permit_id, _ in permits]  # applied in order
    assert len(set(handed)) == PERMITS


def test_a_permit_handed_over_at_a_window_while_the_team_was_offline_is_a_recorded_conflict(
    tmp_path: Path, mosquitto: MosquittoServer, server: ServerProcess, device: MobileDevice
) -> None:
    server.start()
    ready = make_ready(server, "DK 4321 MT")
    permit_id, code = ready["permit"]["id"], ready["code"]
    with server.client("officer") as officer:
        assigned = officer.post(
            f"/api/applications/{permit_id}/team",
            json={"team": "a", "date": date.today().isoformat(), "place": PLACE},
        )
        assert assigned.status_code == 200, assigned.text
    device.start()
    eventually(lambda: len(device.state()["permits"]) == 1, 30, "the team's manifest")

    # The team hands it over offline and the device's battery dies before any sync.
    mosquitto.stop()
    eventually(lambda: not device.state()["connected"], what="the device to go offline")
    team_handover = device.hand_over(code)["handover_id"]
    device.kill()

    # Meanwhile the citizen's sibling collects it at window 1 with the same code.
    mosquitto.start()
    eventually(lambda: server.client().get("/healthz").json()["broker_connected"], 20)
    lane = MqttPeer(
        mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"],
        [f"{TOPICS.root}/lanes/1/releases"],
    )  # fmt: skip
    acks = MqttPeer(
        mosquitto.host, mosquitto.port, "team-a", MQTT_USERS["team-a"],
        [TOPICS.team_acks("a")], client_id="test-team-a-listener",
    )  # fmt: skip
    try:
        lane.publish(f"{TOPICS.root}/lanes/1/arrivals", json.dumps(arrival(code)))
        lane.wait_for(lambda m: permit_id in m.payload.decode(), timeout=15)
        with server.client("operator-1") as operator:
            window = operator.post(
                "/api/lanes/1/handover",
                json={"permit_id": permit_id, "handover_id": str(uuid.uuid4()),
                      "nik": "5103011204800001"},
            )  # fmt: skip
            assert window.status_code == 200, window.text

        device.start()
        ack = decode(TeamAck, acks.wait_for(lambda m: True, timeout=30).payload)
    finally:
        lane.close()
        acks.close()
    assert str(ack.id) == team_handover
    assert ack.outcome == "conflict"
    state = eventually(lambda: (s := device.state())["unsynced"] == 0 and s, 20, "the sync")
    assert [(p["permit_id"], p["outcome"]) for p in state["problems"]] == [(permit_id, "conflict")]
    assert state["problems"][0]["reason"]
    with server.client("officer") as officer:
        shown = officer.get(f"/api/applications/{permit_id}").json()
    assert shown["status"] == "handed_over"
    assert shown["handed_over_by"] == "operator-1"  # the window's handover stands
    assert shown["conflicts"] == 1
