"""Both brokers refuse what the contract's ACL forbids; no login takes over another's session."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.contract import Topics
from edge_lane import mosquitto as mosquitto_files
from tests.conftest import LANES, MOSQUITTO_MISSING, MQTT_USERS, SITE, TEAMS
from tests.integration.test_services import QUIET, connect_as, mqtt_client
from tests.services import (
    BrokerEndpoint,
    drivethru_acl,
    require_service,
    running_mosquitto,
)

T = Topics(SITE)


def test_a_lane_cannot_publish_under_another_lanes_topic(broker: BrokerEndpoint) -> None:
    with connect_as(broker, "server") as server, connect_as(broker, "lane-1") as lane:
        assert not server.subscribe(T.all_arrivals).is_failure
        lane.publish(T.arrivals("2"), "forged")
        lane.publish(T.acks("1"), "forged ack")
        lane.publish(T.arrivals("1"), "genuine")
        received = server.receive(1) + server.received_within(QUIET)
    assert [(m.topic, m.payload) for m in received] == [(T.arrivals("1"), b"genuine")]


def test_a_lane_cannot_read_another_lanes_acks_or_a_teams_manifest(
    broker: BrokerEndpoint,
) -> None:
    with connect_as(broker, "server") as server:
        server.publish(T.team_manifest("a"), "names and plates", retain=True)
    with connect_as(broker, "lane-1") as lane, connect_as(broker, "server") as server:
        # Mosquitto grants and filters each message; the embedded broker refuses the SUBSCRIBE.
        for topic in (T.acks("2"), T.team_manifest("a"), f"{T.root}/#"):
            lane.subscribe(topic)
        assert not lane.subscribe(T.acks("1")).is_failure
        server.publish(T.acks("2"), "for lane 2")
        server.publish(T.acks("1"), "for lane 1")
        received = lane.receive(1) + lane.received_within(QUIET)
    assert [(m.topic, m.payload) for m in received] == [(T.acks("1"), b"for lane 1")]


@pytest.mark.mosquitto
@pytest.mark.parametrize("stolen_id", ["server", "drivethru-server"])
def test_a_lane_login_cannot_take_over_the_servers_session(stolen_id: str) -> None:
    require_service("mosquitto", MOSQUITTO_MISSING)
    disconnects: list[object] = []
    with (
        running_mosquitto(MQTT_USERS, drivethru_acl(SITE, LANES, TEAMS)) as mosquitto,
        connect_as(mosquitto, "server", client_id="drivethru-server") as server,
    ):
        server.client.on_disconnect = lambda *args: disconnects.append(args)
        assert not server.subscribe(T.all_arrivals).is_failure
        for _ in range(3):
            with connect_as(mosquitto, "lane-1", client_id=stolen_id) as lane:
                lane.publish(T.arrivals("1"), "still heard")
        received = server.receive(3) + server.received_within(QUIET)
        assert disconnects == []
    assert [m.payload for m in received] == [b"still heard"] * 3


@pytest.mark.mosquitto
def test_mosquitto_reads_the_password_hashes_made_without_mosquitto_passwd(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_service("mosquitto", MOSQUITTO_MISSING)
    monkeypatch.setattr(mosquitto_files, "mosquitto_passwd_tool", lambda: None)
    with running_mosquitto(MQTT_USERS, drivethru_acl(SITE, LANES, TEAMS)) as server:
        assert "$7$101$" in (server.directory / "passwd").read_text()
        with connect_as(server, "lane-2") as lane:
            assert lane.connect_result is not None
            assert not lane.connect_result.is_failure
        with mqtt_client(
            server.host, server.port, "lane-2", "wrong", expect_refusal=True
        ) as refused:
            assert refused.connect_result is not None
            assert refused.connect_result.is_failure


def _drivethru(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_broker_config_writes_the_acl_and_refuses_a_missing_password(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        f'site = "{SITE}"\n[[lanes]]\nlane = "1"\n[[lanes]]\nlane = "2"\n'
        '[mosquitto]\nhost = "0.0.0.0"\nport = 8883\nteams = ["a"]\n'
    )
    env = {
        "DRIVETHRU_MQTT_PASSWORD_SERVER": MQTT_USERS["server"],
        "DRIVETHRU_MQTT_PASSWORD_LANE_1": MQTT_USERS["lane-1"],
        "DRIVETHRU_MQTT_PASSWORD_LANE_2": MQTT_USERS["lane-2"],
    }
    refused = _drivethru("broker", "config", "--config", str(site), "--out", str(tmp_path / "x"),
                         env=env)  # fmt: skip
    assert refused.returncode == 2
    assert "DRIVETHRU_MQTT_PASSWORD_TEAM_A" in refused.stderr
    assert "belum disetel" in refused.stderr
    assert not (tmp_path / "x" / "passwd").exists()
    env["DRIVETHRU_MQTT_PASSWORD_TEAM_A"] = MQTT_USERS["team-a"]
    out = tmp_path / "broker"
    done = _drivethru("broker", "config", "--config", str(site), "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    config = (out / "mosquitto.conf").read_text().splitlines()
    expected = [
        "allow_anonymous false",
        "use_username_as_clientid true",
        "listener 8883 0.0.0.0",
        f"acl_file {out / 'acl'}",
        f"password_file {out / 'passwd'}",
        "persistence true",
    ]
    assert [line for line in expected if line not in config] == []
    assert f"topic write {T.arrivals('2')}" in (out / "acl").read_text()
    passwd = (out / "passwd").read_text()
    assert MQTT_USERS["lane-1"] not in passwd
    assert sorted(line.split(":")[0] for line in passwd.splitlines()) == [
        "lane-1", "lane-2", "server", "team-a",
    ]  # fmt: skip
    assert (out / "passwd").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_the_embedded_broker_refuses_to_bind_beyond_loopback(host: str) -> None:
    refused = _drivethru("broker", "--host", host, "--lane", "1")
    assert refused.returncode == 2
    assert "--allow-remote" in refused.stderr
    assert "hanya untuk mesin ini" in refused.stderr


def test_the_embedded_broker_serves_loopback_with_per_device_logins(tmp_path: Path) -> None:
    from tests.services import free_port

    port = free_port()
    env = {**os.environ, "DRIVETHRU_MQTT_PASSWORD_SERVER": MQTT_USERS["server"],
           "DRIVETHRU_MQTT_PASSWORD_LANE_1": MQTT_USERS["lane-1"]}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "launcher", "broker", "--port", str(port), "--lane", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        endpoint = BrokerEndpoint("embedded", "127.0.0.1", port, MQTT_USERS)
        deadline = time.monotonic() + 20
        while True:
            try:
                with (
                    connect_as(endpoint, "server") as server,
                    connect_as(endpoint, "lane-1") as lane,
                ):
                    assert not server.subscribe(T.all_arrivals).is_failure
                    lane.publish(T.arrivals("2"), "forged")
                    lane.publish(T.arrivals("1"), "genuine")
                    received = server.receive(1) + server.received_within(QUIET)
                break
            except (OSError, AssertionError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(10)
    assert [m.payload for m in received] == [b"genuine"]
