"""What the notifier costs (`api/notify/`): folding the log and marking messages sent.

One run on a SQLite store of READY permits with contacts, each released once: the
notifier's fold of the whole log, against the read models' fold of the same log (the
anchor: the projection the server runs anyway), then delivering every ready message
through the demo channel (which takes it at once), so the figure is the outbox's own
bookkeeping: a row read, marked sent and fsynced.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.notify.bootstrap import state_opener
from api.notify.channels import DemoOutbox
from api.notify.notifier import Notifier
from api.notify.settings import DemoOutboxChannel, NotifyOptions
from api.notify.store import IssuedLinks, NotifyStore
from bench.seed import seed_on_store
from core.contact import Contact
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from core.values import ReleaseMethod
from projections.bootstrap import runner_for
from projections.store import ReadModels


def _read_models_fold(service: PermitService, path: Path) -> float:
    async def fold() -> float:
        async with ReadModels(path) as models:
            runner = runner_for(service, models, worker_from=None)
            started = time.perf_counter()
            await runner.catch_up()
            return time.perf_counter() - started

    return asyncio.run(fold())


def run(permits: int = 1000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        service = PermitService(
            ServiceSettings.for_demo(
                StoreSettings(backend="sqlite", sqlite_path=folder / "events.db")
            )
        )
        try:
            service.add_code_listener(IssuedLinks(folder / "notify.db"))
            contacts = [Contact.parse("+6281234567890", "warga@example.com")] * permits
            for permit in seed_on_store(service, "badung", permits, contacts=contacts):
                service.release(uuid.UUID(permit.id), lane="1", window="1",
                                visit=uuid.uuid4(), method=ReleaseMethod.MANUAL)  # fmt: skip
            events = service.recorder.max_notification_id() or 0
            notifier = Notifier(
                service.recorder, NotifyStore(folder / "notify.db"),
                [DemoOutbox(DemoOutboxChannel(kind="demo_outbox"))], NotifyOptions(),
                public_url="https://izin.example.go.id", uncollected_days=30,
                clock=lambda: datetime.now(UTC), open_state=state_opener(service),
            )  # fmt: skip
            started = time.perf_counter()
            queued = notifier.catch_up()
            fold = time.perf_counter() - started
            anchor = _read_models_fold(service, folder / "read.db")
            started = time.perf_counter()
            delivered = 0
            while sent := notifier.deliver_due():
                delivered += sent
            deliver = time.perf_counter() - started
            notifier.store.close()
        finally:
            service.close()
    return {
        "benchmark": "notify",
        "permits": permits,
        "events": events,
        "messages_queued": queued,
        "notifier_fold_events_per_s": round(events / fold),
        "read_models_fold_events_per_s": round(events / anchor),
        "notifier_fold_vs_read_models": round(anchor / fold, 2),
        "messages_delivered": delivered,
        "ms_per_message_marked_sent": round(deliver / max(delivered, 1) * 1000, 3),
    }
