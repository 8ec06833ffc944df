"""The retention job: personal data erased by key when its purpose's period ends.

It runs in the server, once at start and then every ``retention_interval_seconds``:
- the lanes' plate reads, one key per day and purpose (`core.retention`): 7 days for those
  that matched nothing, 90 for those that found a permit;
- the applicant's personal data, ``personal_days_after_close`` days after the permit's
  case closed (`PermitService.erase_personal_data`).
Each erasure is recorded once (`DataErased`), so running it again, or on two servers, adds
nothing. Feedback keeps its own clock (`api/pages/feedback.py`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from uuid import UUID

import aiosqlite

from api.periodic import every
from core.errors import PermitError
from core.personal import ERASED, Purpose
from core.retention import RetentionPeriods, due_plate_days, erase_plate_day
from core.service import PermitService

log = logging.getLogger(__name__)
BY = "retensi / retention"


@dataclass(frozen=True, slots=True)
class RetentionRun:
    plate_days: tuple[tuple[Purpose, date], ...]
    """The days of lane plate reads erased, with their purpose."""
    permits: tuple[str, ...]
    """The permits whose holder's personal data was erased."""


class RetentionJob:
    """Erases what is past its period at one site."""

    def __init__(
        self,
        service: PermitService,
        read_models: aiosqlite.Connection,
        site: str,
        periods: RetentionPeriods,
    ) -> None:
        self.service = service
        self.read_models = read_models
        self.site = site
        self.periods = periods

    async def run_once(self) -> RetentionRun:
        today = self.service.clock().astimezone(UTC).date()
        days = await asyncio.to_thread(self._erase_plates, today)
        closed_before = today - timedelta(days=self.periods.personal_days_after_close)
        async with self.read_models.execute(
            "SELECT id FROM permits WHERE site = ? AND closed_at < ? AND holder != ? ORDER BY id",
            (self.site, closed_before.isoformat(), ERASED),
        ) as cursor:
            due = [row[0] for row in await cursor.fetchall()]
        reason = (
            f"retensi / retention: {self.periods.personal_days_after_close} hari setelah "
            f"ditutup / days after the case closed"
        )
        erased = []
        for permit_id in due:
            try:
                await asyncio.to_thread(
                    self.service.erase_personal_data, UUID(permit_id), BY, reason
                )
            except PermitError as refused:  # one permit's trouble must not stop the others
                log.warning("retensi %s gagal / retention failed: %s", permit_id, refused)
                continue
            erased.append(permit_id)
        run = RetentionRun(tuple(days), tuple(erased))
        if run.plate_days or run.permits:
            log.info(
                "retensi: %d hari bacaan plat, %d pemohon / retention: %d days of plate "
                "reads, %d applicants erased",
                len(run.plate_days), len(run.permits), len(run.plate_days), len(run.permits),
            )  # fmt: skip
        return run

    def _erase_plates(self, today: date) -> list[tuple[Purpose, date]]:
        return [
            (purpose, day)
            for purpose, day in due_plate_days(self.periods, today)
            if erase_plate_day(self.service, purpose, day, BY)
        ]

    async def run_every(self, seconds: float) -> None:
        """Run now and then every ``seconds`` until cancelled; a failed run is logged."""
        await every(seconds, self.run_once, log, "retensi gagal / retention run failed")
