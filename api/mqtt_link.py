"""The server's handle on its MQTT connection, which runs in a process of its own.

paho-mqtt reads, decodes and acknowledges every packet in Python. Inside the server its
network thread and its publish calls held the GIL for 40% of the server's time at 800
arrivals/s (py-spy), time the arrival decisions waited for. The link process
(`api.mqtt_child`) owns the paho client instead; this handle starts it, hands it what the
server publishes and passes on what it receives, in batches both ways, over a socketpair.

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
import logging
import os
import pickle
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from core.child import spawn

log = logging.getLogger(__name__)

Received = tuple[str, bytes, float]
"""A message from the broker: topic, payload, and `time.monotonic()` when it came."""
Outgoing = tuple[str, bytes, bool]
"""A QoS 1 message for the broker: topic, payload, retain."""

# Kept while no link runs (it died and is being restarted), then sent through the next one;
# beyond this the oldest go, as they would from a full broker queue.
MAX_PENDING = 20_000
RESTART_SECONDS = 1.0
CHILD_MODULE = "api.mqtt_child"


@dataclass(frozen=True, slots=True)
class LinkSetup:
    """What the link process needs: plain values, so it imports nothing of the server.

    The topics it subscribes to are listed in `api.mqtt_child.subscriptions`."""

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
    """More (shared, plain) filter pairs taken like the arrivals: each message to one replica
    (the team handovers)."""
    session_expiry: int = 24 * 3600
    """Seconds the broker keeps the session while the link is away (MQTT 5)."""


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
        process, conn = await asyncio.to_thread(spawn, CHILD_MODULE)  # fork/exec off the loop
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
