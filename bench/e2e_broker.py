"""The e2e bench's broker: Mosquitto from the generated config with the contract's ACL.

Every client logs in as itself, as on a site: the server(s) as ``server`` (``server-2``, …),
lane N as ``lane-N``, and the two clients of the broker's own round trip as users of their
own, allowed only their bench topic. Without Mosquitto the embedded broker enforces the
same ACL (MQTT 3.1.1).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.broker_acl import Access, DeviceAccess, SiteAccess, TopicGrant, site_access
from core.contract import Topics
from edge_lane.broker import EmbeddedBroker, free_port
from edge_lane.local_mosquitto import LocalMosquitto, mosquitto_binary

SITE = "badung"
HOST = "127.0.0.1"
FLOOR_TOPICS = "bench/floor/#"
FLOOR_SENDER, FLOOR_RECEIVER = "bench-floor-pub", "bench-floor-sub"


@dataclass
class Broker:
    kind: str
    port: int
    protocol: str  # "5" or "3.1.1"
    stop: Callable[[], None]
    users: dict[str, str]
    """Login -> password, one per client."""
    pid: int | None = None
    """Mosquitto's process; None for the embedded broker, which runs in this process."""


def lane_login(lane: int) -> str:
    return f"lane-{lane}"


def bench_access(lanes: int, servers: Sequence[str]) -> SiteAccess:
    """The site's ACL for its servers and lanes, and the round trip's two users."""
    access = site_access(Topics(SITE), [str(n) for n in range(1, lanes + 1)], servers=servers)
    floor = (
        DeviceAccess(FLOOR_SENDER, (TopicGrant(FLOOR_TOPICS, Access.WRITE),)),
        DeviceAccess(FLOOR_RECEIVER, (TopicGrant(FLOOR_TOPICS, Access.READ),)),
    )
    return SiteAccess(access.site, (*access.devices, *floor))


def start_broker(lanes: int, servers: Sequence[str] = ("server",)) -> Broker:
    """Mosquitto on a free loopback port (`LocalMosquitto`); the embedded broker without it."""
    access = bench_access(lanes, servers)
    users = {user: secrets.token_hex(12) for user in access.users}
    if mosquitto_binary() is None:
        embedded = EmbeddedBroker(users, host=HOST, port=free_port(), access=access)
        embedded.start()
        return Broker("embedded", embedded.port, "3.1.1", embedded.stop, users)
    mosquitto = LocalMosquitto(users, access)
    mosquitto.start()
    return Broker("mosquitto", mosquitto.port, "5", mosquitto.close, users, mosquitto.pid)
