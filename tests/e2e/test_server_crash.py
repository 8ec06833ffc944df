"""Kill -9 the server while arrivals stream in: nothing lost, nothing released twice."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.seed import seed_on_store
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from tests.conftest import MQTT_USERS
from tests.mqtt_peer import MqttPeer
from tests.server_process import NIK_KEY, ServerProcess
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]
ROOT = "drivethru/v1/badung"
PERMITS = 40


def service_settings(workdir: Path) -> ServiceSettings:
    store = StoreSettings(backend="sqlite", sqlite_path=workdir / "events.db")
    return ServiceSettings.model_validate({"store": store, "nik_key": NIK_KEY})


def seed(workdir: Path) -> list[dict[str, Any]]:
    service = PermitService(service_settings(workdir))
    try:
        return [{"id": p.id, "code": p.code} for p in seed_on_store(service, "badung", PERMITS)]
    finally:
        service.close()


def read_model_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("permits", "pickup_codes", "site_counts", "conflicts")
        }


def test_a_killed_server_restarts_and_every_arrival_is_acked_once_released(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    permits = seed(tmp_path)
    server = ServerProcess(tmp_path, mosquitto.url, MQTT_USERS["server"])
    server.start()
    edge = MqttPeer(
        mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"],
        [f"{ROOT}/lanes/1/acks"], client_id="lane-1-edge",
    )  # fmt: skip
    messages = {}
    for permit in permits:
        message = {
            "v": 1, "id": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat(),
            "site": "badung", "lane": "1", "visit": str(uuid.uuid4()),
            "code_sha256": hashlib.sha256(permit["code"].encode()).hexdigest(),
        }  # fmt: skip
        messages[message["id"]] = message
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
        for index, message in enumerate(messages.values()):
            edge.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
            if index == PERMITS // 2:
                server.kill()  # mid-stream, no goodbye
            time.sleep(0.01)
        time.sleep(1)
        server.start()
        # Like the edge's outbox: what is not acked yet is sent again until it is.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                missing = [m for i, m in messages.items() if i not in acked]
            if not missing:
                break
            for message in missing:
                edge.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
            time.sleep(2)
        collector.join(10)
        assert set(acked) == set(messages), "every arrival is acked"
        assert set(acked.values()) <= {"released", "duplicate"}
    finally:
        edge.close()
        server.stop()

    service = PermitService(service_settings(tmp_path))
    try:
        for permit in permits:
            names = [name for name, _ in service.history(uuid.UUID(permit["id"]))]
            assert names.count("Released") == 1, names
    finally:
        service.close()

    rebuilt = tmp_path / "rebuilt.db"
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "projections", "rebuild",
         "--db", str(tmp_path / "events.db"), "--read-models", str(rebuilt)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert read_model_dump(tmp_path / "read.db") == read_model_dump(rebuilt)
