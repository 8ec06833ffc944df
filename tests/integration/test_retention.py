"""Retention by purpose: the lanes' plate reads and the applicants' data erased by key."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.retention import RetentionJob
from core.personal import ERASED, Purpose, bucket_subject
from core.retention import ErasedPlates, RetentionPeriods
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from core.values import Recipient, ReleaseMethod
from core.visit import LaneVisit
from projections.bootstrap import runner_for
from tests.factories import FrozenClock, ready_permit
from tests.integration.server_app import server_settings
from tests.integration.test_projections import build, dump


def visit(service: PermitService, plate: str, outcome: str, permits: list[str]) -> uuid.UUID:
    """A car at lane 1 whose plate read led to ``outcome``, recorded as the server does."""
    lane_visit = LaneVisit(
        site="badung", lane="1", visit=uuid.uuid4(), arrived_at=datetime.now(UTC),
        arrival_id=str(uuid.uuid4()), outcome=outcome, reason=None, permits=permits,
        plate=plate, method="plate" if permits else None,
    )  # fmt: skip
    lane_visit.record_arrival(
        str(uuid.uuid4()), outcome, None, permits, plate, None, datetime.now(UTC)
    )
    service.save(lane_visit)
    return lane_visit.id


def stored_states(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT state FROM stored_events").fetchall()
    return "\n".join(bytes(r[0]).decode() for r in rows)


def erasures(service: PermitService) -> list[str]:
    recorded = service.recorder.select_notifications(start=1, limit=10_000)
    topics = [n.topic for n in recorded]
    return [t for t in topics if t.endswith("DataErased")]


async def test_plates_read_at_the_lanes_are_erased_by_day_and_purpose(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    clock = FrozenClock(datetime.now(UTC))
    service = PermitService(
        ServiceSettings.for_demo(StoreSettings(backend="sqlite", sqlite_path=db)), clock=clock
    )
    permit = ready_permit(service, plate="DK 4321 XY")
    unmatched = visit(service, "B1234XYZ", "no_match", [])
    matched = visit(service, "DK4321XY", "released", [str(permit.id)])
    assert "B1234XYZ" not in stored_states(db)  # sealed with the day's key
    assert service.repository.get(unmatched).plate == "B1234XYZ"
    followed = await build(service, tmp_path / "followed.db")
    async with followed.conn.execute("SELECT plate FROM lane_arrivals") as cursor:
        assert {row[0] for row in await cursor.fetchall()} == {"B1234XYZ", "DK4321XY"}
    job = RetentionJob(service, followed.conn, "badung", RetentionPeriods())
    try:
        assert (await job.run_once()).plate_days == ()  # nothing is past its period yet

        clock.advance(timedelta(days=8))  # past 7 days: the unmatched reads go
        run = await job.run_once()
        today = datetime.now(UTC).date()
        assert run.plate_days == ((Purpose.UNMATCHED, today),)
        assert (await job.run_once()).plate_days == ()  # a second run adds nothing
        fresh = PermitService(
            ServiceSettings.for_demo(StoreSettings(backend="sqlite", sqlite_path=db))
        )
        assert fresh.repository.get(unmatched).plate == ERASED
        assert fresh.repository.get(matched).plate == "DK4321XY"
        record: ErasedPlates = fresh.repository.get(
            ErasedPlates.create_id("unmatched", today.isoformat())
        )
        assert record.reason.startswith("retensi / retention")
        assert fresh.subject_keys.key(bucket_subject(Purpose.UNMATCHED, today).hex) is None
        fresh.close()

        clock.advance(timedelta(days=83))  # 91 days: the matched reads go too
        run = await job.run_once()
        assert run.plate_days == ((Purpose.MATCHED, today),)
        assert len(erasures(service)) == 2  # one DataErased per day and purpose, saying why

        await runner_for(service, followed).catch_up()
        async with followed.conn.execute("SELECT plate FROM lane_arrivals") as cursor:
            plates = [row[0] for row in await cursor.fetchall()]
        assert plates
        assert set(plates) == {None}
        rebuilt = await build(service, tmp_path / "rebuilt.db")
        assert await dump(followed) == await dump(rebuilt)
        await rebuilt.close()
    finally:
        await followed.close()
        service.close()


async def test_an_applicants_data_goes_its_period_after_the_case_closed(tmp_path: Path) -> None:
    clock = FrozenClock(datetime.now(UTC))
    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    service = PermitService(ServiceSettings.for_demo(store), clock=clock)
    closed = ready_permit(service, plate="DK 1 A").id
    service.release(closed, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE)
    service.hand_over(
        closed, handover_id="h1", by="op", recipient=Recipient.OWNER, id_checked=True,
        channel="lane:1",
    )  # fmt: skip
    waiting = ready_permit(service, plate="DK 2 B").id
    models = await build(service, tmp_path / "read.db")
    job = RetentionJob(
        service, models.conn, "badung", RetentionPeriods(personal_days_after_close=30)
    )
    try:
        clock.advance(timedelta(days=29))
        assert (await job.run_once()).permits == ()
        clock.advance(timedelta(days=2))
        assert (await job.run_once()).permits == (str(closed),)
        assert service.get(closed).applicant_name == ERASED
        assert service.get(waiting).applicant_name != ERASED  # still open: kept
        await runner_for(service, models).catch_up()
        assert (await job.run_once()).permits == ()  # the read models know: not again
        assert len(erasures(service)) == 1
    finally:
        await models.close()
        service.close()


def test_the_periods_are_site_settings(tmp_path: Path) -> None:
    settings = server_settings(
        tmp_path, retention={"unmatched_plate_days": 3, "personal_days_after_close": 730}
    )
    periods = settings.retention.periods()
    assert periods == RetentionPeriods(3, 90, 730)
