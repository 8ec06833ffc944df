"""A long catch-up folded by a worker process while the runner writes: the same read models."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest

from core.service import PermitService
from projections.bootstrap import runner_for
from projections.runner import ProjectionRunner, ProjectionWorkerError
from projections.store import ReadModels
from tests.factories import sqlite_service, submit
from tests.integration.test_projections import CrashError, build, busy_site, crash_on_page, dump


def worker_runner(
    service: PermitService, models: ReadModels, page_size: int, cache_rows: int = 100_000
) -> ProjectionRunner:
    return runner_for(service, models, page_size=page_size, cache_rows=cache_rows, worker_from=0)


@pytest.fixture
def site(tmp_path: Path) -> PermitService:
    service = sqlite_service(tmp_path / "events.db")
    busy_site(service, permits=30)
    return service


async def clean_dump(service: PermitService, path: Path) -> dict[str, list[tuple[object, ...]]]:
    clean = await build(service, path)  # in this process: the oracle
    try:
        return await dump(clean)
    finally:
        await clean.close()


async def test_a_worker_rebuild_equals_the_in_process_one(
    site: PermitService, tmp_path: Path
) -> None:
    expected = await clean_dump(site, tmp_path / "clean.db")
    async with ReadModels(tmp_path / "worker.db") as models:
        runner = worker_runner(site, models, page_size=13)
        result = await runner.rebuild()
        assert result.pages > 1
        assert result.events == site.recorder.max_notification_id()
        assert await dump(models) == expected
        assert runner.worker_pid is None  # the worker was waited for
    site.close()


def interleaved(service: PermitService, permits: int) -> None:
    """Permits moved a step each in turn: every page touches rows changed a page before."""
    ids = [submit(service, plate=f"B {n + 1} CD") for n in range(permits)]
    steps: list[Callable[[UUID], object]] = [
        lambda pid: service.verify_documents(pid, "officer"),
        lambda pid: service.assess_fee(pid, "officer", 50_000),
        lambda pid: service.record_payment(pid, f"PAY-{pid}", 50_000),
        lambda pid: service.approve(pid, "officer"),
        lambda pid: service.print_document(pid, "officer"),
        lambda pid: service.stage(pid, "runner", "R2-01"),
    ]
    for step in steps:
        for permit_id in ids:
            step(permit_id)


async def test_rows_forgotten_by_the_worker_are_read_back_only_once_committed(
    site: PermitService, tmp_path: Path
) -> None:
    # Two rows of memory, pages of 5 events, permits interleaved: the worker must forget
    # rows all the time and read them back from the file. Reading back a row whose change
    # is not yet committed would lose that change, and the read models would differ.
    interleaved(site, permits=7)
    expected = await clean_dump(site, tmp_path / "clean.db")
    async with ReadModels(tmp_path / "worker.db") as models:
        await worker_runner(site, models, page_size=5, cache_rows=2).rebuild()
        assert await dump(models) == expected
    site.close()


async def test_a_failed_write_stops_the_worker_and_resuming_never_skips_or_doubles(
    site: PermitService, tmp_path: Path
) -> None:
    expected = await clean_dump(site, tmp_path / "clean.db")
    models = await ReadModels(tmp_path / "crashy.db").open()
    try:
        runner = worker_runner(site, models, page_size=11)
        models.fault_after_permits = crash_on_page(4)
        with pytest.raises(CrashError):
            await runner.catch_up()
        assert await models.position() == runner.position
        assert runner.worker_pid is None
    finally:
        await models.close()
    async with ReadModels(tmp_path / "crashy.db") as reopened:
        await worker_runner(site, reopened, page_size=11).catch_up()
        assert await dump(reopened) == expected
    site.close()


async def test_a_killed_worker_is_a_clear_error_and_the_next_catch_up_finishes(
    site: PermitService, tmp_path: Path
) -> None:
    expected = await clean_dump(site, tmp_path / "clean.db")
    async with ReadModels(tmp_path / "killed.db") as models:
        runner = worker_runner(site, models, page_size=7)
        killed: list[int] = []

        def kill_the_worker(position: int, _newest: int) -> None:
            if not killed and runner.worker_pid is not None:
                killed.append(position)
                os.kill(runner.worker_pid, signal.SIGKILL)

        with pytest.raises(ProjectionWorkerError, match="fold worker stopped"):
            await runner.catch_up(kill_the_worker)
        assert killed
        assert 0 < await models.position() < (site.recorder.max_notification_id() or 0)
        result = await runner.catch_up()
        assert result.events > 0
        assert await dump(models) == expected
    site.close()
