"""The server's MQTT connection, kept in a process of its own.

paho-mqtt reads, decodes and acknowledges every packet in Python. Inside the server its
network thread and its publish calls held the GIL for 40% of the server's time at 800
arrivals/s (py-spy), time the arrival decisions waited for. The link process owns the paho
client instead: it connects with the server's last will, subscribes, announces the server
online, hands what it receives to the server in batches and publishes what the server
sends it, in batches too, over a socketpair.

If the server dies, the link sees its socket close and exits without a DISCONNECT, so the
broker publishes the last will. If the link dies, the server starts another; what the dead
one had taken but not yet published is lost as with a dropped broker connection, and edges
send their unacked arrivals again.

The server never waits on the link: it writes without blocking, and while the socket is
full (a link stopped or starved of CPU) what it publishes waits in its own queue, up to
`MAX_PENDING` messages. A blocking write there would stall every request and arrival, and
with the link blocked writing the other way, neither would read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.child import spawn
from edge_lane.broker_url import TlsFiles, client_tls_context
from edge_lane.logs import LogFormat, setup_logging

log = logging.getLogger(__name__)

Received = tuple[str, bytes, float]
"""A message from the broker: topic, payload, and `time.monotonic()` when it came."""
Outgoing = tuple[str, bytes, bool]
"""A QoS 1 message for the broker: topic, payload, retain."""

# Kept while no link runs (it died and is being restarted), then sent through the next one;
# beyond this the oldest go, as they would from a full broker queue.
MAX_PENDING = 20_000
RESTART_SECONDS = 1.0
RETRY_MIN_SECONDS, RETRY_MAX_SECONDS = 1.0, 10.0


@dataclass(frozen=True, slots=True)
class LinkSetup:
    """What the link process needs: plain values, so it imports nothing of the server."""

    host: str
    port: int
    username: str
    password: str
    client_id: str
    protocol: str  # "5" or "3.1.1"
    tls: bool
    ca_file: str | None
    shared_arrivals: str
    """Arrivals through a shared subscription, so that several servers split them (MQTT 5)."""
    all_arrivals: str
    """The same topics subscribed plainly: MQTT 3.1.1, or a broker that refuses shared ones."""
    subscriptions: tuple[str, ...]
    status_topic: str
    online: bytes
    offline: bytes
    log_format: str = "text"
    """The server's log format, so the link's lines read like the server's own."""
    site: str = ""
    cert_file: str | None = None
    """With TLS: the server's client certificate and key, for a broker that requires one."""
    key_file: str | None = None
    shared_subscriptions: tuple[tuple[str, str], ...] = ()
    session_expiry: int = 24 * 3600
    """Seconds the broker keeps the session while the link is away (MQTT 5)."""
    """More (shared, plain) filter pairs taken like the arrivals: each message to one replica
    (the team handovers)."""


# -- the server's side ----------------------------------------------------------------------


