"""Frigate messages in, server releases out: a site that releases on a plate.

The test site of tests/e2e/test_frigate_server_flow.py releases on a code only, so a Frigate
read there pre-stages. Here the site says `release_on = "code_or_plate"`: the plate Frigate
read releases the permit to the window, and every message about the one Frigate event (a
worse read first, the same read again, the same event after the bridge restarts) stays one
visit with one release.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_lane.frigate.sightings import visit_of
from tests.conftest import MQTT_USERS
from tests.e2e.test_server_lane_flow import lane_1, make_ready
from tests.integration.test_edge_lane import outbox_ids
from tests.integration.test_frigate_bridge import (
    EVENT_ID,
    bridge,
    fixture,
    frigate_publisher,
    nvr_broker,
    publish,
    wait_until,
    write_config,
)
from tests.mqtt_peer import MqttPeer, Received
from tests.server_process import ServerProcess, write_site_toml
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(180)]
__all__ = ["lane_1", "nvr_broker"]  # fixtures used by name

EVENTS, UPDATES = "frigate/events", "frigate/tracked_object_update"


@pytest.fixture
def plate_site(tmp_path: Path, mosquitto: MosquittoServer) -> Iterator[ServerProcess]:
    """`drivethru serve` for a site that releases on a code or a plate."""
    workdir = tmp_path / "server"
    workdir.mkdir()
    write_site_toml(workdir / "site.toml", release_on="code_or_plate")
    process = ServerProcess(workdir, mosquitto.url, MQTT_USERS["server"])
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _frigate_says(nvr_broker: MosquittoServer, *messages: tuple[str, dict[str, object]]) -> None:
    nvr = frigate_publisher(nvr_broker)
    try:
        for topic, document in messages:
            publish(nvr, topic, document)
    finally:
        nvr.loop_stop()
        nvr.disconnect()


def _releases_of_the_permit(messages: list[Received], permit_id: str) -> list[Received]:
    return [
        m
        for m in messages
        if m.topic.endswith("/releases") and permit_id in {p["id"] for p in m.json()["permits"]}
    ]


def test_a_frigate_plate_read_releases_the_permit_once_for_one_frigate_event(
    plate_site: ServerProcess,
    mosquitto: MosquittoServer,
    nvr_broker: MosquittoServer,
    lane_1: MqttPeer,
    tmp_path: Path,
) -> None:
    ready = make_ready(plate_site, "DK 1234 AB", slot="R2-14")
    permit_id = ready["permit"]["id"]
    config = write_config(tmp_path / "frigate-lane.toml", mosquitto, nvr_broker)
    outbox = tmp_path / "frigate-outbox.db"
    log = tmp_path / "frigate.log"
    with bridge(config, log):
        assert wait_until(lambda: log.read_text().count("terhubung ke broker") >= 2, 20)
        _frigate_says(nvr_broker, (EVENTS, fixture("event_update.json")))
        release = lane_1.wait_for(lambda m: m.topic.endswith("/releases"), timeout=15).json()
        ack = lane_1.wait_for(lambda m: m.topic.endswith("/acks")).json()
        assert ack["outcome"] == "released", ack
        assert ack["permits"] == [permit_id]
        assert release["visit"] == str(visit_of(EVENT_ID))
        assert release["plate"] == "DK1234AB"
        assert [p["slot"] for p in release["permits"]] == ["R2-14"]
        assert not release["see_operator"]
        with plate_site.client("officer") as officer:
            permit = officer.get(f"/api/applications/{permit_id}").json()
        assert (permit["status"], permit["lane"]) == ("released", "1")
        # Frigate says the same again: the same event, and its lpr update of the same plate.
        _frigate_says(
            nvr_broker,
            (EVENTS, fixture("event_update.json")),
            (UPDATES, {**fixture("lpr_update.json"), "score": 0.95}),
        )
        assert wait_until(lambda: outbox_ids(outbox) == set(), 10)
    # The bridge forgets what it sent when it restarts: the event again is a new arrival id
    # of the same visit, and the server keeps it one visit with one release.
    with bridge(config, log):
        assert wait_until(lambda: log.read_text().count("terhubung ke broker") >= 4, 20)
        _frigate_says(nvr_broker, (EVENTS, fixture("event_update.json")))
        again = lane_1.wait_for(lambda m: m.topic.endswith("/acks"), timeout=15).json()
        assert again["id"] != ack["id"]
        assert again["permits"] == [permit_id]
        # The visit's outcome stands: released, to the same permit, recorded once (below).
        assert again["outcome"] == "released", again
        assert wait_until(lambda: outbox_ids(outbox) == set(), 10)
    later = lane_1.drain(1.0)
    assert not [m for m in later if m.topic.endswith("/acks")], "one ack per arrival id"
    with plate_site.client("officer") as officer:
        after = officer.get(f"/api/applications/{permit_id}").json()
    assert after == permit  # nothing more recorded: one release of one visit
    visits = {m.json()["visit"] for m in _releases_of_the_permit(later, permit_id)}
    assert visits <= {release["visit"]}
