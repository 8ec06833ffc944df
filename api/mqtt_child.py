"""The server's MQTT link process: `python -m api.mqtt_child FD`, started by `api.mqtt_link`.

It owns the server's paho client: it connects with the server's last will, subscribes (the
filters of `subscriptions`), announces the server online, hands what it receives to the
server in batches and publishes what the server sends it, in batches too, over the
socketpair whose end is file descriptor FD.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import ssl
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from api.mqtt_link import LinkSetup, Received
from edge_lane.broker_url import TlsFiles, client_tls_context
from edge_lane.logs import LogFormat, setup_logging
from edge_lane.mqtt_port import MqttPort, PortSettings, Retained

log = logging.getLogger(__name__)

RETRY_MIN_SECONDS, RETRY_MAX_SECONDS = 1.0, 10.0


def subscriptions(setup: LinkSetup) -> list[tuple[str, str | None]]:
    """Every filter the link subscribes to, each with the plain filter to fall back on if the
    broker refuses it as a shared subscription (None when it is not shared)."""
    shared = ((setup.shared_arrivals, setup.all_arrivals), *setup.shared_subscriptions)
    wanted: list[tuple[str, str | None]]
    if setup.protocol == "5":
        wanted = [(shared_filter, plain) for shared_filter, plain in shared]
    else:  # a 3.1.1 broker may accept a `$share` filter and never match it
        wanted = [(plain, None) for _shared_filter, plain in shared]
    return [*wanted, *((topic, None) for topic in setup.subscriptions)]


class _Link:
    """The paho client driven by one thread: the broker's socket and the server's, in turn.

    paho's own thread (`loop_start`) next to a thread reading the server's socket cost a
    GIL hand-over for every message; one `select` over both sockets costs none.
    """

    def __init__(self, setup: LinkSetup, conn: Connection) -> None:
        self.setup = setup
        self.conn = conn
        self._received: list[Received] = []
        self._fallbacks: dict[int, str] = {}
        """Subscription message id -> the plain filter to take if the broker refuses it."""
        self._stopping = False
        self._retry_at = 0.0
        self._retry_delay = RETRY_MIN_SECONDS
        self.port = self._make_port()
        self.client = self.port.client

    def _send(self, message: tuple[str, Any]) -> None:
        try:
            self.conn.send(message)
        except OSError:
            os._exit(0)  # the server is gone: no DISCONNECT, so the broker sends the will

    def _make_port(self) -> MqttPort:
        setup = self.setup
        tls = None
        if setup.tls:
            paths = (setup.ca_file, setup.cert_file, setup.key_file)
            # The server checked these files before it started the link (api/serve.py).
            tls = client_tls_context(TlsFiles(*(Path(name) if name else None for name in paths)))
        port = MqttPort(
            PortSettings(
                host=setup.host,
                port=setup.port,
                client_id=setup.client_id,
                v5=setup.protocol == "5",
                username=setup.username,
                password=setup.password,
                tls=tls,
                will=Retained(setup.status_topic, setup.offline),
                session_expiry=setup.session_expiry,
                # No cap on messages in flight: paho's default of 20 throttles acks under
                # load, and with any cap paho scans every unacknowledged message on each
                # PUBACK (O(n) while the broker is behind). Mosquitto acknowledges a QoS 1
                # publish as it takes it.
                max_inflight=0,
            ),
            self._on_message,
        )
        client = port.client
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        port.connect_async()
        return port

    def run(self) -> None:
        while not self._stopping:
            self._step(1.0)

    def _step(self, timeout: float) -> None:
        """Wait for either socket, then read, publish and write what there is."""
        client = self.client
        sock = client.socket()
        if sock is None:
            self._connect()
            sock = client.socket()
        readable: list[Any] = [self.conn]
        writable: list[Any] = []
        pending = 0
        if sock is not None:
            readable.append(sock)
            writable = [sock] if client.want_write() else []
            pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
        else:
            timeout = max(0.0, min(timeout, self._retry_at - time.monotonic()))
        ready, _, _ = select.select(readable, writable, [], 0.0 if pending else timeout)
        if sock is not None and (sock in ready or pending):
            client.loop_read()
        if self.conn in ready:
            self._serve_server()
        if client.socket() is not None:
            if client.want_write():
                client.loop_write()
            client.loop_misc()
        if self._received:
            batch, self._received = self._received, []
            self._send(("messages", batch))

    def _connect(self) -> None:
        """(Re)connect when it is time to, backing off from 1 s to 10 s while refused."""
        now = time.monotonic()
        if now < self._retry_at:
            return
        try:
            self.port.reconnect()
        except (OSError, ssl.SSLError) as error:
            self._retry_at = now + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_SECONDS)
            self._send(("state", (False, f"cannot reach the broker: {error}")))
            return
        self._retry_delay = RETRY_MIN_SECONDS

    def _serve_server(self) -> None:
        try:
            while self.conn.poll():
                kind, body = self.conn.recv()
                if kind == "publish":
                    for topic, payload, retain in body:
                        self.port.publish(topic, payload, retain=retain)
                elif kind == "stop":
                    self._stop(float(body))
                    return
        except (EOFError, OSError):
            os._exit(0)  # as in `_send`

    def _stop(self, timeout: float) -> None:
        """Publish what is queued and the offline status, then disconnect."""
        self._stopping = True
        self.port.stop(
            Retained(self.setup.status_topic, self.setup.offline), timeout=timeout, step=self._step
        )

    # callbacks, from within `loop_read`

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._send(("state", (False, f"broker refused the connection: {reason}")))
            return
        setup = self.setup
        for topic_filter, fallback in subscriptions(setup):
            mid = self.port.subscribe(topic_filter)
            if mid is not None and fallback is not None:
                self._fallbacks[mid] = fallback
        self.port.publish(setup.status_topic, setup.online, retain=True)
        self._send(("state", (True, "")))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        plain = self._fallbacks.pop(mid, None)
        if plain is not None and any(r.is_failure for r in reasons):
            # A broker without shared subscriptions: this server takes every message.
            log.warning("langganan bersama ditolak / shared subscription refused: plain")
            self.port.subscribe(plain)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if not self._stopping:
            self._send(("state", (False, str(reason))))

    def _on_message(self, topic: str, payload: bytes) -> None:
        self._received.append((topic, payload, time.monotonic()))


def main(fd: int) -> None:
    # The server decides when the link stops: a Ctrl-C or a SIGTERM to the process group
    # reaches the server, which stops the link after its last publishes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(fd)
    setup = conn.recv()
    if not isinstance(setup, LinkSetup):
        raise SystemExit(f"expected LinkSetup, got {type(setup).__name__}")
    setup_logging(LogFormat(setup.log_format), context={"site": setup.site})
    _Link(setup, conn).run()


if __name__ == "__main__":
    main(int(sys.argv[1]))
