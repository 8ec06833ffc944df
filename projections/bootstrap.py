"""The read models' composition root: a runner wired to an application's event store.

Every process that folds the log into read models (the server, the rebuild, the benches,
the tests) gets its runner here: the store's recorder, the transcoder that holds the
store's subject keys (the fold prefetches a page's keys with one query, off the event
loop), the page size and the wake-ups. The fold worker, a process without the application,
gets its fold here too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from core.personal import SubjectKeys
from core.settings import StoreSettings
from core.subject_keys import SqliteKeyStore
from projections.identity import ensure_built_from, store_identity
from projections.permits import PermitFold
from projections.runner import CatchUp, Progress, ProjectionRunner
from projections.store import ReadModels

if TYPE_CHECKING:  # the fold worker imports this module: it loads no more than it uses
    from eventsourcing.application import Application

    from core.service import PermitService
    from projections.store_watch import StoreWatch


def runner_for(
    application: Application[UUID],
    models: ReadModels,
    *,
    page_size: int = 1000,
    poll_seconds: float = 1.0,
    cache_rows: int = 100_000,
    worker_from: int | None = 50_000,
    gather_seconds: float = 0.0,
) -> ProjectionRunner:
    """A runner that folds ``application``'s notification log into ``models``.

    ``worker_from``: from this many events behind, a worker process folds (None: never).
    """
    return ProjectionRunner(
        application.recorder, application.mapper.transcoder, models,
        page_size=page_size, poll_seconds=poll_seconds, cache_rows=cache_rows,
        worker_from=worker_from, gather_seconds=gather_seconds,
    )  # fmt: skip


def fold_of_sqlite_store(path: Path) -> tuple[PermitFold, SqliteKeyStore]:
    """A fold opening sealed fields with the subject keys in the SQLite store file at
    ``path``, for a process without the application (the fold worker); close the key store
    after."""
    keys = SqliteKeyStore(path)
    return PermitFold(keys=SubjectKeys(keys)), keys


def follow_saves(service: PermitService, runner: ProjectionRunner) -> StoreWatch | None:
    """Wake ``runner`` at once for this process's saves and, on a shared PostgreSQL store,
    for every other process's; the watch returned (None on SQLite) is the caller's to stop."""
    from projections.store_watch import watch_store  # PostgreSQL's client: servers only

    service.add_save_listener(runner.wake)
    return watch_store(service.recorder, runner.wake)


@dataclass
class ServedReadModels:
    """A server's read models: the runner's connection, and one for queries."""

    runner: ProjectionRunner
    runner_models: ReadModels
    read_models: ReadModels
    """A second connection for queries, so readers never see a page half-written."""


async def open_for_server(
    application: Application[UUID], store: StoreSettings, path: Path, *, gather_seconds: float
) -> ServedReadModels:
    """Open the read models at ``path`` and bring them up to date with the store.

    Read models of another store would hide this store's first events: they are rebuilt
    (and the log says so).
    """
    runner_models = await ReadModels(path).open()
    try:
        runner = runner_for(application, runner_models, gather_seconds=gather_seconds)
        identity = await asyncio.to_thread(store_identity, application.recorder, store)
        await ensure_built_from(runner_models, runner, identity)
        read_models = await ReadModels(path).open()
        try:
            await runner.catch_up()
        except BaseException:
            await read_models.close()
            raise
    except BaseException:
        await runner_models.close()
        raise
    return ServedReadModels(runner, runner_models, read_models)


async def rebuild(
    application: Application[UUID],
    store: StoreSettings,
    path: Path,
    progress: Progress | None = None,
) -> CatchUp:
    """Build the read models at ``path`` again from the first event, and record the store
    they were built from (`projections.identity`)."""
    async with ReadModels(path) as models:
        result = await runner_for(application, models).rebuild(progress)
        identity = await asyncio.to_thread(store_identity, application.recorder, store)
        await models.record_store_identity(identity.text)
    return result
