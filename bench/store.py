"""`drivethru bench store`: event store and projection throughput, anchors in the same run.

- lifecycle: whole permit lifecycles through `PermitService`, each command saved as the
  service saves it (load, decide, save).
- raw eventsourcing: a bare library aggregate, one trivial event per save call, as many save
  calls as the lifecycle run made: the floor our service adds its work to.
- raw sqlite: ``executemany`` of rows of the same size in one transaction.
- projection: catch-up of the read models from an existing log of at least 200,000 events
  (the rebuild, folded by the worker process while the runner writes), and as anchors the
  same rebuild folded in this process and the same runner with one transaction per event.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench import store_sealing
from core.code_index import PickupCodeIndex
from core.codes import PickupCode
from core.permit import PermitApplication
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from core.values import Recipient, ReleaseMethod
from projections.bootstrap import runner_for
from projections.store import ReadModels

NIK = "5103011204800001"
EVENTS_PER_LIFECYCLE = 12  # 11 permit events and the code index


class Tally(Aggregate):
    """The bare aggregate of the raw anchor: one trivial event per save."""

    @event("Ticked")
    def tick(self, n: int) -> None:
        self.n = n


class RawApp(Application[uuid.UUID]):
    name = "raw"


def _sqlite(path: Path) -> StoreSettings:
    return StoreSettings(backend="sqlite", sqlite_path=path)


def lifecycles(service: PermitService, count: int, offset: int = 0) -> tuple[int, int]:
    """Run ``count`` permits from submission to handover; returns (events, save calls)."""
    saves = 0
    for index in range(offset, offset + count):
        permit_id = service.submit(
            site="badung", reference=f"B-{index}", kind="SIUP",
            applicant_name="I Wayan Sudirta", nik=NIK, plate=f"DK {index % 9999 + 1} AB",
        )  # fmt: skip
        service.verify_documents(permit_id, "officer")
        service.assess_fee(permit_id, "officer", 150_000)
        service.record_payment(permit_id, f"PAY-{index}", 150_000)
        service.approve(permit_id, "officer")
        service.print_document(permit_id, "officer")
        service.stage(permit_id, "runner", f"R{index % 40}-{index % 100}")
        service.release(
            permit_id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE
        )
        service.hand_over(
            permit_id, handover_id=f"h-{index}", by="op", recipient=Recipient.OWNER,
            id_checked=True, channel="lane:1",
        )  # fmt: skip
        saves += 9
    return count * EVENTS_PER_LIFECYCLE - count, saves


def measure_lifecycle(path: Path, count: int) -> dict[str, float]:
    service = PermitService(ServiceSettings.for_demo(_sqlite(path)))
    lifecycles(service, 20, offset=10_000_000)  # warm-up: imports, tables, caches
    warm_up_events = service.recorder.max_notification_id() or 0
    started = time.perf_counter()
    events, saves = lifecycles(service, count)
    seconds = time.perf_counter() - started
    total = (service.recorder.max_notification_id() or 0) - warm_up_events
    service.close()
    return {"events": total, "saves": saves, "seconds": seconds, "claimed": events}


def measure_raw_eventsourcing(path: Path, saves: int) -> float:
    app = RawApp(env=_sqlite(path).eventsourcing_env())
    tallies = [Tally() for _ in range(max(1, saves // 9))]
    app.save(*tallies)
    started = time.perf_counter()
    done = 0
    while done < saves:
        for tally in tallies:
            tally.tick(done)
            app.save(tally)
            done += 1
            if done >= saves:
                break
    seconds = time.perf_counter() - started
    app.close()
    return saves / seconds


def measure_raw_sqlite(path: Path, rows: int) -> float:
    payload = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-29T03:53:47+00:00"},"by":"officer"}'  # noqa: E501
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE rows (originator_id TEXT, originator_version INTEGER, topic TEXT, "
            "state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        data = [
            (str(uuid.uuid4()), 1, "core.permit:PermitApplication.Approved", payload)
            for _ in range(rows)
        ]
        started = time.perf_counter()
        db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", data)
        db.commit()
        seconds = time.perf_counter() - started
    return rows / seconds


def write_log(path: Path, events: int, service_class: type[PermitService] = PermitService) -> int:
    """A log of real permit events, written in batches so that it is quick to make."""
    service = service_class(ServiceSettings.for_demo(_sqlite(path)))
    now = datetime.now(UTC)
    written = 0
    index = 0
    while written < events:
        batch: list[Aggregate] = []
        for _ in range(100):
            permit = PermitApplication(
                site=f"site-{index % 5}", reference=f"L-{index}", number=f"N-{index}",
                kind="SIUP", applicant_name="Ni Made Ayu Lestari", nik_hash="0" * 64,
                nik_masked="5103********0001", plate=f"DK{index % 9999 + 1}AB",
            )  # fmt: skip
            permit.verify_documents("officer")
            permit.assess_fee("officer", 150_000)
            permit.record_payment(f"P-{index}", 150_000, now)
            permit.approve("officer")
            permit.print_document("officer")
            code = PickupCode.generate()
            permit.stage("runner", f"R-{index % 100}", code.sha256, now + timedelta(days=30))
            index_aggregate = PickupCodeIndex(code_sha256=code.sha256, permit_id=permit.id)
            if index % 2:
                permit.release("1", "1", uuid.uuid4(), ReleaseMethod.CODE, code.sha256)
                permit.hand_over(f"h{index}", "op", Recipient.OWNER, True, "lane:1", now)
            batch.extend((permit, index_aggregate))
            index += 1
        recordings = service.save(*batch)
        written += len(recordings)
    service.close()
    return written


async def measure_projection(
    path: Path, read_path: Path, page_size: int, *, worker: bool = True
) -> dict[str, float]:
    """The rebuild; ``worker=False`` folds in this process too (an anchor)."""
    log = PermitService(ServiceSettings.for_demo(_sqlite(path)))
    async with ReadModels(read_path) as models:
        runner = runner_for(
            log, models, page_size=page_size, worker_from=50_000 if worker else None
        )
        result = await runner.rebuild()
    log.close()
    return {"events": result.events, "seconds": result.seconds}


async def measure_per_event_transactions(path: Path, read_path: Path, limit: int) -> float:
    """The anchor: the same runner committing one transaction per event."""
    log = PermitService(ServiceSettings.for_demo(_sqlite(path)))
    async with ReadModels(read_path) as models:
        runner = runner_for(log, models, page_size=1)
        await models.drop_all()
        started = time.perf_counter()
        done = 0
        while done < limit:
            page = await asyncio.to_thread(
                log.recorder.select_notifications, start=runner.position, limit=1,
                inclusive_of_start=False,
            )  # fmt: skip
            if not page:
                break
            wanted = runner._fold.permit_ids(page)
            existing = await models.load_permits(wanted) if wanted else {}
            changes = runner._fold.fold(page, existing.get)
            await models.write_page(changes.rows())
            runner.position = changes.last_position
            done += 1
        seconds = time.perf_counter() - started
    log.close()
    return done / seconds


def run(quick: bool = False, rebuild_events: int | None = None) -> dict[str, Any]:
    lifecycle_count = 300 if quick else 1500
    log_events = rebuild_events or (60_000 if quick else 200_000)
    with tempfile.TemporaryDirectory(prefix="drivethru-bench-") as tmp:
        root = Path(tmp)
        lifecycle = measure_lifecycle(root / "lifecycle.db", lifecycle_count)
        lifecycle_rate = lifecycle["events"] / lifecycle["seconds"]
        raw_es = measure_raw_eventsourcing(root / "raw.db", int(lifecycle["saves"]))
        raw_sqlite = measure_raw_sqlite(root / "rows.db", 200_000 if not quick else 50_000)
        started = time.perf_counter()
        events = write_log(root / "log.db", log_events)
        log_seconds = time.perf_counter() - started
        projection = asyncio.run(measure_projection(root / "log.db", root / "read.db", 1000))
        in_process = asyncio.run(
            measure_projection(root / "log.db", root / "read0.db", 1000, worker=False)
        )
        per_event = asyncio.run(
            measure_per_event_transactions(root / "log.db", root / "read1.db", 5_000)
        )
        personal_data = store_sealing.run(root, quick, min(log_events, 60_000))
    projection_rate = projection["events"] / projection["seconds"]
    return {
        "benchmark": "store",
        "quick": quick,
        "lifecycles": lifecycle_count,
        "lifecycle_events": lifecycle["events"],
        "lifecycle_save_calls": lifecycle["saves"],
        "lifecycle_events_per_s": round(lifecycle_rate),
        "lifecycle_save_calls_per_s": round(lifecycle["saves"] / lifecycle["seconds"]),
        "raw_eventsourcing_events_per_s": round(raw_es),
        "lifecycle_vs_raw_eventsourcing": round(lifecycle_rate / raw_es, 3),
        "raw_sqlite_rows_per_s": round(raw_sqlite),
        "events": projection["events"],
        "log_written_events": events,
        "log_write_seconds": round(log_seconds, 2),
        "projection_events_per_s": round(projection_rate),
        "projection_in_process_events_per_s": round(in_process["events"] / in_process["seconds"]),
        "projection_per_event_transaction_events_per_s": round(per_event),
        "projection_vs_per_event_transaction": round(projection_rate / per_event, 2),
        "rebuild_seconds": round(projection["seconds"], 2),
        "rebuild_seconds_per_million_events": round(
            projection["seconds"] * 1_000_000 / max(projection["events"], 1), 1
        ),
        "personal_data_sealing": personal_data,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # The rebuild's fold worker is a process of its own (projections/worker.py).
        "fold_worker_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
        "targets": {
            "lifecycle_vs_raw_eventsourcing>=0.5": lifecycle_rate / raw_es >= 0.5,
            "projection_events_per_s>=50000": projection_rate >= 50_000,
            "rebuild_1m_events_under_30s": projection["seconds"]
            * 1_000_000
            / max(projection["events"], 1)
            < 30,
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv)))
