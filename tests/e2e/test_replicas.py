"""Two `drivethru serve` replicas on one PostgreSQL store and one Mosquitto.

They share the arrivals through the shared subscription, each with ``sole_writer = false``
and read models of its own. One is killed with -9 while arrivals stream in at 200/s: every
arrival is still acked, no permit is released twice, and both replicas' read models equal a
rebuild from the store. A console connected to either replica sees every arrival, whichever
replica decided it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bench.seed import seed_on_store
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from projections.schema import TABLES
from tests.conftest import MQTT_USERS
from tests.mqtt_peer import MqttPeer
from tests.server_process import KEYS, NIK_KEY, ServerProcess, write_site_toml
from tests.services import MosquittoServer, PostgresServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres, pytest.mark.slow]
ROOT = "drivethru/v1/badung"
RATE = 200.0


def store_env(postgres: PostgresServer, dbname: str) -> dict[str, str]:
    return {
        "DRIVETHRU_STORE": "postgres",
        "DRIVETHRU_PG_HOST": postgres.host,
        "DRIVETHRU_PG_PORT": str(postgres.port),
        "DRIVETHRU_PG_DBNAME": dbname,
        "DRIVETHRU_PG_USER": postgres.user,
        "DRIVETHRU_PG_PASSWORD": postgres.password,
    }


def seed(postgres: PostgresServer, dbname: str, count: int) -> list[dict[str, Any]]:
    settings = ServiceSettings(store=pg_store(postgres, dbname), nik_key=SecretStr(NIK_KEY))
    service = PermitService(settings)
    try:
        return [{"id": p.id, "code": p.code} for p in seed_on_store(service, "badung", count)]
    finally:
        service.close()


def pg_store(postgres: PostgresServer, dbname: str) -> StoreSettings:
    return StoreSettings(
        backend="postgres", postgres_host=postgres.host, postgres_port=postgres.port,
        postgres_dbname=dbname, postgres_user=postgres.user,
        postgres_password=SecretStr(postgres.password),
    )  # fmt: skip


def released_counts(postgres: PostgresServer, dbname: str, ids: list[str]) -> dict[str, int]:
    """How many `Released` events each permit has in the store."""
    settings = ServiceSettings(store=pg_store(postgres, dbname), nik_key=SecretStr(NIK_KEY))
    service = PermitService(settings)
    try:
        return {
            pid: [name for name, _ in service.history(uuid.UUID(pid))].count("Released")
            for pid in ids
        }
    finally:
        service.close()


class Replicas:
    """Two server processes on one store and one broker, each in its own directory."""

    def __init__(self, root: Path, mosquitto: MosquittoServer, env: dict[str, str]) -> None:
        self.servers: list[ServerProcess] = []
        for name, user in (("a", "server"), ("b", "server-2")):
            workdir = root / name
            workdir.mkdir()
            config = workdir / "site.toml"
            write_site_toml(config)
            # Several servers write this store: cached permits are fast-forwarded.
            config.write_text("sole_writer = false\n" + config.read_text())
            login = {**env, "DRIVETHRU_BROKER_USERNAME": user}
            self.servers.append(ServerProcess(workdir, mosquitto.url, MQTT_USERS[user], env=login))

    def start(self) -> None:
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def replicas(
    tmp_path: Path, mosquitto: MosquittoServer, postgres: PostgresServer
) -> Iterator[tuple[Replicas, str]]:
    dbname = postgres.create_database(f"replicas_{uuid.uuid4().hex[:12]}")
    pair = Replicas(tmp_path, mosquitto, store_env(postgres, dbname))
    try:
        yield pair, dbname
    finally:
        pair.stop()


def arrival(code: str, lane: str = "1") -> dict[str, Any]:
    return {
        "v": 1, "id": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat(),
        "site": "badung", "lane": lane, "visit": str(uuid.uuid4()),
        "code_sha256": hashlib.sha256(code.encode()).hexdigest(),
    }  # fmt: skip


def decided_by(server: ServerProcess, arrival_ids: set[str]) -> set[str]:
    """The arrivals whose decision is in this server's log."""
    text = server.log.read_text(errors="replace")
    return {i for i in arrival_ids if f"arrival {i} lane" in text}


def listen(server: ServerProcess, lane: str, into: list[dict[str, Any]]) -> threading.Event:
    """Follow the lane's SSE stream in a thread, collecting its arrival events."""
    connected = threading.Event()

    def run() -> None:
        headers = {"Authorization": f"Bearer {KEYS['operator-1'][0]}"}
        with (
            contextlib.suppress(httpx.HTTPError),  # the server stops at the test's end
            httpx.Client(base_url=server.url, headers=headers, timeout=30) as client,
            client.stream("GET", f"/api/lanes/{lane}/events") as stream,
        ):
            for line in stream.iter_lines():
                connected.set()
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    if event.get("type") == "arrival":
                        into.append(event)

    threading.Thread(target=run, daemon=True).start()
    return connected


