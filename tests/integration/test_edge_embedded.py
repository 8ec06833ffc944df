"""The lane agent against the embedded broker (MQTT 3.1.1, no ACL): the same one-car-one-visit."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_lane.broker import EmbeddedBroker
from tests.conftest import LANES, MOSQUITTO_MISSING, MQTT_USERS, SITE, TEAMS
from tests.integration.test_edge_lane import (
    CARS,
    CODE_1,
    CODE_3,
    PASSWORD_ENV,
    by_visit,
    edge,
    fake_server,
    lane_args,
    lane_avi,
    outbox_ids,
)
from tests.services import drivethru_acl, require_service, running_mosquitto

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
__all__ = ["lane_avi"]  # the module-scoped video fixture, shared


def test_each_car_is_one_visit_on_the_embedded_broker(
    embedded_broker: EmbeddedBroker, lane_avi: Path, tmp_path: Path
) -> None:
    config = tmp_path / "lane.toml"
    config.write_text('site = "badung"\nlane = "1"\n[broker]\nprotocol = "3.1.1"\n')
    log = tmp_path / "edge.log"
    outbox = tmp_path / "outbox.db"
    with fake_server(embedded_broker) as server:  # type: ignore[arg-type]
        args = lane_args(embedded_broker, lane_avi, outbox, "--fast")  # type: ignore[arg-type]
        with edge(["--config", str(config), *args], log) as process:
            assert process.wait(90) == 0, log.read_text()
        visits = by_visit(server.arrivals)
    assert [v[-1].plate.text if v[-1].plate else None for v in visits] == [c.plate for c in CARS]
    codes = [{a.code_sha256 for a in v} - {None} for v in visits]
    assert codes == [{CODE_1.sha256}, set(), {CODE_3.sha256}, set()]
    assert outbox_ids(outbox) == set()


@pytest.mark.mosquitto
def test_the_edge_speaks_tls_to_a_broker_with_the_sites_ca(lane_avi: Path, tmp_path: Path) -> None:
    """mqtts:// with the CA file from the lane config; the ACL applies as on plain MQTT."""
    require_service("mosquitto", MOSQUITTO_MISSING)
    with running_mosquitto(MQTT_USERS, drivethru_acl(SITE, LANES, TEAMS), tls=True) as broker:
        assert broker.ca_file is not None
        assert broker.tls_port is not None
        config = tmp_path / "lane.toml"
        config.write_text(
            'site = "badung"\nlane = "1"\n[broker]\n'
            f'url = "mqtts://127.0.0.1:{broker.tls_port}"\nca_file = "{broker.ca_file}"\n'
        )
        log = tmp_path / "edge.log"
        outbox = tmp_path / "outbox.db"
        with fake_server(broker) as server:
            args = [
                "--config", str(config), "--site", SITE, "--lane", "1",
                "--source", str(lane_avi), "--username", "lane-1",
                "--password-env", PASSWORD_ENV, "--outbox", str(outbox), "--fast",
            ]  # fmt: skip
            with edge(args, log) as process:
                assert process.wait(90) == 0, log.read_text()
            visits = by_visit(server.arrivals)
        assert len(visits) == len(CARS)
        assert outbox_ids(outbox) == set()
