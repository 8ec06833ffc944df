"""Who may publish and read which topics: the broker ACL the MQTT contract v1 implies.

One MQTT user per device (DESIGN.md): ``server`` (and any further server replicas),
``lane-{lane}`` and ``team-{team}``. Every topic comes from `Topics`. Both brokers enforce
this one table: Mosquitto through the ACL file `mosquitto_acl` writes, the embedded broker
through `DeviceAccess.may_publish` / `may_subscribe` / `may_read`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.contract import ANY_NAME, Topics
from core.errors import ContractError
from core.home_assistant import HOME_ASSISTANT_USER, HomeAssistantSettings

SERVER_USER = "server"


def lane_user(lane: str) -> str:
    """The MQTT user of a lane's edge agent."""
    return f"lane-{lane}"


def team_user(team: str) -> str:
    """The MQTT user of a mobile team's device."""
    return f"team-{team}"


class Access(StrEnum):
    """The words of Mosquitto's ACL file: read covers subscribing and receiving."""

    READ = "read"
    WRITE = "write"
    READWRITE = "readwrite"


@dataclass(frozen=True, slots=True)
class TopicGrant:
    """One topic (or filter with ``+``) and what a user may do with it."""

    topic: str
    access: Access

    @property
    def readable(self) -> bool:
        return self.access in (Access.READ, Access.READWRITE)

    @property
    def writable(self) -> bool:
        return self.access in (Access.WRITE, Access.READWRITE)


@dataclass(frozen=True, slots=True)
class DeviceAccess:
    """What one MQTT user may publish and read."""

    user: str
    grants: tuple[TopicGrant, ...]

    def may_publish(self, topic: str) -> bool:
        """Whether this user may publish on the concrete `topic`."""
        return any(g.writable and topic_matches(g.topic, topic) for g in self.grants)

    def may_read(self, topic: str) -> bool:
        """Whether a message on the concrete `topic` may be delivered to this user."""
        return any(g.readable and topic_matches(g.topic, topic) for g in self.grants)

    def may_subscribe(self, topic_filter: str) -> bool:
        """Whether every topic `topic_filter` could match is readable by this user.

        A shared subscription (``$share/{group}/...``) is judged by its plain filter.
        """
        plain = Topics.unshared(topic_filter)
        return any(g.readable and filter_within(plain, g.topic) for g in self.grants)


@dataclass(frozen=True, slots=True)
class SiteAccess:
    """The ACL of one site: one `DeviceAccess` per MQTT user, server(s) first."""

    site: str
    devices: tuple[DeviceAccess, ...]

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(device.user for device in self.devices)

    def of(self, user: str) -> DeviceAccess | None:
        """The access of `user`, or None for a user the site does not know."""
        for device in self.devices:
            if device.user == user:
                return device
        return None


def site_access(
    topics: Topics,
    lanes: Iterable[str],
    teams: Iterable[str] = (),
    servers: Sequence[str] = (SERVER_USER,),
    home_assistant: HomeAssistantSettings | None = None,
) -> SiteAccess:
    """The contract's ACL for a site's server users, lanes and teams.

    Servers get wildcards over lanes and teams, so adding a lane needs new credentials for
    that lane only. Devices may also read ``server/status``, to show whether the server is up.
    With Home Assistant enabled, the servers also publish its discovery configs and the lanes'
    summaries, and the user `HOME_ASSISTANT_USER` reads them (core/home_assistant.py).
    """
    r, w, rw = Access.READ, Access.WRITE, Access.READWRITE
    every = ANY_NAME
    server_grants: tuple[TopicGrant, ...] = (
        TopicGrant(topics.arrivals(every), r),
        TopicGrant(topics.departures(every), r),
        TopicGrant(topics.lane_status(every), r),
        TopicGrant(topics.acks(every), w),
        TopicGrant(topics.releases(every), w),
        TopicGrant(topics.lane_manifest(every), w),
        TopicGrant(topics.team_handovers(every), r),
        TopicGrant(topics.team_status(every), r),
        TopicGrant(topics.team_acks(every), w),
        TopicGrant(topics.team_manifest(every), w),
        # Its own last will, and reading it back tells a replica the broker is there.
        TopicGrant(topics.server_status, rw),
    )
    ha_grants: tuple[TopicGrant, ...] = ()
    if home_assistant is not None and home_assistant.enabled:
        prefix = home_assistant.discovery_prefix
        server_grants += (
            TopicGrant(topics.lane_summary(every), w),
            TopicGrant(f"{prefix}/+/+/config", w),
        )
        ha_grants = (
            # Home Assistant subscribes to its whole prefix and announces itself there.
            TopicGrant(f"{prefix}/#", r),
            TopicGrant(f"{prefix}/status", rw),
            TopicGrant(topics.lane_status(every), r),
            TopicGrant(topics.lane_summary(every), r),
            TopicGrant(topics.server_status, r),
        )
    devices = [DeviceAccess(user, server_grants) for user in dict.fromkeys(servers)]
    grants: tuple[TopicGrant, ...]
    for lane in dict.fromkeys(lanes):
        _check_name(lane, "lane")
        grants = (
            TopicGrant(topics.arrivals(lane), w),
            TopicGrant(topics.departures(lane), w),
            TopicGrant(topics.lane_status(lane), w),
            TopicGrant(topics.acks(lane), r),
            TopicGrant(topics.releases(lane), r),
            TopicGrant(topics.lane_manifest(lane), r),
            TopicGrant(topics.server_status, r),
        )
        devices.append(DeviceAccess(lane_user(lane), grants))
    for team in dict.fromkeys(teams):
        _check_name(team, "team")
        grants = (
            TopicGrant(topics.team_handovers(team), w),
            TopicGrant(topics.team_status(team), w),
            TopicGrant(topics.team_acks(team), r),
            TopicGrant(topics.team_manifest(team), r),
            TopicGrant(topics.server_status, r),
        )
        devices.append(DeviceAccess(team_user(team), grants))
    if ha_grants:
        devices.append(DeviceAccess(HOME_ASSISTANT_USER, ha_grants))
    return SiteAccess(topics.site, tuple(devices))


def mosquitto_acl(access: SiteAccess) -> str:
    """The ACL file Mosquitto reads (``acl_file``): one ``user`` block per device."""
    blocks = [
        "\n".join([f"user {device.user}"] + [f"topic {g.access} {g.topic}" for g in device.grants])
        for device in access.devices
    ]
    return "\n\n".join(blocks) + "\n"


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching of a concrete `topic` against a filter with ``+`` and ``#``."""
    wanted, given = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(given) or (level != "+" and level != given[index]):
            return False
    return len(wanted) == len(given)


def filter_within(topic_filter: str, grant: str) -> bool:
    """Whether every topic `topic_filter` matches is also matched by `grant`."""
    wanted, allowed = topic_filter.split("/"), grant.split("/")
    for index, level in enumerate(allowed):
        if level == "#":
            return True
        if index >= len(wanted) or wanted[index] == "#":
            return False
        if level != "+" and (wanted[index] == "+" or wanted[index] != level):
            return False
    return len(wanted) == len(allowed)


def _check_name(name: str, kind: str) -> None:
    # A wildcard or a slash in a name would widen the device's grants beyond its own topics.
    if not name or any(c in name for c in "+#/ \t\n"):
        raise ContractError(
            f"nama {kind} tidak sah / invalid {kind} name {name!r}: no '+', '#', '/' or spaces"
        )
