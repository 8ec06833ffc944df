"""The lane's MQTT link (paho-mqtt 2.x): publish, receive, and say whether it is connected.

A persistent session under a stable client id (MQTT 5 ``clean_start=False`` with a session
expiry, or 3.1.1 ``clean_session=False``) lets acks and releases queued while the edge was
offline arrive when it comes back. The retained last will says ``offline`` on the lane's
status topic. A connect is marked connected only when the broker accepted it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_lane.broker_url import TlsSetupError, client_tls_context
from edge_lane.config import BrokerSettings, MqttProtocol
from edge_lane.errors import ConfigError

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]
ConnectHandler = Callable[[], None]
DeliveryHandler = Callable[[int], None]


class DeviceLink:
    """One device's MQTT connection (a lane, a mobile team, the Frigate bridge); callbacks run
    on paho's network thread."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        client_id: str,
        password: str | None,
        will_topic: str | None,
        will_payload: bytes | None,
        subscriptions: list[str],
        on_message: MessageHandler,
        on_connected: ConnectHandler,
        on_delivered: DeliveryHandler | None = None,
    ) -> None:
        self.settings = settings
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_delivered = on_delivered
        self._connected = threading.Event()
        self.connects = 0
        self.failed_connects = 0
        v5 = settings.protocol is MqttProtocol.V5
        self._v5 = v5
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=None if v5 else False,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        )
        if settings.username is not None:
            self._client.username_pw_set(settings.username, password)
        if settings.tls:
            try:
                self._client.tls_set_context(client_tls_context(settings.tls_files))
            except TlsSetupError as error:
                raise ConfigError(error.message) from None
        if will_topic is not None:  # a read-only link (another system's broker) has no will
            self._client.will_set(will_topic, will_payload, qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        # Nagle's algorithm holds a small write until the previous one is acknowledged, and
        # the peer delays that ACK by up to 40 ms: measured +35 ms on every arrival's ack.
        self._client.on_socket_open = _disable_nagle
        self._client.on_connect = self._connected_cb
        self._client.on_disconnect = self._disconnected_cb
        self._client.on_message = self._message_cb
        self._client.on_publish = self._published_cb

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background; paho reconnects on its own after a drop."""
        properties: Properties | None = None
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.settings.session_expiry
        self._client.connect_async(
            self.settings.host,
            self.settings.port,
            keepalive=self.settings.keepalive,
            clean_start=False if self._v5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int | None:
        """Publish at QoS 1; the message id, or None when not connected (nothing queued)."""
        if not self.connected:
            return None
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.warning(
                "publish ke %s gagal / publish failed: %s", topic, paho.error_string(info.rc)
            )
            return None
        return info.mid

    def stop(self, last_topic: str | None = None, last_payload: bytes | None = None) -> None:
        """Publish a last retained message if connected, then disconnect cleanly."""
        if last_topic is not None and last_payload is not None and self.connected:
            info = self._client.publish(last_topic, last_payload, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=3.0)
            except (RuntimeError, ValueError) as error:
                log.warning("status offline tidak terkirim / offline status not sent: %s", error)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def _connected_cb(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self.failed_connects += 1
            log.warning("broker menolak koneksi / broker refused the connection: %s", reason)
            return
        self.connects += 1
        self._connected.set()
        log.info(
            "terhubung ke broker / connected to %s:%s (session present: %s)",
            self.settings.host,
            self.settings.port,
            flags.session_present,
        )
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self._on_connected()

    def _disconnected_cb(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._connected.is_set():
            log.warning("terputus dari broker / disconnected from broker: %s", reason)
        self._connected.clear()

    def _message_cb(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            self._on_message(message.topic, bytes(message.payload))
        except Exception:  # a bad message must never stop paho's network thread
            log.exception("pesan %s gagal diproses / message handling failed", message.topic)

    def _published_cb(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning("broker menolak publish / broker refused publish %s: %s", mid, reason)
            return
        if self._on_delivered is not None:
            self._on_delivered(mid)


def _disable_nagle(_client: paho.Client, _userdata: object, sock: object) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[attr-defined]
