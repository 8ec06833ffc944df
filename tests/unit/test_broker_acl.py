"""The broker ACL the MQTT contract implies, and the Mosquitto files made from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.broker_acl import mosquitto_acl, site_access
from core.contract import Topics
from core.errors import ContractError
from edge_lane.errors import ConfigError
from edge_lane.mosquitto import load_broker_site

T = Topics("badung")
ACCESS = site_access(T, ["1", "2"], ["a"])


def test_each_device_has_its_own_user() -> None:
    assert ACCESS.users == ("server", "lane-1", "lane-2", "team-a")


def test_a_lane_publishes_only_its_own_arrivals_and_status() -> None:
    lane = ACCESS.of("lane-1")
    assert lane is not None
    assert lane.may_publish(T.arrivals("1"))
    assert lane.may_publish(T.lane_status("1"))
    assert lane.may_publish(T.departures("1"))
    assert not lane.may_publish(T.arrivals("2"))
    assert not lane.may_publish(T.departures("2"))
    assert not lane.may_publish(T.acks("1"))  # a forged ack would empty an edge's outbox
    assert not lane.may_publish(T.releases("1"))
    assert not lane.may_publish(T.server_status)
    assert not lane.may_publish(Topics("other").arrivals("1"))


def test_a_lane_reads_only_its_own_acks_releases_and_manifest() -> None:
    lane = ACCESS.of("lane-1")
    assert lane is not None
    for topic in (T.acks("1"), T.releases("1"), T.lane_manifest("1"), T.server_status):
        assert lane.may_read(topic)
        assert lane.may_subscribe(topic)
    for topic in (T.acks("2"), T.team_manifest("a"), T.arrivals("2"), T.lane_status("2")):
        assert not lane.may_read(topic)
    for wide in (f"{T.root}/#", "#", T.acks("+"), f"{T.root}/lanes/1/#"):
        assert not lane.may_subscribe(wide)


def test_a_team_writes_handovers_and_status_and_reads_its_manifest_and_acks() -> None:
    team = ACCESS.of("team-a")
    assert team is not None
    assert team.may_publish(T.team_handovers("a"))
    assert team.may_publish(T.team_status("a"))
    assert team.may_read(T.team_manifest("a"))
    assert team.may_read(T.team_acks("a"))
    assert not team.may_publish(T.arrivals("1"))
    assert not team.may_read(T.team_manifest("b"))


def test_the_server_reads_what_devices_send_and_writes_what_they_read() -> None:
    server = ACCESS.of("server")
    assert server is not None
    assert server.may_subscribe(T.shared_arrivals)
    assert server.may_subscribe(T.all_arrivals)
    assert server.may_subscribe(T.shared(T.all_departures))
    for topic in (
        T.arrivals("9"), T.departures("9"), T.lane_status("9"), T.team_handovers("b"),
        T.team_status("b"),
    ):  # fmt: skip
        assert server.may_read(topic)
    for topic in (T.acks("9"), T.releases("9"), T.lane_manifest("9"), T.team_acks("b")):
        assert server.may_publish(topic)
    assert server.may_publish(T.team_manifest("b"))
    assert server.may_publish(T.server_status)
    assert not server.may_publish(T.arrivals("1"))  # nobody may speak for a lane
    assert not server.may_publish(T.departures("1"))
    assert not server.may_subscribe(f"{T.root}/#")


def test_the_mosquitto_acl_lists_each_user_with_its_topics() -> None:
    text = mosquitto_acl(ACCESS)
    lane_block = text.split("user lane-1\n")[1].split("\n\n")[0].splitlines()
    assert lane_block == [
        f"topic write {T.arrivals('1')}",
        f"topic write {T.departures('1')}",
        f"topic write {T.lane_status('1')}",
        f"topic read {T.acks('1')}",
        f"topic read {T.releases('1')}",
        f"topic read {T.lane_manifest('1')}",
        f"topic read {T.server_status}",
    ]


@pytest.mark.parametrize("name", ["+", "#", "1/2", "", "a b"])
def test_a_lane_name_that_would_widen_its_grants_is_refused(name: str) -> None:
    with pytest.raises(ContractError):
        site_access(T, [name])


def test_the_site_file_gives_lanes_and_the_mosquitto_table_teams(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        'site = "denpasar"\n[[lanes]]\nlane = "3"\nwindow = "1"\n'
        '[mosquitto]\nteams = ["x"]\nservers = ["server-1", "server-2"]\n'
        'password_env = { "lane-3" = "LANE_THREE_SECRET" }\n'
    )
    broker = load_broker_site(site, lanes=["4"])
    assert broker.access.site == "denpasar"
    assert broker.access.users == ("server-1", "server-2", "lane-3", "lane-4", "team-x")
    assert broker.password_envs()["lane-3"] == "LANE_THREE_SECRET"
    assert broker.password_envs()["team-x"] == "DRIVETHRU_MQTT_PASSWORD_TEAM_X"


def test_a_missing_password_is_refused_naming_its_variable(tmp_path: Path) -> None:
    broker = load_broker_site(None, lanes=["1"])
    environ = {"DRIVETHRU_MQTT_PASSWORD_SERVER": "s" * 24}
    with pytest.raises(ConfigError, match="DRIVETHRU_MQTT_PASSWORD_LANE_1") as refused:
        broker.passwords(environ)
    assert "belum disetel" in refused.value.message


def test_a_site_without_lanes_is_refused() -> None:
    with pytest.raises(ConfigError, match="no lanes"):
        load_broker_site(None)
