"""Frigate's plate reads through the bridge to the real server: acked with the READY permit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_server_lane_flow import lane_1, make_ready
from tests.integration.test_edge_lane import outbox_ids
from tests.integration.test_frigate_bridge import (
    bridge,
    fixture,
    frigate_publisher,
    nvr_broker,
    publish,
    wait_until,
    write_config,
)
from tests.mqtt_peer import MqttPeer
from tests.server_process import ServerProcess
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(180)]
__all__ = ["lane_1", "nvr_broker"]  # fixtures used by name


def test_a_frigate_plate_read_reaches_the_server_and_finds_the_ready_permit(
    server: ServerProcess,
    mosquitto: MosquittoServer,
    nvr_broker: MosquittoServer,
    lane_1: MqttPeer,
    tmp_path: Path,
) -> None:
    make_ready(server, "DK 1234 AB", slot="R2-14")
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
        ack = lane_1.wait_for(lambda m: m.topic.endswith("/acks")).json()
        # The test site releases on a code only: a plate alone pre-stages the permit.
        assert ack["outcome"] == "prestaged", ack
        assert len(ack["permits"]) == 1
        assert wait_until(lambda: outbox_ids(outbox) == set(), 10)
