"""Home Assistant's view of the lanes, against a real Mosquitto with the site's ACL and the
real server: discovery configs and lane summaries in, read as Home Assistant's own login."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.contract import Topics
from core.home_assistant import HOME_ASSISTANT_USER, HomeAssistantSettings
from tests.conftest import LANES, MQTT_USERS, SITE, TEAMS
from tests.e2e.test_server_lane_flow import ROOT, ack_for, arrival, make_ready
from tests.mqtt_peer import MqttPeer, Received
from tests.server_process import ServerProcess, write_site_toml
from tests.services import MosquittoServer, require_service, running_mosquitto

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(120)]
USERS = {**MQTT_USERS, HOME_ASSISTANT_USER: "home-assistant-test-secret"}
PREFIX = "homeassistant"


@pytest.fixture
def broker() -> Iterator[MosquittoServer]:
    """Mosquitto with the contract's ACL for a site that enabled Home Assistant."""
    require_service("mosquitto", "Mosquitto is not installed (Debian package mosquitto)")
    from core.broker_acl import site_access

    acl = site_access(
        Topics(SITE), LANES, TEAMS, ("server", "server-2"),
        home_assistant=HomeAssistantSettings(enabled=True),
    )  # fmt: skip
    with running_mosquitto(USERS, acl, bind_client_ids=False) as server:
        yield server


@pytest.fixture
def server(tmp_path: Path, broker: MosquittoServer) -> Iterator[ServerProcess]:
    site_toml = tmp_path / "site.toml"
    write_site_toml(site_toml)
    with site_toml.open("a") as out:
        out.write("[home_assistant]\nenabled = true\ninterval_seconds = 0.2\n")
    process = ServerProcess(tmp_path, broker.url, MQTT_USERS["server"])
    process.start()
    try:
        yield process
    finally:
        process.stop()


def lane_status(state: str) -> str:
    return json.dumps(
        {"v": 1, "id": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat(), "state": state}
    )


class HomeAssistant(MqttPeer):
    """Home Assistant's own login, subscribed as it does, and to a topic it may not read;
    ``topics`` keeps every topic delivered, whatever the test consumed."""

    def __init__(self, broker: MosquittoServer) -> None:
        self.topics: list[str] = []
        super().__init__(
            broker.host, broker.port, HOME_ASSISTANT_USER, USERS[HOME_ASSISTANT_USER],
            [f"{PREFIX}/#", f"{ROOT}/lanes/+/status", f"{ROOT}/lanes/+/summary",
             f"{ROOT}/server/status", f"{ROOT}/lanes/+/arrivals"],
        )  # fmt: skip

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.topics.append(message.topic)
        super()._on_message(client, userdata, message)


def value_of(template: str, message: Received) -> Any:
    """Home Assistant's ``{{ value_json.KEY }}`` for one message (the templates we send)."""
    key = template.removeprefix("{{ value_json.").removesuffix(" }}")
    assert key.isidentifier(), template
    return message.json()[key]


def summary_of(ha: MqttPeer, lane: str, predicate: Any) -> dict[str, Any]:
    topic = f"{ROOT}/lanes/{lane}/summary"
    while True:
        summary: dict[str, Any] = ha.wait_for(lambda m: m.topic == topic, timeout=15).json()
        if predicate(summary):
            return summary


def test_home_assistant_discovers_each_lane_and_follows_its_state(
    server: ServerProcess, broker: MosquittoServer
) -> None:
    lane_1 = MqttPeer(broker.host, broker.port, "lane-1", MQTT_USERS["lane-1"],
                      [f"{ROOT}/lanes/1/acks"])  # fmt: skip
    ha: HomeAssistant | None = None
    try:
        lane_1.publish(f"{ROOT}/lanes/1/status", lane_status("online"), retain=True)
        ready = make_ready(server, "DK 1234 AB", slot="R2-14")
        # Home Assistant starts after the server: everything it needs is retained.
        ha = HomeAssistant(broker)
        configs: dict[str, dict[str, Any]] = {}
        states: dict[str, Received] = {}
        while len(configs) < 6 or len(states) < 4:
            message = ha.wait_for(lambda m: True, timeout=15)
            if message.topic.startswith(f"{PREFIX}/"):
                configs[message.topic] = message.json()
            else:
                states[message.topic] = message
        assert sorted(configs) == sorted(
            f"{PREFIX}/{component}/drivethru_{SITE}_lane_{lane}_{what}/config"
            for lane in LANES
            for component, what in (("binary_sensor", "online"), ("sensor", "waiting"),
                                    ("sensor", "last_arrival"))
        )  # fmt: skip
        # Every state topic a config names is readable by Home Assistant's login.
        for config in configs.values():
            assert config["state_topic"] in states or config["state_topic"].endswith("2/status")
        online = configs[f"{PREFIX}/binary_sensor/drivethru_{SITE}_lane_1_online/config"]
        waiting = configs[f"{PREFIX}/sensor/drivethru_{SITE}_lane_1_waiting/config"]
        last = configs[f"{PREFIX}/sensor/drivethru_{SITE}_lane_1_last_arrival/config"]
        assert value_of(online["value_template"], states[online["state_topic"]]) == "online"
        assert value_of(waiting["value_template"], states[waiting["state_topic"]]) == 0
        assert value_of(last["value_template"], states[last["state_topic"]]) is None
        server_up = states[f"{ROOT}/server/status"]
        assert value_of(waiting["availability"][0]["value_template"], server_up) == "online"

        # A car at lane 1: released to the window, one car waiting, its arrival the latest.
        car = arrival(code=ready["code"])
        lane_1.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(car))
        assert lane_1.wait_for(ack_for(car["id"])).json()["outcome"] == "released"
        summary = summary_of(ha, "1", lambda s: s["waiting"] == 1)
        assert summary["last_outcome"] == "released"
        assert datetime.fromisoformat(summary["last_arrival"]) == datetime.fromisoformat(car["at"])
        # The car leaves without it: back on the shelf, nobody waiting.
        with server.client("operator-1") as operator:
            answer = operator.post("/api/lanes/1/return", json={"permit_id": ready["permit"]["id"]})
            assert answer.status_code == 200, answer.text
        assert summary_of(ha, "1", lambda s: s["waiting"] == 0)["last_outcome"] == "released"
        # The lane's edge goes away: its last will reaches Home Assistant's online sensor.
        lane_1.publish(f"{ROOT}/lanes/1/status", lane_status("offline"), retain=True)
        gone = ha.wait_for(lambda m: m.topic == online["state_topic"])
        assert value_of(online["value_template"], gone) == "offline"
        # Nothing of the lanes' traffic reaches Home Assistant: the arrival was not delivered.
        ha.drain(0.5)
        assert not [topic for topic in ha.topics if topic.endswith("/arrivals")]
        # A Home Assistant that starts now gets the configs and the latest states, retained.
        again = HomeAssistant(broker)
        try:
            retained = {m.topic: m for m in again.drain(1.0) if m.retained}
        finally:
            again.close()
        assert set(configs) <= set(retained)
        assert retained[f"{ROOT}/lanes/1/summary"].json()["waiting"] == 0
        assert retained[online["state_topic"]].json()["state"] == "offline"
    finally:
        lane_1.close()
        if ha is not None:
            ha.close()
