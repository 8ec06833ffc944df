"""The e2e bench's load: simulated lanes that behave like edges, and the broker's floor.

Each lane is one MQTT client logged in as that lane; one network thread drives them all and
publishes the paced arrivals. Each arrival carries the SHA-256 of a seeded pickup code, is
kept until its ack arrives and is republished when unacked after `ACK_TIMEOUT`.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from bench.e2e_broker import FLOOR_RECEIVER, FLOOR_SENDER, HOST, SITE, Broker, lane_login
from bench.e2e_summary import percentiles
from core.contract import Arrival, TopicKind, Topics, encode
from edge_lane.mqtt_port import MessageHandler, MqttPort, PortSettings, disable_nagle

ACK_TIMEOUT = 5.0  # an edge republishes an arrival unacked for this long


def bench_port(broker: Broker, user: str, on_message: MessageHandler | None = None) -> MqttPort:
    """A clean-session client logged in as `user`; the caller runs or starts its loop."""
    settings = PortSettings(
        host=HOST,
        port=broker.port,
        client_id=user,
        v5=broker.protocol == "5",
        username=user,
        password=broker.users[user],
        persistent=False,
        # paho's default of 20 in flight would throttle the ramp before the server does.
        max_inflight=1000,
        max_queued=0,
    )
    return MqttPort(settings, on_message)


@dataclass
class Sent:
    lane: int
    payload: bytes
    visit: str
    published: float
    last_sent: float
    acked: float | None = None
    released: float | None = None


@dataclass
class Tally:
    """What one load phase sent and received, keyed by arrival id and by visit."""

    by_id: dict[str, Sent] = field(default_factory=dict)
    by_visit: dict[str, Sent] = field(default_factory=dict)
    see_operator: int = 0
    republished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def done(self) -> bool:
        with self.lock:
            return all(s.acked is not None and s.released is not None for s in self.by_id.values())


class NetworkLoop:
    """One thread that runs the network side of many paho clients (paho's external loop).

    With a thread per client (`loop_start`) the load generator was the machine's biggest
    CPU user, 21 threads handing the GIL around: 0.72 ms per arrival against the server's
    0.63 (measured at 1,000/s). The paced arrivals are published from this thread too
    (`NetworkLoop.feed`), so that a publish costs no wake-up of another thread; other
    threads may publish as well (the outbox's republishing), and this thread writes.
    """

    SWEEP_SECONDS = 0.005

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self.clients: list[mqtt.Client] = []
        self._to_write: set[mqtt.Client] = set()
        self._lock = threading.Lock()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="lanes-network", daemon=True)
        self._feeder: Callable[[float], float | None] | None = None
        self._fed = threading.Event()

    def feed(self, feeder: Callable[[float], float | None]) -> threading.Event:
        """Let this thread call ``feeder(now)`` whenever it is due; the feeder publishes what
        is due and returns when it is next due (``time.perf_counter``), None when done. The
        event returned is set once it is done."""
        self._fed.clear()
        self._feeder = feeder
        self._wake()
        return self._fed

    def add(self, client: mqtt.Client) -> None:
        """Before `connect`: the client's socket is then watched by this loop."""
        client.on_socket_open = self._opened
        client.on_socket_close = self._closed
        client.on_socket_register_write = self._wants_write
        self.clients.append(client)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._wake()
        self._thread.join(5)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _opened(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        disable_nagle(client, _userdata, sock)
        self._selector.register(sock, selectors.EVENT_READ, client)

    def _closed(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def _wants_write(self, client: mqtt.Client, _userdata: Any, _sock: Any) -> None:
        if threading.current_thread() is self._thread:
            self._to_write.add(client)  # published by the feeder: written this turn
            return
        with self._lock:
            self._to_write.add(client)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"x")

    def _run(self) -> None:
        last_sweep = time.monotonic()
        due: float | None = None
        while self._running:
            timeout = self.SWEEP_SECONDS
            if self._feeder is not None:
                if due is None:
                    due = time.perf_counter()
                timeout = max(0.0, min(timeout, due - time.perf_counter()))
            for key, mask in self._selector.select(timeout):
                client = key.data
                if client is None:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(4096)
                    continue
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE:
                    self._write(client)
            feeder = self._feeder
            if feeder is not None and due is not None and time.perf_counter() >= due:
                due = feeder(time.perf_counter())
                if due is None:
                    self._feeder = None
                    self._fed.set()
            with self._lock:
                pending, self._to_write = self._to_write, set()
            for client in pending:
                self._write(client)
            now = time.monotonic()
            if now - last_sweep >= self.SWEEP_SECONDS:
                # A publish racing paho's "nothing left to write" would wait for the next
                # one on its client; the sweep sends it instead. Also keepalive pings.
                last_sweep = now
                for client in self.clients:
                    if client.want_write():
                        self._write(client)
                    client.loop_misc()

    def _write(self, client: mqtt.Client) -> None:
        client.loop_write()
        sock = client.socket()
        if sock is None:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.want_write() else 0)
        with contextlib.suppress(KeyError, ValueError):
            if self._selector.get_key(sock).events != events:
                self._selector.modify(sock, events, client)


class Lanes:
    """One MQTT client per lane, one network thread for all; arrivals out, answers in."""

    def __init__(self, broker: Broker, count: int) -> None:
        self.topics = Topics(SITE)
        self.tally = Tally()
        self.network = NetworkLoop()
        self.ports: list[MqttPort] = []
        subscribed: list[threading.Event] = []
        for lane in range(1, count + 1):
            port = bench_port(broker, lane_login(lane), self._on_message)
            done = threading.Event()
            names = (self.topics.acks(str(lane)), self.topics.releases(str(lane)))
            port.client.on_connect = lambda *_, port=port, names=names: port.subscribe(*names)
            port.client.on_subscribe = lambda *_, done=done: done.set()
            self.network.add(port.client)
            port.connect()
            self.ports.append(port)
            subscribed.append(done)
        self.network.start()
        if not all(done.wait(10) for done in subscribed):
            self.network.stop()
            raise TimeoutError("MQTT subscriptions not confirmed")

    def _on_message(self, topic: str, payload: bytes) -> None:
        now = time.perf_counter()
        parsed = self.topics.parse(topic)
        kind = parsed[0] if parsed is not None else None
        body = orjson.loads(payload)
        tally = self.tally
        with tally.lock:
            if kind is TopicKind.ACKS:
                sent = tally.by_id.get(body["id"])
                if sent is not None and sent.acked is None:
                    sent.acked = now
            elif kind is TopicKind.RELEASES:
                sent = tally.by_visit.get(body["visit"])
                if sent is not None and sent.released is None:
                    sent.released = now
                    tally.see_operator += bool(body.get("see_operator"))

    def run(self, codes: Iterator[str], rate: float, seconds: float, drain: float) -> Tally:
        """Publish ``rate * seconds`` arrivals on a paced schedule, then wait for the answers."""
        self.tally = tally = Tally()
        # Made before the clock starts, as an edge has its message ready when it publishes:
        # building them on the way cost the load generator a third of its time.
        prepared = []
        for index in range(int(rate * seconds)):
            lane = index % len(self.ports) + 1
            arrival = Arrival(site=SITE, lane=str(lane), visit=uuid.uuid4(),
                              code_sha256=next(codes))  # fmt: skip
            topic = self.topics.arrivals(str(lane))
            prepared.append((lane, topic, str(arrival.id), str(arrival.visit), encode(arrival)))
        start = time.perf_counter()
        following = iter(enumerate(prepared))

        def publish_due(now: float) -> float | None:
            """In the network thread: publish every arrival whose time has come."""
            for index, (lane, topic, arrival_id, visit, payload) in following:
                sent = Sent(lane, payload, visit, now, now)
                with tally.lock:
                    tally.by_id[arrival_id] = sent
                    tally.by_visit[visit] = sent
                self.ports[lane - 1].publish(topic, payload)
                next_due = start + (index + 1) / rate
                if next_due > now:
                    return next_due
            return None

        fed = self.network.feed(publish_due)
        while not fed.wait(1.0):
            self._republish(tally)
        deadline = time.perf_counter() + drain
        while time.perf_counter() < deadline and not tally.done():
            self._republish(tally)
            time.sleep(0.05)
        return tally

    def _republish(self, tally: Tally) -> None:
        """What an edge's outbox does: send again, same id, what stayed unacked too long."""
        now = time.perf_counter()
        with tally.lock:
            late = [s for s in tally.by_id.values() if s.acked is None]
            late = [s for s in late if now - s.last_sent > ACK_TIMEOUT]
            for sent in late:
                sent.last_sent = now
        for sent in late:
            self.ports[sent.lane - 1].publish(self.topics.arrivals(str(sent.lane)), sent.payload)
        tally.republished += len(late)

    def close(self) -> None:
        for port in self.ports:
            port.stop()
        time.sleep(0.1)  # the network thread sends the DISCONNECTs
        self.network.stop()


def broker_round_trip(
    broker: Broker, rate: float, seconds: float, size: int
) -> dict[str, float | int]:
    """The floor: QoS 1 publish -> delivery between two clients, same rate and payload size."""
    topic = f"bench/floor/{uuid.uuid4().hex}"
    sent: dict[int, float] = {}
    latencies: list[float] = []
    lock = threading.Lock()

    def on_message(_topic: str, payload: bytes) -> None:
        now = time.perf_counter()
        number = int(payload[:12])
        with lock:
            if number in sent:
                latencies.append((now - sent.pop(number)) * 1000)

    receiver = bench_port(broker, FLOOR_RECEIVER, on_message)
    sender = bench_port(broker, FLOOR_SENDER)
    try:
        _start(receiver, [topic])
        _start(sender, [])
        padding = b"x" * max(0, size - 12)
        total, start = int(rate * seconds), time.perf_counter()
        for index in range(total):
            pause = start + index / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            with lock:
                sent[index] = time.perf_counter()
            sender.publish(topic, b"%012d" % index + padding)
        deadline = time.perf_counter() + 5
        while sent and time.perf_counter() < deadline:
            time.sleep(0.02)
    finally:
        for port in (sender, receiver):
            port.stop()
    return percentiles(latencies)


def _start(port: MqttPort, topics: list[str]) -> None:
    """Connect on paho's thread and wait until the subscriptions are confirmed."""
    subscribed = threading.Event()

    def on_connect(*_: Any) -> None:
        if topics:
            port.subscribe(*topics)
        else:
            subscribed.set()

    port.client.on_connect = on_connect
    port.client.on_subscribe = lambda *_: subscribed.set()
    port.start()
    if not subscribed.wait(10):
        raise TimeoutError("MQTT subscriptions not confirmed")
