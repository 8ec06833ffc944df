"""The lane's MQTT link (paho-mqtt 2.x): publish, receive, and say whether it is connected.

A persistent session under a stable client id (MQTT 5 ``clean_start=False`` with a session
expiry, or 3.1.1 ``clean_session=False``) lets acks and releases queued while the edge was
offline arrive when it comes back. The retained last will says ``offline`` on the lane's
status topic. A connect is marked connected only when the broker accepted it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_lane.broker_url import TlsSetupError, client_tls_context
from edge_lane.config import BrokerSettings, MqttProtocol
from edge_lane.errors import ConfigError
from edge_lane.mqtt_port import MqttPort, PortSettings, Retained

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
        tls = None
        if settings.tls:
            try:
                tls = client_tls_context(settings.tls_files)
            except TlsSetupError as error:
                raise ConfigError(error.message) from None
        self._port = MqttPort(
            PortSettings(
                host=settings.host,
                port=settings.port,
                client_id=client_id,
                v5=settings.protocol is MqttProtocol.V5,
                username=settings.username,
                password=password,
                tls=tls,
                # A read-only link (another system's broker) has no will.
                will=Retained(will_topic, will_payload or b"") if will_topic is not None else None,
                session_expiry=settings.session_expiry,
                keepalive=settings.keepalive,
            ),
            self._message,
        )
        client = self._port.client
        client.on_connect = self._connected_cb
        client.on_disconnect = self._disconnected_cb
        client.on_publish = self._published_cb

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background; paho reconnects on its own after a drop."""
        self._port.start()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int | None:
        """Publish at QoS 1; the message id, or None when not connected (nothing queued)."""
        if not self.connected:
            return None
        info = self._port.publish(topic, payload, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.warning(
                "publish ke %s gagal / publish failed: %s", topic, paho.error_string(info.rc)
            )
            return None
        return info.mid

    def stop(self, last_topic: str | None = None, last_payload: bytes | None = None) -> None:
        """Publish a last retained message if connected, then disconnect cleanly."""
        last = None
        if last_topic is not None and last_payload is not None and self.connected:
            last = Retained(last_topic, last_payload)
        self._port.stop(last, timeout=3.0)
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
            self._port.subscribe(topic)
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

    def _message(self, topic: str, payload: bytes) -> None:
        try:
            self._on_message(topic, payload)
        except Exception:  # a bad message must never stop paho's network thread
            log.exception("pesan %s gagal diproses / message handling failed", topic)

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