class MqttLink:
    """The server's handle on its link process; use it from the event loop only."""

    def __init__(
        self,
        setup: LinkSetup,
        on_messages: Callable[[list[Received]], None],
        on_state: Callable[[bool, str], None],
    ) -> None:
        self.setup = setup
        self.on_messages = on_messages
        self.on_state = on_state
        self.connected = False
        self.pid: int | None = None
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._sender: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[Outgoing] = []
        # The batch being written and what of its frame is not written yet.
        self._writing: list[Outgoing] = []
        self._unwritten = b""
        self._flush_scheduled = False
        self._dropped = 0
        self._stopping = False
        self._restart: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        process, conn = await asyncio.to_thread(spawn, __name__)  # fork/exec off the loop
        conn.send(self.setup)  # the first message: the socket is empty
        self._process, self._conn, self.pid = process, conn, process.pid
        # Writes go through a second handle on the socket, each with MSG_DONTWAIT: the
        # Connection's reads stay blocking, so a message is always read whole.
        self._sender = socket.socket(fileno=os.dup(conn.fileno()))
        self._loop.add_reader(conn.fileno(), self._readable)
        if self._pending:
            self._schedule_flush()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Queue a QoS 1 publish; everything queued in one loop turn goes in one batch."""
        self._pending.append((topic, payload, retain))
        if len(self._pending) > MAX_PENDING:
            excess = len(self._pending) - MAX_PENDING
            del self._pending[:excess]
            if not self._dropped:
                log.warning(
                    "antrean MQTT penuh, pesan tertua dibuang / MQTT queue full (%d), "
                    "dropping the oldest",
                    MAX_PENDING,
                )
            self._dropped += excess
        self._schedule_flush()

    @property
    def queued(self) -> int:
        """Publishes not yet handed to the link in whole."""
        return len(self._pending) + len(self._writing)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._sender is None or self._unwritten or not self._pending:
            return  # no link at the moment, or a frame still going: kept for later
        batch, self._pending = self._pending, []
        self._write(batch, _frame(("publish", batch)))

    def _write(self, batch: list[Outgoing], frame: bytes) -> None:
        """Write ``frame`` (carrying ``batch``) as far as the socket takes it now."""
        sender = self._sender
        if sender is None:
            self._pending[:0] = batch
            return
        try:
            sent = sender.send(frame, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._pending[:0] = batch
            self._lost("the link's socket broke")
            return
        loop = self._loop
        if sent < len(frame):
            # The rest when the socket drains (registering again only replaces the callback).
            self._writing, self._unwritten = batch, frame[sent:]
            if loop is not None:
                loop.add_writer(sender.fileno(), self._writable)
            return
        if loop is not None:
            loop.remove_writer(sender.fileno())
        self._writing, self._unwritten = [], b""
        self._dropped = 0
        if self._pending:
            self._schedule_flush()

    def _writable(self) -> None:
        if self._unwritten:
            self._write(self._writing, self._unwritten)

    def _readable(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            while conn.poll():
                kind, body = conn.recv()
                if kind == "messages":
                    self.on_messages(body)
                elif kind == "state":
                    connected, detail = body
                    self.connected = connected
                    self.on_state(connected, detail)
        except (EOFError, OSError):
            self._lost("the link process ended")

    def _lost(self, why: str) -> None:
        """The link is gone: note it, reap it and, unless stopping, start another."""
        if self._conn is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(self._conn.fileno())
        if self._sender is not None:
            if self._loop is not None:
                self._loop.remove_writer(self._sender.fileno())
            self._sender.close()
            self._sender = None
        # A batch not written in whole was never read by the link: the next link sends it.
        self._pending[:0] = self._writing
        self._writing, self._unwritten = [], b""
        self._conn.close()
        self._conn = None
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            if self._loop is not None:  # reaped off the loop: a killed process takes a moment
                self._loop.run_in_executor(None, process.wait)
        if self.connected:
            self.connected = False
            self.on_state(False, why)
        if self._stopping or self._loop is None:
            return
        log.error("proses MQTT berhenti / MQTT link stopped (%s); restarting", why)
        self.restarts += 1
        self._restart = self._loop.create_task(self._start_again())

    async def _start_again(self) -> None:
        """Start a new link after a pause, and keep trying while starting fails."""
        while not self._stopping:
            await asyncio.sleep(RESTART_SECONDS)
            try:
                await self.start()
            except OSError:
                log.exception("proses MQTT gagal dimulai / MQTT link failed to start")
                continue
            return

    async def stop(self, timeout: float = 5.0) -> None:
        """Publish what is queued, say offline (retained) and disconnect; then the link exits."""
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
        process = self._process
        if self._conn is None or process is None:
            return
        # Hand over what is queued, then the stop, each as the socket takes it; a link that
        # takes nothing for the whole timeout is killed.
        deadline = time.monotonic() + timeout
        while self._sender is not None and (self._pending or self._unwritten):
            self._flush()
            if not self._unwritten:
                continue
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        if not self._unwritten and self._sender is not None:
            self._write([], _frame(("stop", timeout)))
            while self._unwritten and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        try:
            if self._unwritten:
                raise subprocess.TimeoutExpired(process.args, timeout)
            await asyncio.to_thread(process.wait, timeout + 2)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        self._lost("stopped")


def _frame(message: tuple[str, Any]) -> bytes:
    """``message`` as `multiprocessing.connection.Connection.send` writes it, for its
    ``recv`` at the other end: a 4-byte big-endian length, then the pickle."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("!i", len(body)) + body