def test_an_arrival_decided_by_one_replica_is_live_on_the_other(
    replicas: tuple[Replicas, str], mosquitto: MosquittoServer, postgres: PostgresServer
) -> None:
    pair, dbname = replicas
    permits = seed(postgres, dbname, 8)
    pair.start()
    a, b = pair.servers
    seen: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
    for server, name in ((a, "a"), (b, "b")):
        assert listen(server, "1", seen[name]).wait(10)
    edge = MqttPeer(
        mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"],
        [f"{ROOT}/lanes/1/acks"], client_id="lane-1-edge",
    )  # fmt: skip
    try:
        messages = [arrival(p["code"]) for p in permits]
        for message in messages:
            edge.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
        acked: dict[str, str] = {}
        for _ in messages:
            ack = edge.wait_for(lambda m: True, timeout=20).json()
            acked[ack["id"]] = ack["outcome"]
        assert set(acked.values()) == {"released"}
    finally:
        edge.close()
    ids = {m["id"] for m in messages}
    # The shared subscription split them: each replica decided some, not all.
    by_a, by_b = decided_by(a, ids), decided_by(b, ids)
    assert by_a, "replica a decided some"
    assert by_b, "replica b decided some"
    assert by_a | by_b == ids
    assert not by_a & by_b
    visits = {m["visit"] for m in messages}
    visit_of = {m["id"]: m["visit"] for m in messages}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(len(s) < len(messages) for s in seen.values()):
        time.sleep(0.05)
    for name, events in seen.items():
        # Every arrival is live on both consoles, those the other replica decided too.
        assert {e["visit"] for e in events} == visits, name
        assert all(e["outcome"] == "released" and len(e["released"]) == 1 for e in events)
    for server in (a, b):
        with server.client("operator-1") as operator:
            board = operator.get("/api/lanes/1/board").json()
        assert {r["visit"] for r in board["recent_arrivals"]} == visits
        assert {r["visit"] for r in board["released"]} == visits
    # B's console shows the arrivals A decided (and the other way round).
    assert {e["visit"] for e in seen["b"]} >= {visit_of[i] for i in by_a}


def read_model_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in TABLES
        }


def test_a_replica_killed_mid_stream_loses_and_doubles_nothing(
    tmp_path: Path,
    replicas: tuple[Replicas, str],
    mosquitto: MosquittoServer,
    postgres: PostgresServer,
) -> None:
    pair, dbname = replicas
    permits = seed(postgres, dbname, 400)
    pair.start()
    victim, survivor = pair.servers
    edge = MqttPeer(
        mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"],
        [f"{ROOT}/lanes/1/acks"], client_id="lane-1-edge",
    )  # fmt: skip
    messages = {m["id"]: m for m in (arrival(p["code"]) for p in permits)}
    acked: dict[str, str] = {}
    lock = threading.Lock()

    def collect() -> None:
        while True:
            try:
                ack = edge.wait_for(lambda m: True, timeout=60).json()
            except TimeoutError:
                return
            with lock:
                acked.setdefault(ack["id"], ack["outcome"])
                if len(acked) == len(messages):
                    return

    collector = threading.Thread(target=collect)
    collector.start()
    try:
        started = time.monotonic()
        for index, message in enumerate(messages.values()):
            pause = started + index / RATE - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            edge.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
            if index == len(messages) // 2:
                victim.kill()  # mid-stream, no goodbye
                before_kill = victim.log.read_text(errors="replace")
        time.sleep(1)
        victim.start()
        # Like the edge's outbox: what is not acked yet is sent again until it is.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            time.sleep(3)
            with lock:
                missing = [m for i, m in messages.items() if i not in acked]
            if not missing:
                break
            for message in missing:
                edge.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
        collector.join(10)
        assert set(acked) == set(messages), f"{len(messages) - len(acked)} never acked"
        assert set(acked.values()) <= {"released", "duplicate"}
    finally:
        edge.close()
        pair.stop()

    # Both decided (the shared subscription), the survivor took the rest while the victim
    # was down, and no permit went out twice.
    ids = list(messages)
    assert any(f"arrival {i} lane" in before_kill for i in ids), "the victim decided some"
    assert decided_by(survivor, set(ids[len(ids) // 2 + 1 :]))
    counts = released_counts(postgres, dbname, [str(p["id"]) for p in permits])
    assert sorted(set(counts.values())) == [1], {k: v for k, v in counts.items() if v != 1}

    rebuilt = tmp_path / "rebuilt.db"
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "projections", "rebuild", "--read-models", str(rebuilt)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **victim.env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = read_model_dump(rebuilt)
    assert len(expected["permits"]) == len(permits)
    assert len(expected["lane_arrivals"]) > 0
    for server in (survivor, victim):
        assert read_model_dump(server.workdir / "read.db") == expected, server.workdir.name


def test_a_replica_that_stays_down_leaves_every_arrival_to_the_other(
    replicas: tuple[Replicas, str], mosquitto: MosquittoServer, postgres: PostgresServer
) -> None:
    pair, dbname = replicas
    permits = seed(postgres, dbname, 20)
    pair.start()
    down, up = pair.servers
    down.kill()  # not restarted: its session must not keep taking a share of the arrivals
    edge = MqttPeer(
        mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"],
        [f"{ROOT}/lanes/1/acks"], client_id="lane-1-edge",
    )  # fmt: skip
    try:
        messages = [arrival(p["code"]) for p in permits]
        for message in messages:
            edge.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
        acked: dict[str, str] = {}
        with contextlib.suppress(TimeoutError):  # sent once: no outbox retries here
            while len(acked) < len(messages):
                ack = edge.wait_for(lambda m: True, timeout=10).json()
                acked[ack["id"]] = ack["outcome"]
    finally:
        edge.close()
    assert len(acked) == len(messages), "every arrival acked at once by the replica that is up"
    assert set(acked.values()) == {"released"}
    assert decided_by(up, set(acked)) == set(acked)
