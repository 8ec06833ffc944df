"""`drivethru bench e2e`: arrival published -> release received at the lane, the whole system.

One run starts a broker (Mosquitto with a generated config, else the embedded broker) and the
real server process on SQLite files in a temporary directory, seeds READY permits first, and
drives N simulated lanes that behave like edges: each arrival carries the SHA-256 of a seeded
pickup code, is kept until its ack arrives and is republished when unacked after a timeout.
The anchor, the broker's own QoS 1 round trip at the same rate and payload size, is measured
in the same run; then the rate is stepped up until the server no longer keeps up.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from core.contract import Arrival, Topics, encode
from edge_lane.broker import EmbeddedBroker, free_port

SITE = "badung"
HOST = "127.0.0.1"
ACK_TIMEOUT = 5.0  # an edge republishes an arrival unacked for this long
P99_LIMIT_MS = 100.0
KEEP_UP = 0.95
FULL_STEPS = (200, 400, 600, 800, 1000, 1200, 1600)
QUICK_STEPS = (200, 400)


def percentiles(values: Sequence[float]) -> dict[str, float | int]:
    """Nearest-rank p50/p95/p99 in ms, with the count."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "count": 0}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "count": len(ordered)}


# -- services -------------------------------------------------------------------------------


@dataclass
class Broker:
    kind: str
    port: int
    protocol: str  # "5" or "3.1.1"
    stop: Any
    pid: int | None = None
    """Mosquitto's process; None for the embedded broker, which runs in this process."""


def start_broker(workdir: Path, users: dict[str, str]) -> Broker:
    """Mosquitto on a free loopback port with password auth; the embedded broker without it."""
    # Debian puts mosquitto in /usr/sbin, which is not always on PATH.
    binary = shutil.which("mosquitto") or shutil.which(
        "mosquitto", path="/usr/sbin:/usr/local/sbin"
    )
    if binary is None or shutil.which("mosquitto_passwd") is None:
        embedded = EmbeddedBroker(users, host=HOST, port=free_port())
        embedded.start()
        return Broker("embedded", embedded.port, "3.1.1", embedded.stop)
    passwords = workdir / "passwd"
    passwords.touch(mode=0o600)
    for user, password in users.items():
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwords), user, password],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    port = free_port()
    lines = [
        "allow_anonymous false",
        f"password_file {passwords}",
        # The default of 1000 silently drops QoS 1 messages queued for a slow subscriber.
        "max_queued_messages 100000",
        # Without it, the broker's second small write to a client (an ack after a PUBACK,
        # a release after an ack) waits for a delayed TCP ACK: measured ~40 ms at p50.
        "set_tcp_nodelay true",
        "log_dest stdout",
        "log_type error",
        "log_type warning",
        f"listener {port} {HOST}",
    ]
    if os.geteuid() == 0:
        # Mosquitto would drop root for `mosquitto`, which cannot read our 0600 files.
        lines.insert(0, "user root")
    config = workdir / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n")
    log = (workdir / "mosquitto.log").open("ab")
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip

    def stop() -> None:
        _terminate(process)
        log.close()

    try:
        _wait(lambda: _listening(port), 10, process, "mosquitto")
    except BaseException:
        stop()
        raise
    return Broker("mosquitto", port, "5", stop, process.pid)


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