# -- the link process -----------------------------------------------------------------------


class _Link:
    """The paho client driven by one thread: the broker's socket and the server's, in turn.

    paho's own thread (`loop_start`) next to a thread reading the server's socket cost a
    GIL hand-over for every message; one `select` over both sockets costs none.
    """

    def __init__(self, setup: LinkSetup, conn: Connection) -> None:
        self.setup = setup
        self.conn = conn
        self._received: list[Received] = []
        self._subscriptions: dict[int, str] = {}
        self._stopping = False
        self._retry_at = 0.0
        self._retry_delay = RETRY_MIN_SECONDS
        self.client = self._make_client()

    def _send(self, message: tuple[str, Any]) -> None:
        try:
            self.conn.send(message)
        except OSError:
            os._exit(0)  # the server is gone: no DISCONNECT, so the broker sends the will

    def _make_client(self) -> mqtt.Client:
        setup = self.setup
        v5 = setup.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=setup.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
        )
        client.username_pw_set(setup.username, setup.password or None)
        client.will_set(setup.status_topic, setup.offline, qos=1, retain=True)
        if setup.tls:
            paths = (setup.ca_file, setup.cert_file, setup.key_file)
            files = TlsFiles(*(Path(name) if name else None for name in paths))
            # The server checked these files before it started the link (api/serve.py).
            client.tls_set_context(client_tls_context(files))
        # Nagle's algorithm holds an ack or a release until the previous write is ACKed, and
        # the peer delays that ACK by up to 40 ms (measured: +35 ms on every release).
        client.on_socket_open = _disable_nagle
        # No cap on messages in flight: paho's default of 20 throttles acks under load, and
        # with any cap paho scans every unacknowledged message on each PUBACK (O(n) while
        # the broker is behind). Mosquitto acknowledges a QoS 1 publish as it takes it.
        client.max_inflight_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = setup.session_expiry
        client.connect_async(
            setup.host,
            setup.port,
            keepalive=30,
            clean_start=False if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        return client

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
            self.client.reconnect()
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
                        self.client.publish(topic, payload, qos=1, retain=retain)
                elif kind == "stop":
                    self._stop(float(body))
                    return
        except (EOFError, OSError):
            os._exit(0)  # as in `_send`

    def _stop(self, timeout: float) -> None:
        """Publish what is queued and the offline status, then disconnect."""
        self._stopping = True
        client = self.client
        if client.is_connected():
            info = client.publish(self.setup.status_topic, self.setup.offline, 1, True)
            deadline = time.monotonic() + timeout
            while not info.is_published() and client.is_connected():
                if time.monotonic() > deadline:
                    break
                self._step(0.05)
        client.disconnect()

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
        shared = ((setup.shared_arrivals, setup.all_arrivals), *setup.shared_subscriptions)
        for shared_filter, plain in shared:
            topic_filter = shared_filter if setup.protocol == "5" else plain
            _result, mid = client.subscribe(topic_filter, qos=1)
            if mid is not None:
                self._subscriptions[mid] = topic_filter
        for topic in setup.subscriptions:
            client.subscribe(topic, qos=1)
        client.publish(setup.status_topic, setup.online, qos=1, retain=True)
        self._send(("state", (True, "")))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        topic = self._subscriptions.pop(mid, "")
        setup = self.setup
        plain_of = dict(((setup.shared_arrivals, setup.all_arrivals), *setup.shared_subscriptions))
        plain = plain_of.get(topic)
        if plain is not None and any(r.is_failure for r in reasons):
            # A broker without shared subscriptions: this server takes every message.
            log.warning("langganan bersama ditolak / shared subscription refused: plain")
            _result, plain_mid = client.subscribe(plain, qos=1)
            if plain_mid is not None:
                self._subscriptions[plain_mid] = plain

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

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._received.append((message.topic, bytes(message.payload), time.monotonic()))


def _disable_nagle(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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
    # Run as `api.mqtt_link`, not `__main__`, so that the pickled `LinkSetup` is this class.
    from api import mqtt_link

    mqtt_link.main(int(sys.argv[1]))
