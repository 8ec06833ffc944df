"""The expiry job: pickup codes past their ``expires_at`` and permits nobody collected.

It runs in the server, once at start and then every ``expiry_interval_seconds``. The read
models find the candidates; each permit's own rules (`PermitApplication.due_expiry`) decide,
on the service's clock, and record `PickupCodeExpired` or `Expired`. A run that finds
nothing due records nothing, so running it twice, or on two servers, adds nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, timedelta
from uuid import UUID

import aiosqlite

from api.periodic import every
from core.errors import PermitError
from core.service import PermitService
from core.values import ExpiryCause
from projections import queries

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExpiryRun:
    """What one run recorded: the permits whose code expired, and those not collected."""

    codes_expired: tuple[str, ...]
    uncollected: tuple[str, ...]

    @property
    def recorded(self) -> int:
        return len(self.codes_expired) + len(self.uncollected)


class ExpiryJob:
    """Records the expiries that are due at one site."""

    def __init__(
        self,
        service: PermitService,
        read_models: aiosqlite.Connection,
        site: str,
        uncollected_after: timedelta,
    ) -> None:
        self.service = service
        self.read_models = read_models
        self.site = site
        self.uncollected_after = uncollected_after

    async def run_once(self) -> ExpiryRun:
        now = self.service.clock().astimezone(UTC)
        candidates = await queries.due_for_expiry(
            self.read_models,
            self.site,
            now.isoformat(),
            (now - self.uncollected_after).isoformat(),
        )
        expired: dict[ExpiryCause, list[str]] = {cause: [] for cause in ExpiryCause}
        for permit_id in candidates:
            try:
                # The event store is synchronous: keep it off the event loop.
                cause = await asyncio.to_thread(
                    self.service.expire_if_due, UUID(permit_id), self.uncollected_after
                )
            except PermitError as refused:  # one permit's trouble must not stop the others
                log.warning("kedaluwarsa %s gagal / expiry failed: %s", permit_id, refused)
                continue
            if cause is not None:
                expired[cause].append(permit_id)
        run = ExpiryRun(tuple(expired[ExpiryCause.CODE]), tuple(expired[ExpiryCause.UNCOLLECTED]))
        if run.recorded:
            log.info(
                "kedaluwarsa: %d kode, %d tidak diambil / expired: %d codes, %d uncollected",
                len(run.codes_expired), len(run.uncollected),
                len(run.codes_expired), len(run.uncollected),
            )  # fmt: skip
        return run

    async def run_every(self, seconds: float) -> None:
        """Run now and then every ``seconds`` until cancelled; a failed run is logged."""
        await every(
            seconds, self.run_once, log, "pemeriksaan kedaluwarsa gagal / expiry run failed"
        )
