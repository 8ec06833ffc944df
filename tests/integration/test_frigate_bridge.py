"""The Frigate bridge process between Frigate's own Mosquitto and drivethru's, with a test
subscriber acking arrivals as the server would."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.broker_acl import Access, DeviceAccess, SiteAccess, TopicGrant
from core.contract import Arrival
from edge_lane.frigate.sightings import visit_of
from tests.conftest import MQTT_USERS, SITE
from tests.integration.test_edge_lane import fake_server, module_process, outbox_ids
from tests.services import MosquittoServer, require_service, running_mosquitto

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "frigate"
EVENT_ID = "1767225600.123456-dk1234"
NVR_USERS = {"frigate": "frigate-test-secret"}
LANE_ENV, NVR_ENV = "DRIVETHRU_TEST_LANE_PASSWORD", "DRIVETHRU_TEST_NVR_PASSWORD"


@pytest.fixture
def nvr_broker() -> Iterator[MosquittoServer]:
    """Frigate's own broker, another Mosquitto, where Frigate and the bridge share a user."""
    require_service("mosquitto", "mosquitto is not installed")
    access = SiteAccess(
        "nvr", (DeviceAccess("frigate", (TopicGrant("frigate/#", Access.READWRITE),)),)
    )
    with running_mosquitto(NVR_USERS, access, bind_client_ids=False) as server:
        yield server


def write_config(path: Path, drivethru: MosquittoServer, nvr: MosquittoServer) -> Path:
    path.write_text(
        f"""
site = "{SITE}"
[frigate]
broker = "{nvr.url}"
topic_prefix = "frigate"
min_score = 0.8
username = "frigate"
password_env = "{NVR_ENV}"
[[cameras]]
camera = "drive_thru_1"
zones = ["window_1"]
lane = "1"
[broker]
url = "{drivethru.url}"
username = "lane-1"
password_env = "{LANE_ENV}"
[outbox]
path = "{path.parent / "frigate-outbox.db"}"
retry_seconds = 2
"""
    )
    return path


@contextlib.contextmanager
def bridge(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The Frigate bridge process, stopped with SIGTERM (killed if it lingers)."""
    env = {LANE_ENV: MQTT_USERS["lane-1"], NVR_ENV: NVR_USERS["frigate"]}
    with module_process(
        "edge_lane.frigate", ["--config", str(config)], log, env, stop=signal.SIGTERM
    ) as process:
        yield process


def wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def frigate_publisher(nvr: MosquittoServer) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="frigate-nvr")
    client.username_pw_set("frigate", NVR_USERS["frigate"])
    client.connect(nvr.host, nvr.port)
    client.loop_start()
    return client


def publish(client: mqtt.Client, topic: str, document: dict[str, Any] | bytes) -> None:
    payload = document if isinstance(document, bytes) else json.dumps(document).encode()
    client.publish(topic, payload, qos=1).wait_for_publish(5)


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return document


def test_frigate_plate_reads_become_acked_arrivals_of_one_visit(
    mosquitto: MosquittoServer, nvr_broker: MosquittoServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "frigate-lane.toml", mosquitto, nvr_broker)
    log = tmp_path / "frigate.log"
    with fake_server(mosquitto) as server, bridge(config, log) as process:
        connected = wait_until(lambda: log.read_text().count("terhubung ke broker") >= 2, 20)
        assert connected, log.read_text()
        nvr = frigate_publisher(nvr_broker)
        try:
            events, updates = "frigate/events", "frigate/tracked_object_update"
            publish(nvr, events, fixture("event_new_no_plate.json"))  # in window_1, no plate
            publish(
                nvr, updates, {**fixture("lpr_update.json"), "plate": "DK 1234 A", "score": 0.82}
            )
            publish(nvr, updates, b"{broken")  # malformed: counted, the loop goes on
            publish(nvr, updates, {**fixture("lpr_update.json"), "camera": "parking"})
            publish(nvr, events, fixture("event_update.json"))  # a better plate, same event
            publish(nvr, updates, {**fixture("lpr_update.json"), "score": 0.95})  # same again
            assert server.wait_for(lambda: len(server.arrivals) >= 2, 15), log.read_text()
            time.sleep(1.0)  # nothing more may come
        finally:
            nvr.loop_stop()
            nvr.disconnect()
        arrivals: list[Arrival] = list(server.arrivals)
        assert len({a.id for a in arrivals}) == 2, [a.plate for a in arrivals]
        assert {a.source for a in arrivals} == {"frigate"}
        assert {a.visit for a in arrivals} == {visit_of(EVENT_ID)}
        plates = [(a.plate.text, a.plate.frames) for a in arrivals if a.plate is not None]
        assert plates[0] == ("DK1234A", 1)
        assert plates[-1] == ("DK1234AB", 2)
        outbox = tmp_path / "frigate-outbox.db"
        assert wait_until(lambda: outbox_ids(outbox) == set(), 10)
        assert process.poll() is None  # malformed input did not stop it
    text = log.read_text()
    assert "malformed Frigate message" in text
    assert "Pak Wayan" in text  # Frigate's known-plate name, logged as evidence


def test_arrivals_wait_in_the_outbox_until_the_server_acks(
    mosquitto: MosquittoServer, nvr_broker: MosquittoServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "frigate-lane.toml", mosquitto, nvr_broker)
    log = tmp_path / "frigate.log"
    outbox = tmp_path / "frigate-outbox.db"
    with bridge(config, log):
        assert wait_until(lambda: log.read_text().count("terhubung ke broker") >= 2, 20)
        nvr = frigate_publisher(nvr_broker)
        try:
            publish(nvr, "frigate/events", fixture("event_update.json"))
        finally:
            nvr.loop_stop()
            nvr.disconnect()
        assert wait_until(lambda: outbox.exists() and len(outbox_ids(outbox)) == 1, 10)
        # No server yet: the arrival stays; when one comes, the retry delivers and it is acked.
        with fake_server(mosquitto) as server:
            assert server.wait_for(lambda: len(server.arrivals) >= 1, 15), log.read_text()
            assert wait_until(lambda: outbox_ids(outbox) == set(), 10)
        assert server.arrivals[0].source == "frigate"
