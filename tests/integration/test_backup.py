"""`drivethru backup` while a writer appends, `drivethru restore` elsewhere, and a replay.

The backup must hold exactly the events committed when it began (a prefix of the live
store: same ids, versions and bytes), the restored server must rebuild read models equal to
`drivethru projections rebuild`, and serve the permits as their events say.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from pydantic import SecretStr

from bench.seed import seed_on_store
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from tests.conftest import POSTGRES_MISSING, SITE
from tests.server_process import NIK_KEY, ServerProcess
from tests.services import PostgresServer, require_service

pytestmark = [pytest.mark.timeout(180)]
SEEDED = 20
PERMIT = "core.permit:PermitApplication."  # the store also holds the pickup-code index
Event = tuple[int, str, int, str, bytes]


def drivethru(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher", *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "DRIVETHRU_NIK_KEY": NIK_KEY, **(env or {})},
    )  # fmt: skip


def sqlite_service(path: Path) -> PermitService:
    store = StoreSettings(backend="sqlite", sqlite_path=path)
    return PermitService(ServiceSettings.model_validate({"store": store, "nik_key": NIK_KEY}))


def seed(path: Path, count: int) -> list[str]:
    service = sqlite_service(path)
    try:
        return [permit.id for permit in seed_on_store(service, SITE, count)]
    finally:
        service.close()
        del service
        gc.collect()  # the library's pooled connections close when collected


def events(path: Path) -> list[Event]:
    """Every stored event: notification id, aggregate id, version, topic, state."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            "FROM stored_events ORDER BY rowid"
        ).fetchall()
    return [(int(r[0]), str(UUID(r[1])), int(r[2]), str(r[3]), bytes(r[4])) for r in rows]


