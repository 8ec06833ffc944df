"""What sealing personal fields costs (`core.personal`), against the same work unsealed.

Measured in one run, alternating the two so that the machine's noise falls on both: whole
permit lifecycles through `PermitService` (submission seals the name and the plate; the first
seal of a subject also creates its key row), the read models' fold of the same log sealed
and unsealed, and one field sealed and opened on its own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Mapper

from core.personal import Personal, SubjectKeys, seal, unseal
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from core.subject_keys import MemoryKeyStore


class UnsealedService(PermitService):
    """The service with the library's own mapper: personal fields stored in clear."""

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        return Mapper(transcoder=self.construct_transcoder())


def _lifecycle_rate(
    path: Path, service_class: type[PermitService], count: int, offset: int
) -> float:
    from bench.store import lifecycles

    service = service_class(
        ServiceSettings.for_demo(StoreSettings(backend="sqlite", sqlite_path=path))
    )
    lifecycles(service, 10, offset=offset + 5_000_000)  # warm-up
    started = time.perf_counter()
    events, _ = lifecycles(service, count, offset=offset)
    seconds = time.perf_counter() - started
    service.close()
    return events / seconds


def _field_micro(rounds: int) -> dict[str, float]:
    keys = SubjectKeys(MemoryKeyStore())
    subjects = [uuid.uuid4() for _ in range(100)]
    values = [
        Personal(s, "PermitApplication.Submitted", "applicant_name", "Ni Made Ayu")
        for s in subjects
    ]
    for value in values:  # keys made and cached: the steady state of a server
        seal(keys, value)
    started = time.perf_counter()
    sealed = [seal(keys, values[i % 100]) for i in range(rounds)]
    sealing = time.perf_counter() - started
    started = time.perf_counter()
    for text in sealed:
        unseal(keys, text)
    opening = time.perf_counter() - started
    return {
        "seal_us_per_field": round(sealing * 1e6 / rounds, 2),
        "open_us_per_field": round(opening * 1e6 / rounds, 2),
    }


async def _fold_rate(path: Path, read_path: Path) -> float:
    from bench.store import measure_projection

    result = await measure_projection(path, read_path, 1000, worker=False)
    return result["events"] / result["seconds"]


def run(root: Path, quick: bool, log_events: int) -> dict[str, Any]:
    from bench.store import write_log

    count = 100 if quick else 600
    sealed: list[float] = []
    clear: list[float] = []
    for round_ in range(2):
        offset = round_ * 1_000_000
        sealed.append(_lifecycle_rate(root / f"sealed{round_}.db", PermitService, count, offset))
        clear.append(_lifecycle_rate(root / f"clear{round_}.db", UnsealedService, count, offset))
    write_log(root / "fold-sealed.db", log_events)
    write_log(root / "fold-clear.db", log_events, service_class=UnsealedService)
    fold_sealed = asyncio.run(_fold_rate(root / "fold-sealed.db", root / "fold-sealed-read.db"))
    fold_clear = asyncio.run(_fold_rate(root / "fold-clear.db", root / "fold-clear-read.db"))
    best_sealed, best_clear = max(sealed), max(clear)
    return {
        "lifecycle_events_per_s_sealed": round(best_sealed),
        "lifecycle_events_per_s_unsealed": round(best_clear),
        "lifecycle_sealed_vs_unsealed": round(best_sealed / best_clear, 3),
        "fold_events_per_s_sealed": round(fold_sealed),
        "fold_events_per_s_unsealed": round(fold_clear),
        "fold_sealed_vs_unsealed": round(fold_sealed / fold_clear, 3),
        **_field_micro(20_000 if quick else 100_000),
        "note": (
            "best of 2 alternating rounds of whole lifecycles (12 events, 2 sealed fields "
            "each); the fold in this process over the same generated log written sealed "
            "and in clear"
        ),
    }
