"""The expiry job against a real SQLite store and read models, and the office's reissue."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.expiry import ExpiryJob
from api.runtime import Runtime
from core.service import PermitService
from core.values import ReleaseMethod
from projections import queries
from projections.bootstrap import runner_for
from projections.store import ReadModels
from tests.factories import FrozenClock, ready_permit, sqlite_service
from tests.integration.server_app import bearer, server_settings

UNCOLLECTED = timedelta(days=14)


def with_code_ttl(service: PermitService, days: int) -> None:
    service.settings = service.settings.model_copy(update={"code_ttl": timedelta(days=days)})


def recorded(service: PermitService, permit_id: uuid.UUID, name: str) -> int:
    return sum(1 for event, _ in service.history(permit_id) if event == name)


async def test_the_job_records_each_due_expiry_once_and_a_reissue_makes_it_ready(
    tmp_path: Path,
) -> None:
    # The read models keep the events' own times, so the test clock starts at the real now.
    clock = FrozenClock(datetime.now(UTC))
    service = sqlite_service(tmp_path / "events.db", clock)
    with_code_ttl(service, 30)
    uncollected = ready_permit(service, plate="DK 1 UC")
    with_code_ttl(service, 5)
    short_code = ready_permit(service, plate="DK 2 CE")
    at_window = ready_permit(service, plate="DK 3 AW")
    service.release(
        at_window.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.PLATE
    )
    # (A minute more: the read models' times are the wall clock's, a moment after the test's.)
    clock.advance(UNCOLLECTED + timedelta(minutes=1))
    fresh = ready_permit(service, plate="DK 4 FR")  # staged today: nothing is due
    async with ReadModels(tmp_path / "read.db") as models:
        runner = runner_for(service, models)
        await runner.catch_up()
        job = ExpiryJob(service, models.conn, "badung", UNCOLLECTED)
        first = await job.run_once()
        assert first.codes_expired == (str(short_code.id),)
        assert first.uncollected == (str(uncollected.id),)
        assert (await job.run_once()).recorded == 0  # before the read models caught up
        await runner.catch_up()
        assert (await job.run_once()).recorded == 0  # and after
        assert recorded(service, short_code.id, "PickupCodeExpired") == 1
        assert recorded(service, uncollected.id, "Expired") == 1
        for untouched in (at_window, fresh):
            names = [name for name, _ in service.history(untouched.id)]
            assert "Expired" not in names
            assert "PickupCodeExpired" not in names

        expired = await queries.permits_by_status(models.conn, "badung", "expired")
        assert {p.id for p in expired} == {str(uncollected.id), str(short_code.id)}
        kind, found = await queries.match_ready_plate(models.conn, "badung", "DK1UC")
        assert found == []
        waiting = await queries.active_code_hashes(models.conn, "badung")
        assert uncollected.code.code_sha256 not in waiting
        code = await queries.code(models.conn, short_code.code.code_sha256)
        assert code is not None
        assert not code.active
        timeline = await queries.timeline(models.conn, str(uncollected.id))
        assert timeline[-1].event == "Expired"
        assert timeline[-1].detail == {"reason": "Tidak diambil dalam 14 hari / not collected "
                                       "within 14 days"}  # fmt: skip

        with_code_ttl(service, 30)
        issued = service.reissue_code(uncollected.id, "officer", "warga datang / citizen came")
        await runner.catch_up()
        row = await queries.permit(models.conn, str(uncollected.id))
        assert row is not None
        assert row.status == "ready"
        kind, found = await queries.match_ready_plate(models.conn, "badung", "DK1UC")
        assert (kind, [p.id for p in found]) == ("exact", [str(uncollected.id)])
        new_code = await queries.code(models.conn, issued.code_sha256)
        assert new_code is not None
        assert new_code.active
        assert new_code.expires_at == (clock.now + timedelta(days=30)).isoformat()
        assert (await job.run_once()).recorded == 0  # its period starts again
    service.close()


def test_the_office_sees_an_expired_permit_and_reissues_its_code(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        clock = FrozenClock(datetime.now(UTC))
        runtime.service.clock = clock
        ready = ready_permit(runtime.service, plate="DK 9 EX")
        clock.advance(timedelta(days=31))
        expiry = runtime.expiry
        assert expiry is not None
        portal = client.portal  # type: ignore[attr-defined]

        def status_of(code: str, wanted: str) -> dict[str, Any]:
            """The citizen's JSON document once it shows ``wanted`` (the read models lag)."""
            deadline = time.monotonic() + 10
            while True:
                answer: dict[str, Any] = client.get(f"/p/{code}", params={"format": "json"}).json()
                if answer.get("status") == wanted or time.monotonic() > deadline:
                    return answer
                time.sleep(0.05)

        assert status_of(ready.code.code, "ready")["status"] == "ready"
        assert portal.call(expiry.run_once).codes_expired == (str(ready.id),)
        assert status_of(ready.code.code, "expired")["status"] == "expired"
        page = client.get(f"/p/{ready.code.code}", headers={"Accept": "text/html"}).text
        assert page.index("Minta kode baru") < page.index("Ask an officer for a new code")

        office = client.get(
            "/office", params={"status": "expired"},
            headers={"Accept": "text/html", **bearer("officer")},
        )  # fmt: skip
        assert office.status_code == 200
        row = office.text[office.text.index(f'data-id="{ready.id}"') :]
        row = row[: row.index("</tr>")]
        assert 'data-action="reissue"' in row

        answer = client.post(
            f"/api/applications/{ready.id}/reissue",
            json={"reason": "warga datang / the citizen came"},
            headers=bearer("officer"),
        )
        assert answer.status_code == 200, answer.text
        issued = answer.json()
        assert issued["permit"]["status"] == "ready"
        assert datetime.fromisoformat(issued["expires_at"]) == clock.now + timedelta(days=30)
        assert status_of(issued["code"], "ready")["code_active"] is True
