"""A mobile team's handover is shown at the time it happened, not when the device synced."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.runtime import Runtime
from core.contract import TeamHandover
from core.service import PermitService
from core.teams import TeamDesk, TeamOutcome
from projections import queries
from projections.bootstrap import runner_for
from projections.store import ReadModels
from tests.factories import FrozenClock, ReadyPermit, ready_permit, sqlite_service
from tests.integration.server_app import server_settings

WITA = timezone(timedelta(hours=8))  # the team's tablet keeps the site's local time


def handed_over_in_the_field(
    service: PermitService, clock: FrozenClock, hours_before_sync: int
) -> tuple[ReadyPermit, datetime]:
    """A READY permit a team hands over offline, synced ``hours_before_sync`` hours later."""
    ready = ready_permit(service)
    service.assign_to_team(ready.id, "officer", "a", "2026-12-01", "Balai Desa Abiansemal")
    clock.advance(timedelta(hours=hours_before_sync + 1))
    happened_at = (clock.now - timedelta(hours=hours_before_sync)).astimezone(WITA)
    handover = TeamHandover(
        team="a", permit_id=str(ready.id), code_sha256=ready.code.code_sha256,
        happened_at=happened_at, by="petugas-ribon-1", recipient="owner", id_checked=True,
    )  # fmt: skip
    assert TeamDesk(service).apply(handover).outcome is TeamOutcome.APPLIED
    return ready, happened_at


async def test_a_team_handover_synced_hours_late_is_read_at_the_time_it_happened(
    tmp_path: Path,
) -> None:
    clock = FrozenClock(datetime.now(WITA) - timedelta(days=1))
    service = sqlite_service(tmp_path / "events.db", clock)
    ready, happened_at = handed_over_in_the_field(service, clock, hours_before_sync=5)
    async with ReadModels(tmp_path / "read.db") as models:
        await runner_for(service, models).catch_up()
        row = await queries.permit(models.conn, str(ready.id))
        assert row is not None
        assert row.status == "handed_over"
        # On the events' clock (UTC text), so the read models' text comparisons still hold.
        assert row.handed_over_at == happened_at.astimezone(UTC).isoformat()
        assert row.updated_at is not None
        assert row.updated_at > row.handed_over_at  # it synced later
        handed = await queries.timeline(models.conn, str(ready.id))
        assert handed[-1].event == "HandedOver"
        assert datetime.fromisoformat(handed[-1].at) == happened_at
    service.close()


def test_the_citizens_page_shows_a_team_handover_at_the_time_it_happened(
    tmp_path: Path,
) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        clock = FrozenClock(datetime.now(WITA) - timedelta(days=1))
        runtime.service.clock = clock
        ready, happened_at = handed_over_in_the_field(runtime.service, clock, 6)
        path = f"/p/{ready.code.code}"

        def shown() -> dict[str, Any]:
            deadline = time.monotonic() + 10
            while True:
                answer: dict[str, Any] = client.get(path, params={"format": "json"}).json()
                if answer.get("status") == "handed_over" or time.monotonic() > deadline:
                    return answer
                time.sleep(0.05)

        document = shown()
        handed = [t for t in document["timeline"] if t["event"] == "HandedOver"]
        assert [datetime.fromisoformat(t["at"]) for t in handed] == [happened_at]
        html = client.get(path, headers={"Accept": "text/html"}).text
        timeline = html[html.index('<ol class="timeline">') :]
        (entry,) = [li for li in timeline.split("<li>") if "Diserahkan" in li]
        local = happened_at.astimezone(runtime.settings.zone)
        assert f">{local.strftime('%d/%m/%Y %H.%M')} WITA</time>" in entry
