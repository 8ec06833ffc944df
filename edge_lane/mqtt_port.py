"""One paho-mqtt client made the way every drivethru process needs it.

The lane edge and the mobile team device (`edge_lane.mqtt.DeviceLink`), the server's link
process (`api.mqtt_child`) and the e2e bench's lanes all take their client from here: the
broker's address, login and TLS, a retained last will, TCP_NODELAY on every socket, a
persistent session or a clean one, QoS 1 publishes and subscriptions, and a stop that says
goodbye (retained) before a clean DISCONNECT. Who runs the network loop stays with the
user: paho's own thread (`start`), or the caller's `select` over `client.socket()`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]
"""Called with a message's topic and payload, on whichever thread runs the network loop."""
RECONNECT_MIN_SECONDS, RECONNECT_MAX_SECONDS = 1, 30


@dataclass(frozen=True, slots=True)
class Retained:
    """A retained QoS 1 message: a last will, or the status said when stopping."""

    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class PortSettings:
    """Where and as whom one client connects, and how its session lives."""

    host: str
    port: int
    client_id: str
    v5: bool = True
    """MQTT 5; else 3.1.1 (the embedded broker)."""
    username: str | None = None
    password: str | None = None
    tls: ssl.SSLContext | None = None
    will: Retained | None = None
    persistent: bool = True
    """Keep the session while away, so QoS 1 messages queued meanwhile arrive on return
    (MQTT 5 ``clean_start=False`` with `session_expiry`, 3.1.1 ``clean_session=False``)."""
    session_expiry: int = 0
    """Seconds the broker keeps a persistent MQTT 5 session after a disconnect."""
    keepalive: int = 30
    max_inflight: int | None = None
    """QoS 1 messages in flight at once; 0 for no cap, None for paho's default of 20."""
    max_queued: int | None = None
    """Messages paho queues beyond those in flight; None (or 0) for no cap."""


def disable_nagle(_client: paho.Client, _userdata: Any, sock: Any) -> None:
    """paho's ``on_socket_open``: TCP_NODELAY on the broker's socket.

    Nagle's algorithm holds a small write until the previous one is acknowledged, and the
    peer delays that ACK by up to 40 ms: measured, +35 ms on every ack and release.
    """
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttPort:
    """One client: connect (with the will), publish and subscribe at QoS 1, stop.

    Its callbacks (``on_connect``, ``on_subscribe``, …) are set on `client` by the owner,
    which also runs the network loop unless it calls `start`.
    """

    def __init__(self, settings: PortSettings, on_message: MessageHandler | None = None) -> None:
        self.settings = settings
        self._threaded = False
        v5 = settings.v5
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            # paho's None is a clean session on 3.1.1 and required on 5 (clean_start then).
            clean_session=False if settings.persistent and not v5 else None,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        )
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password or None)
        if settings.tls is not None:
            client.tls_set_context(settings.tls)
        if settings.will is not None:
            client.will_set(settings.will.topic, settings.will.payload, qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_SECONDS, RECONNECT_MAX_SECONDS)
        client.on_socket_open = disable_nagle
        if settings.max_inflight is not None:
            client.max_inflight_messages_set(settings.max_inflight)
        if settings.max_queued is not None:
            client.max_queued_messages_set(settings.max_queued)
        if on_message is not None:
            client.on_message = lambda _c, _u, message: on_message(
                message.topic, bytes(message.payload)
            )
        self.client = client

    def connect_async(self) -> None:
        """Set where to connect; the network loop (`start`, or the owner's) connects."""
        settings = self.settings
        properties: Properties | None = None
        clean_start: bool | Literal[3] = paho.MQTT_CLEAN_START_FIRST_ONLY
        if settings.persistent and settings.v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = settings.session_expiry
            clean_start = False
        self.client.connect_async(
            settings.host,
            settings.port,
            keepalive=settings.keepalive,
            clean_start=clean_start,
            properties=properties,
        )

    def start(self) -> None:
        """Connect on paho's own thread, which reconnects by itself after a drop."""
        self.connect_async()
        self._threaded = True
        self.client.loop_start()

    def connect(self) -> None:
        """Connect now, for an owner running its own loop; raises OSError (or `ssl.SSLError`)
        when the broker cannot be reached."""
        self.connect_async()
        self.client.reconnect()

    def reconnect(self) -> None:
        """(Re)open the connection now, for an owner running its own loop; raises OSError
        or `ssl.SSLError` when the broker cannot be reached."""
        self.client.reconnect()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> paho.MQTTMessageInfo:
        """Publish at QoS 1."""
        return self.client.publish(topic, payload, qos=1, retain=retain)

    def subscribe(self, *topic_filters: str) -> int | None:
        """Subscribe to the filters at QoS 1, in one SUBSCRIBE; its message id."""
        if len(topic_filters) == 1:
            _result, mid = self.client.subscribe(topic_filters[0], qos=1)
        else:
            _result, mid = self.client.subscribe([(f, 1) for f in topic_filters])
        return mid

    def stop(
        self,
        last: Retained | None = None,
        *,
        timeout: float = 3.0,
        step: Callable[[float], None] | None = None,
    ) -> None:
        """Publish `last` (retained) while connected and wait up to `timeout` for the broker
        to take it, then DISCONNECT, so the will is not sent. Without paho's thread, `step`
        runs the owner's network loop (for at most the seconds it is given) meanwhile."""
        client = self.client
        if last is not None and client.is_connected():
            info = self.publish(last.topic, last.payload, retain=True)
            if step is None:
                try:
                    info.wait_for_publish(timeout=timeout)
                except (RuntimeError, ValueError) as error:
                    log.warning("status terakhir tidak terkirim / last status not sent: %s", error)
            else:
                deadline = time.monotonic() + timeout
                while not info.is_published() and client.is_connected():
                    if time.monotonic() > deadline:
                        break
                    step(0.05)
        client.disconnect()
        if self._threaded:
            client.loop_stop()
            self._threaded = False
