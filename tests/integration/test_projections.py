"""Read models in SQLite (aiosqlite) fed from a real SQLite event store."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import AlreadyHandedOverError
from core.service import PermitService
from core.values import Recipient, ReleaseMethod
from projections import queries
from projections.bootstrap import runner_for
from projections.schema import TABLES
from projections.store import ReadModels
from tests.factories import ready_permit, sqlite_service, submit


class CrashError(Exception):
    """Stands for the process dying in the middle of a page."""


def crash_on_page(number: int) -> Callable[[], None]:
    """A `ReadModels.fault_after_permits` hook that crashes the ``number``-th page written."""
    pages = 0

    def fault() -> None:
        nonlocal pages
        pages += 1
        if pages == number:
            raise CrashError

    return fault


def busy_site(service: PermitService, permits: int = 40) -> list[uuid.UUID]:
    """Permits at every stage, handovers, a conflict, a reissue and a delegate."""
    ids = []
    for index in range(permits):
        ready = ready_permit(service, plate=f"DK {index + 1} AB", slot=f"R1-{index:02d}")
        ids.append(ready.id)
        if index % 3 == 0:
            service.release(
                ready.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.PLATE
            )
            service.hand_over(
                ready.id, handover_id=f"h{index}", by="op", recipient=Recipient.OWNER,
                id_checked=True, channel="lane:1",
            )  # fmt: skip
            if index == 0:
                with pytest.raises(AlreadyHandedOverError):
                    service.hand_over(
                        ready.id, handover_id="late", by="op2", recipient=Recipient.OWNER,
                        id_checked=True, channel="lane:2",
                    )  # fmt: skip
        elif index % 3 == 1:
            service.reissue_code(ready.id, "officer", "lost phone")
    for _ in range(5):
        submit(service)
    return ids


async def dump(models: ReadModels) -> dict[str, list[tuple[object, ...]]]:
    tables = {}
    for table in TABLES:
        async with models.conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2") as cursor:
            tables[table] = [tuple(row) for row in await cursor.fetchall()]
    return tables


async def build(service: PermitService, path: Path, page_size: int = 1000) -> ReadModels:
    models = await ReadModels(path).open()
    runner = runner_for(service, models, page_size=page_size)
    await runner.rebuild()
    return models


async def test_read_models_answer_the_questions_the_lanes_ask(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path / "events.db")
    ready = ready_permit(service, plate="DK 4321 XY")
    submit(service)
    async with ReadModels(tmp_path / "read.db") as models:
        runner = runner_for(service, models)
        result = await runner.catch_up()
        assert result.events == 10
        row = await queries.permit(models.conn, str(ready.id))
        assert row is not None
        assert (row.status, row.slot, row.plate, row.holder) == (
            "ready", "R1-01", "DK4321XY", "I W**** S******",
        )  # fmt: skip
        assert row.ready_at is not None
        assert row.submitted_at is not None
        assert row.submitted_at <= row.ready_at
        code = await queries.code(models.conn, ready.code.code_sha256)
        assert code is not None
        assert code.active
        assert code.permit_id == str(ready.id)
        kind, found = await queries.match_ready_plate(models.conn, "badung", "DK4321XV")
        assert kind == "near"
        assert [p.id for p in found] == [str(ready.id)]
        assert await queries.site_counts(models.conn, "badung") == {"ready": 1, "submitted": 1}
        timeline = await queries.timeline(models.conn, str(ready.id))
        assert [t.event for t in timeline][-2:] == ["Staged", "PickupCodeIssued"]

        service.release(
            ready.id, lane="2", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE
        )
        service.hand_over(
            ready.id, handover_id="h", by="op", recipient=Recipient.OWNER, id_checked=True,
            channel="lane:2",
        )  # fmt: skip
        await runner.catch_up()
        row = await queries.permit(models.conn, str(ready.id))
        assert row is not None
        assert (row.status, row.lane, row.handed_over_by) == ("handed_over", "2", "op")
        code = await queries.code(models.conn, ready.code.code_sha256)
        assert code is not None
        assert not code.active
        assert await queries.active_code_hashes(models.conn, "badung") == []
        assert await queries.site_counts(models.conn, "badung") == {
            "handed_over": 1, "submitted": 1,
        }  # fmt: skip
    service.close()


async def test_the_codes_to_warm_are_the_ready_ones_newest_first(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path / "events.db")
    first, second, third = (ready_permit(service, plate=f"DK {n} WM") for n in (1, 2, 3))
    service.release(first.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE)
    async with ReadModels(tmp_path / "read.db") as models:
        await runner_for(service, models).catch_up()
        waiting = await queries.waiting_codes(models.conn, "badung", 10)
        assert [permit for _, permit in waiting] == [str(p.id) for p in (third, second, first)]
        assert waiting[0] == (third.code.code_sha256, str(third.id))
        assert len(await queries.waiting_codes(models.conn, "badung", 2)) == 2
    service.close()


async def test_a_crash_mid_page_replays_and_never_skips_or_doubles(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path / "events.db")
    busy_site(service)
    clean = await build(service, tmp_path / "clean.db")
    try:
        expected = await dump(clean)
    finally:
        await clean.close()

    models = await ReadModels(tmp_path / "crashy.db").open()
    try:
        runner = runner_for(service, models, page_size=37)
        models.fault_after_permits = crash_on_page(3)
        with pytest.raises(CrashError):
            await runner.catch_up()
        assert await models.position() == 2 * 37  # two pages landed, the third rolled back
    finally:
        await models.close()

    async with ReadModels(tmp_path / "crashy.db") as reopened:
        resumed = runner_for(service, reopened, page_size=37)
        await resumed.catch_up()
        assert await dump(reopened) == expected
    assert expected["conflicts"], "the scenario records a conflict"
    service.close()


async def test_gaps_in_notification_ids_are_stepped_over(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path / "events.db")
    busy_site(service, permits=6)
    service.close()
    with sqlite3.connect(tmp_path / "events.db") as db:
        total = db.execute("SELECT count(*) FROM stored_events").fetchone()[0]
        db.execute("UPDATE stored_events SET rowid = rowid + 1000 WHERE rowid > 20")
        db.execute("UPDATE stored_events SET rowid = rowid + 50 WHERE rowid > 1030")
    service = sqlite_service(tmp_path / "events.db")
    ids = [n.id for n in service.recorder.select_notifications(start=1, limit=1000)]
    assert len(ids) == total
    assert ids[20] > 1000  # the gap is really there
    models = await build(service, tmp_path / "read.db", page_size=7)
    try:
        assert await models.position() == ids[-1]
        async with models.conn.execute(
            "SELECT sum(json_array_length(timeline)) FROM permits"
        ) as cursor:
            row = await cursor.fetchone()
    finally:
        await models.close()
    codes = sum(1 for n in service.recorder.select_notifications(1, 1000) if "Index" in n.topic)
    assert row is not None
    assert row[0] == total - codes  # every permit event once, none lost at a gap
    service.close()


async def test_the_runner_wakes_when_this_process_saves(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path / "events.db")
    async with ReadModels(tmp_path / "read.db") as models:
        runner = runner_for(service, models, poll_seconds=60)
        service.add_save_listener(runner.wake)
        applied = asyncio.Event()
        runner.on_applied(lambda _position: applied.set())
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.2)
        applied.clear()
        await asyncio.to_thread(submit, service)
        # The poll interval is 60 s: arriving well within it means the save woke the runner.
        await asyncio.wait_for(applied.wait(), timeout=10)
        assert await queries.site_counts(models.conn, "badung") == {"submitted": 1}
        runner.stop()
        await asyncio.wait_for(task, timeout=10)
    service.close()


@pytest.mark.parametrize("gather_seconds", [0.0, 30.0])
async def test_a_query_can_wait_for_what_this_process_just_saved(
    tmp_path: Path, gather_seconds: float
) -> None:
    # With a long pause to gather saves into pages, a waiting query still cuts it short.
    service = sqlite_service(tmp_path / "events.db")
    async with ReadModels(tmp_path / "read.db") as models:
        runner = runner_for(service, models, poll_seconds=60, gather_seconds=gather_seconds)
        service.add_save_listener(runner.wake)
        await asyncio.to_thread(submit, service)
        # Not running: the read models cannot catch up, and the wait says so.
        assert not await runner.reached(0.2)
        task = asyncio.create_task(runner.run())
        for saved in range(2, 7):
            await asyncio.to_thread(submit, service)
            assert await runner.reached(10)  # the test's 120 s timeout would catch a pause
            # No sleep in between: the saved permits are in the read models already.
            counts = await queries.site_counts(models.conn, "badung")
            assert counts["submitted"] == saved
        runner.stop()
        await asyncio.wait_for(task, timeout=10)
    service.close()


async def test_saves_close_together_share_a_page(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path / "events.db")
    async with ReadModels(tmp_path / "read.db") as models:
        runner = runner_for(service, models, poll_seconds=60, gather_seconds=0.5)
        service.add_save_listener(runner.wake)
        pages: list[int] = []
        runner.on_applied(pages.append)
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.2)
        pages.clear()
        for _ in range(3):
            await asyncio.to_thread(submit, service)
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)
        # The first save is applied at once; the next two, made in the pause after it, together.
        assert len(pages) == 2
        assert await queries.site_counts(models.conn, "badung") == {"submitted": 3}
        runner.stop()
        await asyncio.wait_for(task, timeout=10)
    service.close()


def test_rebuild_command_rebuilds_the_read_models(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path / "events.db")
    busy_site(service, permits=9)
    service.close()
    read_path = tmp_path / "read.db"
    with sqlite3.connect(read_path) as db:  # a stale, wrong read model to be replaced
        db.execute("CREATE TABLE permits (id TEXT)")
        db.execute("INSERT INTO permits VALUES ('stale')")
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "projections", "rebuild",
         "--db", str(tmp_path / "events.db"), "--read-models", str(read_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "event" in done.stdout
    with sqlite3.connect(read_path) as db:
        ids = {row[0] for row in db.execute("SELECT id FROM permits")}
        counts = dict(db.execute("SELECT status, n FROM site_counts WHERE n != 0").fetchall())
    assert "stale" not in ids
    assert len(ids) == 9 + 5
    assert counts == {"handed_over": 3, "ready": 6, "submitted": 5}


async def test_a_rebuild_cut_short_is_started_again_on_the_next_open(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path / "events.db")
    busy_site(service, permits=12)
    clean = await build(service, tmp_path / "clean.db")
    try:
        expected = await dump(clean)
        async with clean.conn.execute("PRAGMA user_version") as cursor:
            version = await cursor.fetchone()
        assert version is not None
        assert version[0] > 0  # a finished rebuild is marked finished
    finally:
        await clean.close()

    models = await ReadModels(tmp_path / "cut.db").open()
    try:
        runner = runner_for(service, models, page_size=9)
        models.fault_after_permits = crash_on_page(4)
        with pytest.raises(CrashError):
            await runner.rebuild()
    finally:
        await models.close()

    async with ReadModels(tmp_path / "cut.db") as reopened:
        assert await reopened.position() == 0  # the unfinished rebuild was dropped
        again = runner_for(service, reopened)
        await again.catch_up()
        assert await dump(reopened) == expected
    service.close()


async def test_manifest_listeners_hear_only_of_pages_that_change_the_manifests(
    tmp_path: Path,
) -> None:
    service = sqlite_service(tmp_path / "events.db")
    async with ReadModels(tmp_path / "read.db") as models:
        runner = runner_for(service, models)
        heard: list[int] = []
        runner.on_manifests_changed(heard.append)
        ready = ready_permit(service)
        await runner.catch_up()
        assert heard == [runner.position]  # a new code waits at the site
        service.release(
            ready.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE
        )
        await runner.catch_up()
        assert len(heard) == 1  # released is still waiting: the manifests are the same
        service.hand_over(
            ready.id, handover_id="h", by="op", recipient=Recipient.OWNER, id_checked=True,
            channel="lane:1",
        )  # fmt: skip
        await runner.catch_up()
        assert heard[1:] == [runner.position]  # handed over: its code leaves the manifest
    service.close()
