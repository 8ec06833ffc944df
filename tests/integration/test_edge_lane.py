"""The real edge process against a real Mosquitto, with a test subscriber acting as the server."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench.scenes import CarSpec, lane_video, write_video
from core.codes import PickupCode
from core.contract import (
    Ack,
    AckOutcome,
    Arrival,
    Departure,
    Release,
    ReleasedPermit,
    Topics,
    decode,
    encode,
)
from core.plates import mask_plate
from edge_lane.broker import free_port
from tests.conftest import MQTT_USERS, SITE
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
TOPICS = Topics(SITE)
PASSWORD_ENV = "DRIVETHRU_TEST_LANE_PASSWORD"


def _code(seed: int) -> PickupCode:
    rng = np.random.default_rng(seed)
    return PickupCode.parse("DT1:" + base64.b32encode(rng.bytes(16)).decode().rstrip("="))


CODE_1, CODE_3 = _code(1), _code(3)
CARS = (
    CarSpec("DK1234AB", code=CODE_1.text, wait_frames=30),
    CarSpec("B987CD", wait_frames=20),
    CarSpec("AB12XY", code=CODE_3.text, wait_frames=30),
    CarSpec("DK77RS", wait_frames=20),
)


VIDEO_SEED = 11


@pytest.fixture(scope="module")
def lane_avi(pytestconfig: pytest.Config) -> Path:
    """Four cars, two showing a code, at 40 fps (so realtime runs take seconds).

    Drawing the frames takes ~0.1 s each, so the video is kept in pytest's cache: the same
    seed and cars always give the same frames.
    """
    path = pytestconfig.cache.mkdir("edge-lane-video") / f"lane-{VIDEO_SEED}-v1.avi"
    if not path.exists():
        partial = path.with_suffix(".partial.avi")
        write_video(lane_video(CARS, seed=VIDEO_SEED, move_frames=14), partial, fps=40)
        partial.rename(path)
    return path


class FakeServer:
    """Subscribes to the lane's arrivals and departures as the server would, and acks them
    when asked to."""

    def __init__(self, broker: MosquittoServer, *, acking: bool = True) -> None:
        self.acking = acking
        self.arrivals: list[Arrival] = []
        self.departures: list[Departure] = []
        self.payloads: dict[str, set[bytes]] = {}
        self.release_for_first = False
        self._lock = threading.Lock()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-server")
        self._client.username_pw_set("server", MQTT_USERS["server"])
        self._client.on_connect = self._subscribe
        self._client.on_message = self._received
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()

    def _subscribe(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe([(TOPICS.all_arrivals, 1), (TOPICS.all_departures, 1)])

    def _received(self, client: mqtt.Client, _: object, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/departures"):
            departure = decode(Departure, bytes(message.payload))
            with self._lock:
                self.departures.append(departure)
            if self.acking:
                ack = Ack(id=departure.id, outcome=AckOutcome.LEFT)
                client.publish(TOPICS.acks(departure.lane), encode(ack), qos=1)
            return
        arrival = decode(Arrival, bytes(message.payload))
        with self._lock:
            first = not self.arrivals
            self.arrivals.append(arrival)
            self.payloads.setdefault(str(arrival.id), set()).add(bytes(message.payload))
        if self.acking:
            ack = Ack(id=arrival.id, outcome=AckOutcome.NO_MATCH)
            client.publish(TOPICS.acks(arrival.lane), encode(ack), qos=1)
        if first and self.release_for_first:
            permit = ReleasedPermit(id="p1", number="IZN-1", slot="R2-14", holder="I** W*****")
            release = Release(
                lane="1", window="1", visit=arrival.visit, plate="DK1234AB", permits=[permit]
            )
            client.publish(TOPICS.releases("1"), encode(release), qos=1)

    def ids(self) -> set[str]:
        with self._lock:
            return {str(a.id) for a in self.arrivals}

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@contextlib.contextmanager
def fake_server(broker: MosquittoServer, *, acking: bool = True) -> Iterator[FakeServer]:
    server = FakeServer(broker, acking=acking)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def module_process(
    module: str, args: list[str], log: Path, env: dict[str, str], *, stop: int = signal.SIGKILL
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m module args`` in its own session, output to ``log``; sent ``stop`` (then
    killed if it lingers) in ``finally`` whatever happens."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, stop)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@contextlib.contextmanager
def edge(
    args: list[str], log: Path, password: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """The edge process (``python -m edge_lane``); killed in ``finally`` whatever happens."""
    env = {PASSWORD_ENV: password or MQTT_USERS["lane-1"]}
    with module_process("edge_lane", args, log, env) as process:
        yield process


def lane_args(broker: MosquittoServer, source: Path, outbox: Path, *extra: str) -> list[str]:
    return [
        *("--site", SITE, "--lane", "1", "--source", str(source)),
        *("--broker", broker.url, "--username", "lane-1", "--password-env", PASSWORD_ENV),
        *("--outbox", str(outbox)),
        *extra,
    ]


def outbox_ids(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {row[0] for row in db.execute("SELECT id FROM outbox")}


def by_visit(arrivals: list[Arrival]) -> list[list[Arrival]]:
    visits: dict[str, list[Arrival]] = {}
    for arrival in sorted(arrivals, key=lambda a: a.at):
        visits.setdefault(str(arrival.visit), []).append(arrival)
    return list(visits.values())


def test_each_car_is_one_visit_with_its_plate_and_code(
    mosquitto: MosquittoServer, lane_avi: Path, tmp_path: Path
) -> None:
    log = tmp_path / "edge.log"
    outbox = tmp_path / "outbox.db"
    with fake_server(mosquitto) as server:
        server.release_for_first = True
        with edge(lane_args(mosquitto, lane_avi, outbox, "--fast"), log) as process:
            assert process.wait(60) == 0, log.read_text()
        visits = by_visit(server.arrivals)
    assert [v[-1].plate.text if v[-1].plate else None for v in visits] == [c.plate for c in CARS]
    codes = [{a.code_sha256 for a in v} - {None} for v in visits]
    assert codes == [{CODE_1.sha256}, set(), {CODE_3.sha256}, set()]
    assert all(len(v) <= 4 for v in visits)  # updates, never a flood
    assert len({str(a.id) for a in server.arrivals}) == len(server.arrivals)
    assert outbox_ids(outbox) == set()  # every arrival and departure acked, nothing left
    # Each car's departure follows its arrivals, once.
    assert [str(d.visit) for d in server.departures] == [str(v[0].visit) for v in visits]
    assert all(d.at >= v[-1].at for d, v in zip(server.departures, visits, strict=True))
    text = log.read_text()
    assert "DK 1234 AB — Jendela 1 — 1 izin" in text
    assert CODE_1.text not in text  # the code is never logged
    assert CODE_3.text not in text


def test_arrivals_survive_a_broker_restart_mid_run(
    mosquitto: MosquittoServer, lane_avi: Path, tmp_path: Path
) -> None:
    log = tmp_path / "edge.log"
    outbox = tmp_path / "outbox.db"
    # The video ends while the broker is still down; a lane agent that runs on would simply
    # wait, so this one is given time to drain once the broker is back.
    config = tmp_path / "lane.toml"
    config.write_text('site = "badung"\nlane = "1"\ndrain_seconds = 90\n')
    args = ["--config", str(config), *lane_args(mosquitto, lane_avi, outbox, "--realtime")]
    with fake_server(mosquitto) as server:
        with edge(args, log) as process:
            assert server.wait_for(lambda: len(server.arrivals) >= 1, 30), log.read_text()
            mosquitto.stop()
            time.sleep(30)  # the other cars arrive while the broker is down for 30 s
            mosquitto.start()
            assert process.wait(120) == 0, log.read_text()
        assert server.wait_for(lambda: len(by_visit(server.arrivals)) == len(CARS), 10)
        visits = by_visit(server.arrivals)
    assert [v[-1].plate.text if v[-1].plate else None for v in visits] == [c.plate for c in CARS]
    assert outbox_ids(outbox) == set()
    for payloads in server.payloads.values():
        assert len(payloads) == 1  # a duplicate is the same message, same id


def test_arrivals_survive_kill_9_of_the_edge(
    mosquitto: MosquittoServer, lane_avi: Path, tmp_path: Path
) -> None:
    log = tmp_path / "edge.log"
    outbox = tmp_path / "outbox.db"
    with fake_server(mosquitto, acking=False) as server:
        with edge(lane_args(mosquitto, lane_avi, outbox, "--realtime"), log) as process:
            assert server.wait_for(lambda: len(server.arrivals) >= 2, 30), log.read_text()
            process.kill()  # SIGKILL: no flush, no goodbye
            process.wait(10)
        stranded = outbox_ids(outbox)
        assert stranded >= server.ids()  # nothing acked, so everything sent is still there
        server.acking = True
        # The restarted edge sees a few frames of empty lane and delivers what it had.
        restart = lane_args(mosquitto, lane_avi, outbox, "--fast", "--max-frames", "5")
        with edge(restart, log) as process:
            assert process.wait(30) == 0, log.read_text()
        assert server.wait_for(lambda: stranded <= server.ids(), 10)
    assert outbox_ids(outbox) == set()
    for payloads in server.payloads.values():
        assert len(payloads) == 1


def test_a_corrupt_image_in_a_folder_is_skipped(
    mosquitto: MosquittoServer, lane_avi: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    capture = cv2.VideoCapture(str(lane_avi))
    try:
        for index in range(90):  # the first car: arrives, waits, leaves
            ok, frame = capture.read()
            assert ok
            cv2.imwrite(str(folder / f"{index:04d}.jpg"), frame)
    finally:
        capture.release()
    (folder / "0050.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    log = tmp_path / "edge.log"
    with fake_server(mosquitto) as server:
        args = lane_args(mosquitto, folder, tmp_path / "outbox.db", "--fast")
        with edge(args, log) as process:
            assert process.wait(60) == 0, log.read_text()
        plates = {a.plate.text for a in server.arrivals if a.plate}
    assert plates == {"DK1234AB"}
    assert (
        "bingkai dilewati / frame skipped: 0050.jpg: bukan gambar / not an image" in log.read_text()
    )


def test_a_missing_source_exits_with_a_message(tmp_path: Path) -> None:
    log = tmp_path / "edge.log"
    args = [
        *("--site", SITE, "--lane", "1", "--source", str(tmp_path / "nope.avi")),
        *("--outbox", str(tmp_path / "o.db"), "--broker", "mqtt://127.0.0.1:1"),
    ]
    with edge(args, log) as process:
        assert process.wait(30) == 3
    assert "tidak bisa dibuka / cannot open source" in log.read_text()
    assert "no such file or folder" in log.read_text()


def test_a_bad_config_exits_2_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "lane.toml"
    config.write_text(
        'site = "badung"\nlane = "1"\n[[cameras]]\nsource = "x.avi"\n'
        '[broker]\nurl = "mqtt://127.0.0.1:1"\nprotocol = "4"\n'
    )
    log = tmp_path / "edge.log"
    with edge(["--config", str(config)], log) as process:
        assert process.wait(30) == 2
    assert "broker.protocol: pilihan tidak sah" in log.read_text()


def test_an_unset_password_variable_exits_2(tmp_path: Path, lane_avi: Path) -> None:
    log = tmp_path / "edge.log"
    args = [
        *("--site", SITE, "--lane", "1", "--source", str(lane_avi)),
        *("--broker", "mqtt://127.0.0.1:1", "--password-env", "DRIVETHRU_UNSET_FOR_TEST"),
    ]
    with edge(args, log) as process:
        assert process.wait(30) == 2
    assert "DRIVETHRU_UNSET_FOR_TEST" in log.read_text()


def _metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_every_edge_log_line_is_json_and_arrivals_carry_their_ids(
    mosquitto: MosquittoServer, lane_avi: Path, tmp_path: Path
) -> None:
    log = tmp_path / "edge.log"
    args = lane_args(mosquitto, lane_avi, tmp_path / "outbox.db", "--fast", "--log-format", "json")
    with fake_server(mosquitto) as server, edge(args, log) as process:
        assert process.wait(60) == 0, log.read_text()
        sent = server.ids()
        plates = {a.plate.text for a in server.arrivals if a.plate is not None}
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines
    assert plates
    for plate in plates:  # personal data: logs show a plate masked, never whole
        assert plate not in log.read_text()
        assert mask_plate(plate) in log.read_text()
    for line in lines:
        assert {"at", "level", "logger", "message"} <= line.keys()
        assert (line["site"], line["lane"]) == (SITE, "1")
    arrivals = [line for line in lines if line["message"].startswith("KEDATANGAN / ARRIVAL")]
    assert {line["arrival"] for line in arrivals} == sent
    assert all(line["visit"] for line in arrivals)
    acks = [line for line in lines if line["message"].startswith("ack arrival ")]
    assert {line["arrival"] for line in acks} == sent
    departed = [line for line in lines if line["message"].startswith("ack departure ")]
    assert {line["departure"] for line in departed} == {str(d.id) for d in server.departures}
    assert departed


def test_the_edge_answers_metrics_on_its_display_port(
    mosquitto: MosquittoServer, lane_avi: Path, tmp_path: Path
) -> None:
    port = free_port()
    lane = f'site="{SITE}",lane="1"'
    camera = f'{lane},camera="window"'
    log = tmp_path / "edge.log"
    args = lane_args(mosquitto, lane_avi, tmp_path / "outbox.db", "--display-port", str(port))
    with fake_server(mosquitto) as server, edge(args, log) as process:
        # Realtime pace: the video lasts seconds, so the page is read while frames flow.
        assert server.wait_for(lambda: len(server.ids()) >= 2, 60), (
            tmp_path / "edge.log"
        ).read_text()
        deadline = time.monotonic() + 10
        while True:
            values = _metrics(port)
            if values[f"drivethru_edge_arrivals_acked_total{{{lane}}}"] >= 2:
                break
            assert time.monotonic() < deadline, values
            time.sleep(0.2)
        assert process.poll() is None
    assert values[f"drivethru_edge_frames_read_total{{{camera}}}"] > 0
    assert values[f"drivethru_edge_reads_total{{{camera}}}"] > 0
    assert values[f"drivethru_edge_frames_skipped_total{{{camera}}}"] == 0
    assert values[f"drivethru_edge_camera_ok{{{camera}}}"] == 1
    assert values[f"drivethru_edge_arrivals_decided_total{{{lane}}}"] >= 2
    assert values[f"drivethru_edge_arrivals_sent_total{{{lane}}}"] >= 2
    assert values[f"drivethru_edge_broker_connected{{{lane}}}"] == 1
    assert f"drivethru_edge_outbox_depth{{{lane}}}" in values
