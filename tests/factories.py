"""Builders for the tests: services on each store, permits at each stage."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from core.values import IssuedCode

_references = itertools.count(1)
NIK = "5103011204800001"
DELEGATE_NIK = "5103024506900002"


class FrozenClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 29, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


# As the server runs it (api/settings.py `sole_writer`): cached aggregates are the truth.
SOLE_WRITER = {"AGGREGATE_CACHE_FASTFORWARD": "n"}


def memory_service(
    clock: Callable[[], datetime] | None = None, *, sole_writer: bool = False
) -> PermitService:
    settings = ServiceSettings.for_demo(StoreSettings(backend="memory"))
    env = SOLE_WRITER if sole_writer else None
    return PermitService(settings, clock=clock or FrozenClock(), env=env)


def sqlite_service(
    path: Path, clock: Callable[[], datetime] | None = None, *, sole_writer: bool = False
) -> PermitService:
    settings = ServiceSettings.for_demo(StoreSettings(backend="sqlite", sqlite_path=path))
    env = SOLE_WRITER if sole_writer else None
    return PermitService(settings, clock=clock or FrozenClock(), env=env)


def submit(
    service: PermitService,
    *,
    site: str = "badung",
    plate: str | None = "DK 1234 AB",
    name: str = "I Wayan Sudirta",
    reference: str | None = None,
) -> UUID:
    return service.submit(
        site=site,
        reference=reference or f"LAP-{next(_references):06d}",
        kind="SIUP",
        applicant_name=name,
        nik=NIK,
        plate=plate,
    )


@dataclass(frozen=True)
class ReadyPermit:
    id: UUID
    code: IssuedCode


def ready_permit(
    service: PermitService,
    *,
    site: str = "badung",
    plate: str | None = "DK 1234 AB",
    fee: int = 150_000,
    slot: str = "R1-01",
) -> ReadyPermit:
    """A permit taken through intake, payment, approval, printing and staging: READY."""
    permit_id = submit(service, site=site, plate=plate)
    service.verify_documents(permit_id, "officer")
    service.assess_fee(permit_id, "officer", fee)
    if fee:
        service.record_payment(permit_id, f"PAY-{permit_id}", fee)
    service.approve(permit_id, "officer")
    service.print_document(permit_id, "officer")
    code = service.stage(permit_id, "runner", slot)
    return ReadyPermit(permit_id, code)