def last_id(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT COALESCE(MAX(rowid), 0) FROM stored_events").fetchone()[0])


def read_models(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table, rows sorted."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError("condition not met in time")


def states(client: httpx.Client, ids: list[str]) -> dict[str, tuple[str, int]]:
    """Each permit's status and version as the server answers them."""
    answers = {}
    for permit in ids:
        body = client.get(f"/api/applications/{permit}").raise_for_status().json()
        answers[permit] = (body["status"], body["version"])
    return answers


def test_a_backup_taken_while_the_store_is_written_restores_and_replays_the_same(
    tmp_path: Path,
) -> None:
    live, restored = tmp_path / "live", tmp_path / "restored"
    live.mkdir()
    seeded = seed(live / "events.db", SEEDED)
    last_id_seeded = last_id(live / "events.db")
    # A server on the live store: the states the restored server must serve again.
    live_server = ServerProcess(live, None, "")
    live_server.start(wait_for_broker=False)
    try:
        with live_server.client("officer") as client:
            before = states(client, seeded)
        # Another process appends permit after permit while the backup is taken.
        writer = subprocess.Popen(
            [sys.executable, "-m", "launcher", "seed", "--db", str(live / "events.db"),
             "--ready", "600"],  # still writing well after the backup
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "DRIVETHRU_NIK_KEY": NIK_KEY},
        )  # fmt: skip
        try:
            wait_for(lambda: last_id(live / "events.db") > last_id_seeded + 40)
            done = drivethru("backup", "--db", str(live / "events.db"),
                             "--out", str(tmp_path / "backup.db"))  # fmt: skip
            assert writer.poll() is None, "the writer ended before the backup: nothing proven"
        finally:
            assert writer.wait(120) == 0, writer.stderr.read() if writer.stderr else ""
    finally:
        live_server.stop()
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    backed_up = events(tmp_path / "backup.db")
    everything = events(live / "events.db")
    # The backup is one snapshot: exactly the live store's first events, byte for byte.
    assert report["events"] == len(backed_up) == report["last_notification_id"]
    assert len(everything) > len(backed_up) > last_id_seeded
    assert backed_up == everything[: len(backed_up)]
    assert (tmp_path / "backup.db").stat().st_mode & 0o077 == 0

    # Restore into a new directory; stale read models there are removed, not trusted.
    restored.mkdir()
    (restored / "read.db").write_text("stale")
    put = drivethru("restore", str(tmp_path / "backup.db"), "--db", str(restored / "events.db"),
                    "--read-models", str(restored / "read.db"))  # fmt: skip
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["read_models_removed"] == [str(restored / "read.db")]
    assert events(restored / "events.db") == backed_up

    # Replay: the restored server builds its read models from the restored events.
    server = ServerProcess(restored, None, "")
    server.start(wait_for_broker=False)
    try:
        with server.client("officer") as client:
            wait_for(lambda: client.get("/healthz").json()["projection_position"] == len(backed_up))
            permits = sorted({event[1] for event in backed_up if event[3].startswith(PERMIT)})
            served = states(client, permits)
            ready = {row["id"] for row in client.get("/api/applications?limit=5000").json()}
    finally:
        server.stop()
    rebuilt = drivethru("projections", "rebuild", "--db", str(restored / "events.db"),
                        "--read-models", str(tmp_path / "rebuilt.db"))  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert read_models(restored / "read.db") == read_models(tmp_path / "rebuilt.db")
    # The permits finished before the backup are served as the live server served them;
    # every permit's version is its last event in the backup; the READY list (read
    # models) is the permits whose events say READY.
    assert {permit: served[permit] for permit in seeded} == before
    last_versions = {event[1]: event[2] for event in backed_up if event[3].startswith(PERMIT)}
    assert {permit: served[permit][1] for permit in permits} == last_versions
    assert ready == {permit for permit, (status, _) in served.items() if status == "ready"}
    assert set(seeded) <= ready


def test_restore_never_overwrites_and_never_takes_a_store_in_use(tmp_path: Path) -> None:
    seed(tmp_path / "a.db", 2)
    done = drivethru("backup", "--db", str(tmp_path / "a.db"), "--out", str(tmp_path / "b.db"))
    assert done.returncode == 0, done.stderr
    again = drivethru("backup", "--db", str(tmp_path / "a.db"), "--out", str(tmp_path / "b.db"))
    assert again.returncode == 2
    assert "tidak ditimpa" in again.stderr
    seed(tmp_path / "other.db", 1)
    before = events(tmp_path / "other.db")
    refused = drivethru("restore", str(tmp_path / "b.db"), "--db", str(tmp_path / "other.db"))
    assert refused.returncode == 2
    assert "--replace" in refused.stderr
    holder = sqlite3.connect(tmp_path / "other.db")  # as a running server would
    try:
        holder.execute("SELECT 1 FROM stored_events").fetchone()
        busy = drivethru("restore", str(tmp_path / "b.db"), "--db", str(tmp_path / "other.db"),
                         "--replace")  # fmt: skip
    finally:
        holder.close()
    assert busy.returncode == 2
    assert "stop the server" in busy.stderr
    assert events(tmp_path / "other.db") == before
    replaced = drivethru("restore", str(tmp_path / "b.db"), "--db", str(tmp_path / "other.db"),
                         "--replace")  # fmt: skip
    assert replaced.returncode == 0, replaced.stderr
    aside = Path(json.loads(replaced.stdout)["replaced"])
    assert events(aside) == before  # kept beside, not deleted
    assert events(tmp_path / "other.db") == events(tmp_path / "b.db")
    not_a_store = tmp_path / "notes.db"
    sqlite3.connect(not_a_store).close()
    bad = drivethru("restore", str(not_a_store), "--db", str(tmp_path / "new.db"))
    assert bad.returncode == 2
    assert "bukan" in bad.stderr
    assert not (tmp_path / "new.db").exists()


@pytest.mark.postgres
def test_a_postgres_store_round_trips_through_pg_dump_and_pg_restore(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    require_service("postgres", POSTGRES_MISSING)
    source, target = postgres.create_database("backup_src"), postgres.create_database("backup_dst")

    def store(dbname: str) -> StoreSettings:
        return StoreSettings(
            backend="postgres", postgres_host=postgres.host, postgres_port=postgres.port,
            postgres_dbname=dbname, postgres_user=postgres.user,
            postgres_password=SecretStr(postgres.password),
        )  # fmt: skip

    def env(dbname: str) -> dict[str, str]:
        return {
            "DRIVETHRU_STORE": "postgres", "DRIVETHRU_PG_HOST": postgres.host,
            "DRIVETHRU_PG_PORT": str(postgres.port), "DRIVETHRU_PG_DBNAME": dbname,
            "DRIVETHRU_PG_USER": postgres.user, "DRIVETHRU_PG_PASSWORD": postgres.password,
        }  # fmt: skip

    def snapshot(dbname: str) -> dict[str, tuple[str, int]]:
        service = PermitService(ServiceSettings(store=store(dbname), nik_key=SecretStr(NIK_KEY)))
        try:
            notes = service.recorder.select_notifications(None, 10_000)
            ids = {UUID(str(n.originator_id)) for n in notes if n.topic.startswith(PERMIT)}
            return {str(i): (service.get(i).status.value, service.get(i).version) for i in ids}
        finally:
            service.close()

    service = PermitService(ServiceSettings(store=store(source), nik_key=SecretStr(NIK_KEY)))
    try:
        seeded = [permit.id for permit in seed_on_store(service, SITE, 5)]
    finally:
        service.close()
    dump = tmp_path / "store.dump"
    done = drivethru("backup", "--out", str(dump), env=env(source))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["backend"] == "postgres"
    put = drivethru("restore", str(dump), "--read-models", str(tmp_path / "read.db"),
                    env=env(target))  # fmt: skip
    assert put.returncode == 0, put.stderr
    restored = snapshot(target)
    assert restored == snapshot(source)
    assert sorted(restored) == sorted(seeded)
    # A second restore into a database that has events fails as a whole: nothing doubled.
    again = drivethru("restore", str(dump), env=env(target))
    assert again.returncode == 2
    assert snapshot(target) == restored
