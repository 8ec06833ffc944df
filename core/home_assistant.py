"""Lane status for Home Assistant through its MQTT discovery: what the server publishes.

For each lane three entities, each announced by a retained config message on
``{prefix}/{component}/{object_id}/config`` (Home Assistant's discovery topic):

- ``binary_sensor`` *online*: reads the lane's own retained ``lanes/{lane}/status`` (the
  edge's last will says offline), so it stays true to the lane even while the server is down;
- ``sensor`` *cars waiting* and ``sensor`` *last arrival*: read the retained
  ``lanes/{lane}/summary`` the server publishes (`LaneSummary`); they are unavailable while
  ``server/status`` says offline.

No plate, name or code is in any of them. Pure: the payloads only; api/home_assistant.py
publishes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.contract import Message, Topics

HOME_ASSISTANT_USER = "homeassistant"
"""The MQTT user Home Assistant logs in as (core/broker_acl.py grants what it may read)."""


class HomeAssistantSettings(BaseModel):
    """``[home_assistant]`` in site.toml: off unless ``enabled = true``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    discovery_prefix: str = Field(default="homeassistant", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    """Home Assistant's MQTT discovery prefix (its default is ``homeassistant``)."""
    interval_seconds: float = Field(default=2.0, ge=0.1, le=60.0)
    """How often the server looks at the read models for a changed summary."""
    refresh_seconds: float = Field(default=300.0, ge=10.0, le=86_400.0)
    """Configs and summaries are published again this often, in case the broker lost them."""


class LaneSummary(Message):
    """The server's retained ``lanes/{lane}/summary``: the lane's queue and latest arrival."""

    site: str
    lane: str
    waiting: int = Field(ge=0)
    """Cars released to the lane's window and not gone yet."""
    last_arrival: AwareDatetime | None = None
    last_outcome: str | None = None
    """``released``, ``prestaged``, ``no_match``, ... of the latest arrival."""


@dataclass(frozen=True, slots=True)
class DiscoveryMessage:
    """One retained discovery config: its topic and its JSON document."""

    topic: str
    config: dict[str, Any]


def object_id(site: str, lane: str, what: str) -> str:
    """A discovery object id: only the characters Home Assistant allows there."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"drivethru_{site}_lane_{lane}_{what}")


def discovery_messages(
    topics: Topics,
    lanes: Iterable[str],
    settings: HomeAssistantSettings,
    *,
    site_name: str | None = None,
    version: str | None = None,
) -> list[DiscoveryMessage]:
    """The discovery configs of every lane's online state, cars waiting and last arrival."""
    site = topics.site
    server_up = [
        {
            "topic": topics.server_status,
            "value_template": "{{ value_json.state }}",
            "payload_available": "online",
            "payload_not_available": "offline",
        }
    ]
    origin: dict[str, Any] = {"name": "drivethru"}
    if version:
        origin["sw_version"] = version
    messages: list[DiscoveryMessage] = []
    for lane in lanes:
        device = {
            "identifiers": [object_id(site, lane, "device")],
            "name": f"{site_name or site} jalur / lane {lane}",
            "manufacturer": "drivethru",
            "model": "Jalur drive-through / drive-through lane",
        }
        if version:
            device["sw_version"] = version
        summary = topics.lane_summary(lane)
        entities: list[tuple[str, str, dict[str, Any]]] = [
            ("binary_sensor", "online", {
                "name": "Daring / Online",
                "state_topic": topics.lane_status(lane),
                "value_template": "{{ value_json.state }}",
                "payload_on": "online",
                "payload_off": "offline",
                "device_class": "connectivity",
            }),
            ("sensor", "waiting", {
                "name": "Mobil menunggu / Cars waiting",
                "state_topic": summary,
                "value_template": "{{ value_json.waiting }}",
                "unit_of_measurement": "mobil",
                "state_class": "measurement",
                "icon": "mdi:car-multiple",
                "availability": server_up,
            }),
            ("sensor", "last_arrival", {
                "name": "Kedatangan terakhir / Last arrival",
                "state_topic": summary,
                "value_template": "{{ value_json.last_arrival }}",
                "device_class": "timestamp",
                "json_attributes_topic": summary,
                "json_attributes_template": "{{ {'outcome': value_json.last_outcome} | tojson }}",
                "availability": server_up,
            }),
        ]  # fmt: skip
        for component, what, entity in entities:
            oid = object_id(site, lane, what)
            config = {**entity, "unique_id": oid, "device": device, "origin": origin}
            topic = f"{settings.discovery_prefix}/{component}/{oid}/config"
            messages.append(DiscoveryMessage(topic, config))
    return messages
