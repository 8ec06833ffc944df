"""The server's MQTT link process: killed, it comes back; its server killed, it goes too;
stopped, it never stalls the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.mqtt_link import LinkSetup, MqttLink
from core.contract import Topics
from core.service import PermitService
from tests.conftest import MQTT_USERS, SITE
from tests.e2e.test_server_crash import service_settings
from tests.e2e.test_server_lane_flow import ROOT, arrival, make_ready
from tests.mqtt_peer import MqttPeer
from tests.server_process import ServerProcess
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]


def health(server: ServerProcess) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/healthz", timeout=5)
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def wait_until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: its parent just has not reaped it yet.
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"


def test_a_killed_link_is_restarted_and_every_arrival_is_acked_once(
    server: ServerProcess, mosquitto: MosquittoServer
) -> None:
    permits = [make_ready(server, f"DK {n} LK") for n in range(1, 7)]
    lane = MqttPeer(
        mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"],
        [f"{ROOT}/lanes/1/acks", f"{ROOT}/lanes/1/releases"], client_id="lane-1-link-test",
    )  # fmt: skip
    try:
        messages = [arrival(code=p["code"]) for p in permits]
        first_link = health(server)["mqtt_link"]["pid"]
        for message in messages[:3]:
            lane.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
        os.kill(first_link, signal.SIGKILL)
        for message in messages[3:]:
            lane.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))

        wait_until(
            lambda: health(server)["broker_connected"]
            and health(server)["mqtt_link"]["pid"] != first_link,
            20, "a new link connected",
        )  # fmt: skip
        assert health(server)["mqtt_link"]["restarts"] == 1
        assert not alive(first_link)

        # As an edge's outbox does: whatever is not acked yet is sent again.
        acked: dict[str, str] = {}
        shown: dict[str, list[str]] = {}
        deadline = time.monotonic() + 30
        while len(acked) < len(messages) and time.monotonic() < deadline:
            for message in messages:
                if message["id"] not in acked:
                    lane.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
            for received in lane.drain(1.0):
                body = received.json()
                if received.topic.endswith("/releases"):
                    shown[body["visit"]] = [p["id"] for p in body["permits"]]
                else:
                    acked.setdefault(body["id"], body["outcome"])
        assert set(acked) == {m["id"] for m in messages}
        assert set(acked.values()) <= {"released", "duplicate"}
        # No display went without its release: what the dead link lost came again with the
        # duplicate's answer, and a release always goes before its ack.
        assert shown == {
            m["visit"]: [p["permit"]["id"]] for m, p in zip(messages, permits, strict=True)
        }
    finally:
        lane.close()
    service = PermitService(service_settings(server.workdir))
    try:
        for permit in permits:
            names = [name for name, _ in service.history(uuid.UUID(permit["permit"]["id"]))]
            assert names.count("Released") == 1, names
    finally:
        service.close()


def test_a_killed_server_takes_its_link_down_and_the_broker_reports_it_offline(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    server = ServerProcess(tmp_path, mosquitto.url, MQTT_USERS["server"])
    server.start()
    watcher = MqttPeer(
        mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"],
        [f"{ROOT}/server/status"], client_id=f"status-{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    try:
        link = health(server)["mqtt_link"]["pid"]
        online = watcher.wait_for(lambda m: m.json()["state"] == "online", timeout=10)
        assert online.topic == f"{ROOT}/server/status"
        server.kill()
        # The link saw its server's socket close and left without a DISCONNECT, so the
        # broker published the server's last will.
        offline = watcher.wait_for(lambda m: m.json()["state"] == "offline", timeout=10)
        assert offline.json()["state"] == "offline"
        wait_until(lambda: not alive(link), 10, "the link process exited")
    finally:
        watcher.close()
        server.stop()


def test_a_stopped_link_never_stalls_the_server_and_nothing_it_was_given_is_lost(
    mosquitto: MosquittoServer,
) -> None:
    """SIGSTOP the link while the server publishes ~3 MB: the server's loop keeps running
    (its writes never block), and once the link runs again every message comes, in order."""
    topics = Topics(SITE)
    display = MqttPeer(
        mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"], [topics.releases("1")]
    )
    setup = LinkSetup(
        host=mosquitto.host, port=mosquitto.port, username="server",
        password=MQTT_USERS["server"], client_id=f"link-test-{uuid.uuid4().hex[:8]}",
        protocol="5", tls=False, ca_file=None, shared_arrivals=topics.shared_arrivals,
        all_arrivals=topics.all_arrivals, subscriptions=(), status_topic=topics.server_status,
        online=b'{"state": "online"}', offline=b'{"state": "offline"}',
    )  # fmt: skip
    count, pad = 3000, "x" * 1000

    async def scenario() -> tuple[int, int, float]:
        connected = asyncio.Event()
        link = MqttLink(setup, lambda _batch: None, lambda up, _detail: up and connected.set())
        await link.start()
        assert link.pid is not None
        try:
            await asyncio.wait_for(connected.wait(), 10)
            ticks = 0

            async def heartbeat() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            beating = asyncio.create_task(heartbeat())
            os.kill(link.pid, signal.SIGSTOP)
            longest = 0.0
            for start in range(0, count, 100):
                began = time.perf_counter()
                for n in range(start, start + 100):
                    link.publish(topics.releases("1"), json.dumps({"n": n, "pad": pad}).encode())
                await asyncio.sleep(0)  # the flush runs
                longest = max(longest, time.perf_counter() - began)
            held_back = link.queued
            ticks_before = ticks
            await asyncio.sleep(0.5)
            beats = ticks - ticks_before
            os.kill(link.pid, signal.SIGCONT)
            deadline = time.monotonic() + 20
            while link.queued and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert link.queued == 0
            beating.cancel()
            return held_back, beats, longest
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(link.pid, signal.SIGCONT)
            await link.stop()

    try:
        held_back, beats, longest = asyncio.run(scenario())
        # The socket filled: most of the 3 MB waited in the server's queue, not in a write.
        assert held_back > count // 2
        assert beats >= 20  # the loop ran on while the link was stopped
        assert longest < 1.0
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while len(seen) < count and time.monotonic() < deadline:
            seen += [message.json()["n"] for message in display.drain(0.5)]
        assert seen == list(range(count))
    finally:
        display.close()