def _wait(ready: Any, seconds: float, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        if ready():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not start in {seconds} s")


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def seed(workdir: Path, nik_key: str, count: int) -> list[str]:
    """READY permits made on a store; returns the SHA-256 of each pickup code.

    Seeding on tmpfs and copying the file to the run's disk directory avoids one fsync per
    command (~3 ms here) while the server still runs on a real disk.
    """
    from bench.seed import seed_on_store
    from core.service import PermitService
    from core.settings import ServiceSettings, StoreSettings

    shm = Path("/dev/shm")
    scratch = Path(tempfile.mkdtemp(prefix="drivethru-seed-", dir=shm if shm.is_dir() else None))
    try:
        if (workdir / "events.db").exists():  # more permits for the next step, same store
            _copy(workdir / "events.db", scratch / "events.db")
        store = StoreSettings(backend="sqlite", sqlite_path=scratch / "events.db")
        service = PermitService(ServiceSettings(store=store, nik_key=SecretStr(nik_key)))
        try:
            codes = [p.code for p in seed_on_store(service, SITE, count)]
        finally:
            service.close()
        _copy(scratch / "events.db", workdir / "events.db")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [hashlib.sha256(code.encode()).hexdigest() for code in codes]


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup: consistent whatever is left in the source's WAL."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def write_site_toml(path: Path, lanes: int) -> None:
    lane_list = ", ".join(f'{{lane = "{n}", window = "{n}"}}' for n in range(1, lanes + 1))
    path.write_text(f'site = "{SITE}"\nrelease_on = "code"\nlanes = [{lane_list}]\n')


@contextlib.contextmanager
def server_process(
    workdir: Path, broker: Broker, password: str, nik_key: str, lanes: int
) -> Iterator[subprocess.Popen[bytes]]:
    """`drivethru serve` on a free port, until the bridge is connected; stopped on exit."""
    write_site_toml(workdir / "site.toml", lanes)
    port = free_port()
    args = [
        sys.executable, "-m", "api", "serve", "--config", str(workdir / "site.toml"),
        "--db", str(workdir / "events.db"), "--read-models", str(workdir / "read.db"),
        "--port", str(port), "--broker", f"mqtt://{HOST}:{broker.port}",
    ]  # fmt: skip
    env = {
        **os.environ, "DRIVETHRU_NIK_KEY": nik_key, "DRIVETHRU_BROKER_PASSWORD": password,
        "DRIVETHRU_STORE": "sqlite", "DRIVETHRU_BROKER_PROTOCOL": broker.protocol,
    }  # fmt: skip
    log = (workdir / "server.log").open("ab")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)

    def connected() -> bool:
        with (
            contextlib.suppress(OSError, ValueError),
            urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as answer,
        ):
            health = json.loads(answer.read())
            # Connected, and the waiting permits loaded as after any start (api/runtime.py).
            return bool(health.get("broker_connected") and health.get("warm"))
        return False

    try:
        try:
            _wait(connected, 60, process, "the server")
        except (RuntimeError, TimeoutError) as error:
            tail = (workdir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{error}:\n{tail}") from None
        yield process
    finally:
        _terminate(process)
        log.close()


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (the 3rd field is index 0)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its children: the server and its MQTT link process (api/mqtt_link.py)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(_stat(int(entry.name))[1]) == pid:
                    children.append(int(entry.name))
    return [pid, *children]


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of the processes, from /proc."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat(pid)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pids: Sequence[int]) -> float:
    """The processes' peak resident sizes, added up."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


# -- the lanes ------------------------------------------------------------------------------


def _client(broker: Broker, user: str, password: str, name: str) -> mqtt.Client:
    v5 = broker.protocol == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-{name}-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    client.username_pw_set(user, password)
    # paho's default of 20 in flight would throttle the ramp before the server does.
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    # Nagle's algorithm holds a small write until the previous one is acknowledged, and the
    # peer delays that TCP ACK by up to 40 ms: measured, +35 ms on every release.
    client.on_socket_open = lambda _c, _u, sock: _no_delay(sock)
    return client


def _no_delay(sock: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _connect(client: mqtt.Client, broker: Broker, topics: Sequence[str]) -> None:
    subscribed = threading.Event()

    def on_connect(c: mqtt.Client, *_: Any) -> None:
        if topics:
            c.subscribe([(t, 1) for t in topics])
        else:
            subscribed.set()

    client.on_connect = on_connect
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(HOST, broker.port, keepalive=30)
    client.loop_start()
    if not subscribed.wait(10):
        raise TimeoutError("MQTT subscriptions not confirmed")


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
        _no_delay(sock)
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

    def __init__(self, broker: Broker, user: str, password: str, count: int) -> None:
        self.topics = Topics(SITE)
        self.tally = Tally()
        self.network = NetworkLoop()
        self.clients: list[mqtt.Client] = []
        subscribed: list[threading.Event] = []
        for lane in range(1, count + 1):
            client = _client(broker, user, password, f"lane{lane}")
            client.on_message = self._on_message
            done = threading.Event()
            names = (self.topics.acks(str(lane)), self.topics.releases(str(lane)))
            client.on_connect = lambda c, *_, names=names: c.subscribe([(t, 1) for t in names])
            client.on_subscribe = lambda *_, done=done: done.set()
            self.network.add(client)
            client.connect(HOST, broker.port, keepalive=30)
            self.clients.append(client)
            subscribed.append(done)
        self.network.start()
        if not all(done.wait(10) for done in subscribed):
            self.network.stop()
            raise TimeoutError("MQTT subscriptions not confirmed")

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        body = orjson.loads(message.payload)
        tally = self.tally
        with tally.lock:
            if message.topic.endswith("/acks"):
                sent = tally.by_id.get(body["id"])
                if sent is not None and sent.acked is None:
                    sent.acked = now
            else:
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
            lane = index % len(self.clients) + 1
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
                self.clients[lane - 1].publish(topic, payload, qos=1)
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
            self.clients[sent.lane - 1].publish(
                self.topics.arrivals(str(sent.lane)), sent.payload, 1
            )
        tally.republished += len(late)

    def close(self) -> None:
        for client in self.clients:
            client.disconnect()
        time.sleep(0.1)  # the network thread sends the DISCONNECTs
        self.network.stop()


def summarise(tally: Tally, rate: float, seconds: float) -> dict[str, Any]:
    with tally.lock:
        sent = list(tally.by_id.values())
    acked = [s for s in sent if s.acked is not None]
    released = [s for s in sent if s.released is not None]
    # Keeping up means the releases come out over about as long as the arrivals went in.
    times = sorted(s.released for s in released if s.released is not None)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    achieved = (len(times) - 1) / span if span > 0 else 0.0
    # The pacer's own rate: if the load generator falls behind, the server is not to blame.
    out = sorted(s.published for s in sent)
    published = (len(out) - 1) / (out[-1] - out[0]) if len(out) > 1 and out[-1] > out[0] else 0.0
    return {
        "rate": rate,
        "seconds": seconds,
        "arrivals": len(sent),
        "acks": len(acked),
        "releases": len(released),
        "see_operator": tally.see_operator,
        "republished": tally.republished,
        "ack_loss": len(sent) - len(acked),
        "releases_missing": len(sent) - len(released),
        "published_rate": round(published, 1),
        "achieved_rate": round(min(achieved, len(sent) / seconds), 1),
        "release_ms": percentiles([(t - s.published) * 1000 for s in sent if (t := s.released)]),
        "ack_ms": percentiles([(t - s.published) * 1000 for s in sent if (t := s.acked)]),
    }


def broker_round_trip(
    broker: Broker, user: str, password: str, rate: float, seconds: float, size: int
) -> dict[str, float | int]:
    """The floor: QoS 1 publish -> delivery between two clients, same rate and payload size."""
    topic = f"bench/{uuid.uuid4().hex}/floor"
    sent: dict[int, float] = {}
    latencies: list[float] = []
    lock = threading.Lock()

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        number = int(bytes(message.payload[:12]))
        with lock:
            if number in sent:
                latencies.append((now - sent.pop(number)) * 1000)

    receiver = _client(broker, user, password, "floor-sub")
    receiver.on_message = on_message
    sender = _client(broker, user, password, "floor-pub")
    try:
        _connect(receiver, broker, [topic])
        _connect(sender, broker, [])
        padding = b"x" * max(0, size - 12)
        total, start = int(rate * seconds), time.perf_counter()
        for index in range(total):
            pause = start + index / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            with lock:
                sent[index] = time.perf_counter()
            sender.publish(topic, b"%012d" % index + padding, qos=1)
        deadline = time.perf_counter() + 5
        while sent and time.perf_counter() < deadline:
            time.sleep(0.02)
    finally:
        for client in (sender, receiver):
            client.disconnect()
            client.loop_stop()
    return percentiles(latencies)


# -- the run --------------------------------------------------------------------------------


@dataclass
class Site:
    """The run's directory, keys and broker; the server is restarted for each ramp step."""

    workdir: Path
    broker: Broker
    nik_key: str
    password: str
    lanes: int
    peak_rss_mb: float = 0.0
    seed_seconds: float = 0.0
    seeded: int = 0

    def seed(self, count: int) -> Iterator[str]:
        started = time.perf_counter()
        hashes = seed(self.workdir, self.nik_key, count)
        self.seed_seconds += time.perf_counter() - started
        self.seeded += count
        return iter(hashes)

    @contextlib.contextmanager
    def server(self) -> Iterator[list[int]]:
        with server_process(
            self.workdir, self.broker, self.password, self.nik_key, self.lanes
        ) as process:
            time.sleep(0.5)  # the first manifests go out before measuring
            tree = process_tree(process.pid)
            try:
                yield tree
            finally:
                self.peak_rss_mb = max(self.peak_rss_mb, peak_rss_mb(tree))


def _phase(site: Site, lanes: Lanes, rate: float, seconds: float, drain: float) -> dict[str, Any]:
    """Seed one permit per arrival (so the READY set stays proportional to the load), start
    the server, drive the lanes, stop the server."""
    codes = site.seed(int(rate * seconds))
    with site.server() as tree:
        # Where the two cores go, process by process: the server, its MQTT link, the broker
        # and this load generator (with the embedded broker, when that is the one running).
        parts = {"server": tree[:1], "mqtt_link": tree[1:], "load_generator": [os.getpid()]}
        if site.broker.pid is not None:
            parts["broker"] = [site.broker.pid]
        before = {name: cpu_seconds(pids) for name, pids in parts.items()}
        result = summarise(lanes.run(codes, rate, seconds, drain), rate, seconds)
        used = {name: cpu_seconds(pids) - before[name] for name, pids in parts.items()}
    arrivals = max(1, result["arrivals"])
    cpu = used["server"] + used["mqtt_link"]
    result["server_cpu_ms_per_arrival"] = round(cpu * 1000 / arrivals, 3)
    result["cpu_ms_per_arrival"] = {name: round(t * 1000 / arrivals, 3) for name, t in used.items()}
    result["ok"] = bool(
        result["ack_loss"] == 0
        and result["releases_missing"] == 0
        and result["release_ms"]["p99"] < P99_LIMIT_MS
        and result["achieved_rate"] >= KEEP_UP * rate
    )
    return result


def run(
    quick: bool = False,
    rate: float = 100.0,
    lanes: int = 20,
    seconds: float | None = None,
    steps: Sequence[float] | None = None,
) -> dict[str, object]:
    """Measure the anchor, the run at ``rate`` and the stepped ramp; one JSON-able dict.

    ``steps`` are the ramp's rates above ``rate`` (default: up to 1600/s, quick: 400/s);
    ``()`` skips the ramp. When ``rate`` itself fails, the ramp steps down instead (rate/2,
    rate/4) so that the report still says which load the server sustains.
    """
    duration = seconds if seconds is not None else (5.0 if quick else 20.0)
    step_seconds = min(duration, 2.0 if quick else 3.0)
    ramp_up = list(steps if steps is not None else QUICK_STEPS if quick else FULL_STEPS)
    password = secrets.token_hex(12)
    workdir = Path(tempfile.mkdtemp(prefix="drivethru-bench-e2e-"))
    started = time.perf_counter()
    try:
        broker = start_broker(workdir, {"server": password, "bench": password})
        try:
            site = Site(workdir, broker, secrets.token_hex(16), password, lanes)
            lanes_ = Lanes(broker, "bench", password, lanes)
            try:
                size = len(encode(Arrival(site=SITE, lane="1", visit=uuid.uuid4(),
                                          code_sha256="0" * 64)))  # fmt: skip
                floor = broker_round_trip(broker, "bench", password, rate, duration, size)
                main = _phase(site, lanes_, rate, duration, 15.0)
                ladder = [r for r in ramp_up if r > rate]
                if not main["ok"] and ramp_up:
                    ladder = [rate / 2, rate / 4]
                ramp = [main]
                for step in ladder:
                    ramp.append(_phase(site, lanes_, step, step_seconds, 10.0))
                    if ramp[-1]["ok"] != main["ok"]:
                        break  # up: the first failure; down: the first success
            finally:
                lanes_.close()
        finally:
            broker.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sustained = max((s["rate"] for s in ramp if s["ok"]), default=0.0)
    release_p99 = main["release_ms"]["p99"]
    return {
        "benchmark": "e2e", "quick": quick, "broker": broker.kind,
        "mqtt_protocol": broker.protocol, "cpus": os.cpu_count(), "lanes": lanes, "rate": rate,
        "seconds": duration, "seeded_permits": site.seeded,
        "seed_seconds": round(site.seed_seconds, 1),
        **{k: main[k] for k in ("arrivals", "acks", "releases", "see_operator", "republished")},
        "release_ms": main["release_ms"], "ack_ms": main["ack_ms"],
        "broker_round_trip_ms": floor,
        "release_p99_over_broker_p99": round(release_p99 / max(floor["p99"], 0.001), 1),
        "ack_loss": main["ack_loss"], "releases_missing": main["releases_missing"],
        "published_rate": main["published_rate"], "achieved_rate": main["achieved_rate"],
        "max_sustained_rate": sustained, "steps": ramp,
        "server_cpu_ms_per_arrival": main["server_cpu_ms_per_arrival"],
        "cpu_ms_per_arrival": main["cpu_ms_per_arrival"],
        "server_peak_rss_mb": site.peak_rss_mb,
        "total_seconds": round(time.perf_counter() - started, 1),
        "targets": {
            "p99_le_25ms_at_100_per_s": rate >= 100 and release_p99 <= 25.0,
            "sustained_ge_1000_per_s": sustained >= 1000,
            "ack_loss_zero": all(s["ack_loss"] == 0 for s in ramp if s["ok"] or s is main),
        },
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="drivethru bench e2e", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON (always)")
    parser.add_argument("--quick", action="store_true", help="short run, two ramp steps")
    parser.add_argument("--rate", type=float, default=100.0, help="arrivals/s across lanes")
    parser.add_argument("--lanes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.quick, args.rate, args.lanes, args.seconds)))


if __name__ == "__main__":
    main()
