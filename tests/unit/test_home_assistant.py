"""Home Assistant discovery: the configs the server publishes and the ACL that lets Home
Assistant read them (and nothing else)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.broker_acl import SERVER_USER, lane_user, mosquitto_acl, site_access
from core.contract import Topics
from core.home_assistant import (
    HOME_ASSISTANT_USER,
    HomeAssistantSettings,
    LaneSummary,
    discovery_messages,
)
from edge_lane.mosquitto import load_broker_site

T = Topics("badung")
ON = HomeAssistantSettings(enabled=True)


def test_each_lane_gets_an_online_sensor_a_waiting_count_and_a_last_arrival() -> None:
    messages = discovery_messages(T, ["1", "2"], ON, site_name="MPP Badung", version="1.2.3")
    topics = [m.topic for m in messages]
    assert topics == [
        "homeassistant/binary_sensor/drivethru_badung_lane_1_online/config",
        "homeassistant/sensor/drivethru_badung_lane_1_waiting/config",
        "homeassistant/sensor/drivethru_badung_lane_1_last_arrival/config",
        "homeassistant/binary_sensor/drivethru_badung_lane_2_online/config",
        "homeassistant/sensor/drivethru_badung_lane_2_waiting/config",
        "homeassistant/sensor/drivethru_badung_lane_2_last_arrival/config",
    ]
    online, waiting, last = (m.config for m in messages[:3])
    # Online reads the edge's own retained status (its last will says offline).
    assert online["state_topic"] == "drivethru/v1/badung/lanes/1/status"
    assert (online["payload_on"], online["payload_off"]) == ("online", "offline")
    assert online["device_class"] == "connectivity"
    assert "availability" not in online  # true to the lane even while the server is down
    assert waiting["state_topic"] == last["state_topic"] == "drivethru/v1/badung/lanes/1/summary"
    assert waiting["value_template"] == "{{ value_json.waiting }}"
    assert last["device_class"] == "timestamp"
    assert waiting["availability"][0]["topic"] == "drivethru/v1/badung/server/status"
    # One device per lane, unique ids Home Assistant keeps across restarts.
    assert len({m.config["unique_id"] for m in messages}) == 6
    assert online["device"] == waiting["device"]
    assert online["device"]["name"] == "MPP Badung jalur / lane 1"
    assert online["device"]["sw_version"] == online["origin"]["sw_version"] == "1.2.3"


def test_names_home_assistant_refuses_are_replaced_and_the_prefix_is_the_sites() -> None:
    settings = HomeAssistantSettings(enabled=True, discovery_prefix="ha")
    [message, *_] = discovery_messages(Topics("kota.denpasar"), ["drive.1"], settings)
    assert message.topic == "ha/binary_sensor/drivethru_kota_denpasar_lane_drive_1_online/config"
    with pytest.raises(ValidationError):
        HomeAssistantSettings(discovery_prefix="home/assistant")  # would escape the ACL grant


def test_the_summary_carries_no_plate_name_or_code() -> None:
    summary = LaneSummary(site="badung", lane="1", waiting=2)
    assert set(summary.model_dump()) == {
        "v", "id", "at", "site", "lane", "waiting", "last_arrival", "last_outcome",
    }  # fmt: skip
    with pytest.raises(ValidationError):
        LaneSummary(site="badung", lane="1", waiting=-1)


def test_home_assistant_may_read_the_lanes_state_and_write_only_its_birth_message() -> None:
    access = site_access(T, ["1", "2"], ["a"], home_assistant=ON)
    ha = access.of(HOME_ASSISTANT_USER)
    server = access.of(SERVER_USER)
    assert ha is not None
    assert server is not None
    for message in discovery_messages(T, ["1", "2"], ON):
        assert server.may_publish(message.topic)
        assert ha.may_read(message.topic)
        for key in ("state_topic", "json_attributes_topic"):
            if key in message.config:
                assert ha.may_read(message.config[key]), message.config[key]
    assert ha.may_subscribe("homeassistant/#")
    assert ha.may_read(T.server_status)
    assert ha.may_publish("homeassistant/status")
    assert server.may_publish(T.lane_summary("2"))
    # Nothing a lane or a team says besides its status; nothing to publish in the site.
    for topic in (T.arrivals("1"), T.acks("1"), T.releases("1"), T.lane_manifest("1"),
                  T.team_manifest("a"), T.team_handovers("a")):  # fmt: skip
        assert not ha.may_read(topic), topic
        assert not ha.may_publish(topic), topic
    assert not ha.may_publish(T.lane_summary("1"))
    assert not ha.may_publish("homeassistant/sensor/x/config")
    lane = access.of(lane_user("1"))
    assert lane is not None
    assert not lane.may_publish(T.lane_summary("1"))


def test_without_home_assistant_there_is_no_such_user_or_grant() -> None:
    for settings in (None, HomeAssistantSettings()):
        access = site_access(T, ["1"], home_assistant=settings)
        assert HOME_ASSISTANT_USER not in access.users
        server = access.of(SERVER_USER)
        assert server is not None
        assert not server.may_publish(T.lane_summary("1"))
        assert not server.may_publish("homeassistant/sensor/x/config")


def test_the_broker_config_of_a_site_with_home_assistant_has_its_login(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        'site = "badung"\nlanes = [{lane = "1", window = "1"}]\n'
        '[home_assistant]\nenabled = true\ndiscovery_prefix = "ha"\n'
    )
    acl = mosquitto_acl(load_broker_site(site).access)
    assert f"user {HOME_ASSISTANT_USER}\ntopic read ha/#\n" in acl
    assert "topic write ha/+/+/config" in acl
    site.write_text('site = "badung"\nlanes = [{lane = "1", window = "1"}]\n')
    assert HOME_ASSISTANT_USER not in mosquitto_acl(load_broker_site(site).access)
