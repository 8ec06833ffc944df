"""Recent arrivals are a read model folded from the log (projections/arrivals.py).

Whichever process decided an arrival, every server's runner folds it into `lane_arrivals`
and hands it to its consoles; a manual release is an arrival too. A rebuild keeps the same
rows: the newest 50 of each lane.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from core.arrivals import ArrivalDesk, ArrivalInput, ReleasePolicy
from core.contract import Arrival
from core.values import ReleaseMethod
from projections.arrivals import KEEP_PER_LANE, live_event, recent_arrivals
from projections.bootstrap import runner_for
from projections.permits import PageRows
from projections.store import ReadModels
from tests.factories import ready_permit, sqlite_service


def code_arrival(code_sha256: str, lane: str = "1") -> Arrival:
    return Arrival(site="badung", lane=lane, visit=uuid.uuid4(), code_sha256=code_sha256)


async def test_arrivals_decided_anywhere_reach_the_consoles_and_the_recent_list(
    tmp_path: Path,
) -> None:
    # Another process decides (this service); the server's runner only reads the log.
    service = sqlite_service(tmp_path / "events.db")
    by_code, by_hand = ready_permit(service), ready_permit(service, plate="DK 7 A")
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    decided = code_arrival(by_code.code.code_sha256)
    refused = code_arrival("0" * 64, lane="2")
    desk.decide_many([ArrivalInput(decided, "1"), ArrivalInput(refused, "2")])
    manual_visit = uuid.uuid4()
    service.release(
        by_hand.id, lane="1", window="1", visit=manual_visit, method=ReleaseMethod.MANUAL
    )
    async with ReadModels(tmp_path / "read.db") as models:
        runner = runner_for(service, models)
        told: list[dict[str, Any]] = []

        def tell(page: PageRows) -> None:
            for values in page.arrivals:
                told.append(
                    live_event(values, page.released_to.get((values[3], values[4]), []), "1")
                )

        runner.on_arrivals(tell)
        await runner.catch_up()
        lane_1 = await recent_arrivals(models.conn, "badung", "1", "1")
        lane_2 = await recent_arrivals(models.conn, "badung", "2", "2")
    service.close()
    assert [(e["visit"], e["outcome"], e["method"]) for e in told] == [
        (str(decided.visit), "released", "code"),
        (str(refused.visit), "rejected", "code"),
        (str(manual_visit), "released", "manual"),
    ]
    assert told[0]["released"] == [str(by_code.id)]
    assert told[2]["released"] == [str(by_hand.id)]
    assert told[2]["plate"] == "DK7A"
    # Newest first, each lane its own.
    assert [e["visit"] for e in lane_1] == [str(manual_visit), str(decided.visit)]
    assert [e["permits"] for e in lane_1] == [[str(by_hand.id)], [str(by_code.id)]]
    assert [(e["outcome"], e["reason"] is not None) for e in lane_2] == [("rejected", True)]


async def test_a_lane_keeps_its_newest_arrivals_and_a_rebuild_keeps_the_same(
    tmp_path: Path,
) -> None:
    service = sqlite_service(tmp_path / "events.db")
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    sent = [code_arrival(f"{n:064x}") for n in range(KEEP_PER_LANE + 15)]
    for start in range(0, len(sent), 10):  # several pages, several prunings
        desk.decide_many([ArrivalInput(a, "1") for a in sent[start : start + 10]])
    async with ReadModels(tmp_path / "live.db") as live:
        runner = runner_for(service, live, page_size=7)
        await runner.catch_up()
        kept = await recent_arrivals(live.conn, "badung", "1", "1", limit=1000)
        async with live.conn.execute("SELECT * FROM lane_arrivals ORDER BY key") as cursor:
            live_rows = [tuple(r) for r in await cursor.fetchall()]
    async with ReadModels(tmp_path / "rebuilt.db") as rebuilt:
        runner = runner_for(service, rebuilt)
        await runner.rebuild()
        async with rebuilt.conn.execute("SELECT * FROM lane_arrivals ORDER BY key") as cursor:
            rebuilt_rows = [tuple(r) for r in await cursor.fetchall()]
    service.close()
    assert [e["visit"] for e in kept] == [str(a.visit) for a in reversed(sent)][:KEEP_PER_LANE]
    assert live_rows == rebuilt_rows
