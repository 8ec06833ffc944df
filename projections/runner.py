"""The projection runner: follows the event store's notification log into the read models.

SQLite event stores cannot push, so the runner catches up in a loop: read a page of
notifications after its tracked position, fold it, write it with the new position in one
transaction. It wakes at once when this process saves events (`PermitService` save
listeners) and otherwise polls. Notification ids may have gaps (PostgreSQL rolls back
sequence values): the runner asks for ids *after* its position, never for ``position + 1``.
A long catch-up of a SQLite store (a rebuild, a server started far behind) is folded by a
worker process while this one writes (`projections.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection

from eventsourcing.persistence import ApplicationRecorder, Transcoder

from projections import fold_job
from projections.log import Entry, SqliteFileSource, source_for
from projections.permits import PageChanges, PageRows, PermitFold, Row
from projections.store import ReadModels

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
ArrivalsListener = Callable[[PageRows], None]


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What one catch-up did."""

    events: int
    pages: int
    position: int
    seconds: float


class ProjectionWorkerError(RuntimeError):
    """The fold worker failed or died; the read models stay at their last committed page."""


def _receive(conn: Connection) -> tuple[str, object]:
    try:
        kind, payload = conn.recv()
    except (EOFError, OSError) as error:
        return "error", f"proses lipat berhenti / fold worker stopped: {error!r}"
    return str(kind), payload


class ProjectionRunner:
    """Keeps the read models in step with the event store, exactly once across crashes."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        transcoder: Transcoder,
        read_models: ReadModels,
        *,
        page_size: int = 1000,
        poll_seconds: float = 1.0,
        cache_rows: int = 100_000,
        worker_from: int | None = 50_000,
        gather_seconds: float = 0.0,
    ) -> None:
        self._recorder = recorder
        self._source = source_for(recorder)
        self._fold = PermitFold(transcoder)
        self.read_models = read_models
        self.page_size = page_size
        self.poll_seconds = poll_seconds
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.position = 0
        self._applied_listeners: list[Callable[[int], None]] = []
        self._manifest_listeners: list[Callable[[int], None]] = []
        self._arrival_listeners: list[ArrivalsListener] = []
        # The runner is the read models' only writer, so the rows it last wrote can be
        # kept and folded again without reading them back.
        self._rows: dict[str, Row] = {}
        self.cache_rows = cache_rows
        # From this many events behind, a worker process folds while this one writes.
        self.worker_from = worker_from
        self.worker_pid: int | None = None
        # The runner is its read models' only writer: after one catch-up it knows its
        # position without asking the file (until a failure).
        self._position_known = False
        self._newest_saved = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        # After a wake-up, how long `run` waits for more saves before the next page.
        self.gather_seconds = gather_seconds
        self._urgent = asyncio.Event()

    def on_applied(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` on the event loop after each page is committed."""
        self._applied_listeners.append(listener)

    def on_manifests_changed(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` after a page that changed what the manifests list."""
        self._manifest_listeners.append(listener)

    def on_arrivals(self, listener: ArrivalsListener) -> None:
        """Call ``listener(page)`` after a committed page that recorded arrivals at lanes.

        Whichever process decided them: this is how every replica's consoles see them
        (`projections.arrivals`).
        """
        self._arrival_listeners.append(listener)

    def wake(self, max_id: int | None = None) -> None:
        """Ask the runner to catch up now; safe to call from any thread (a save listener)."""
        if max_id is not None:
            self._newest_saved = max(self._newest_saved, max_id)
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while we were saving
            loop.call_soon_threadsafe(wake.set)

    async def reached(self, timeout: float) -> bool:
        """Wait until the read models show everything this process has saved so far.

        A query right after a save (a plate read moments after its permit was staged) then
        sees it. False if that took longer than ``timeout`` seconds.
        """
        target = self._newest_saved
        if self.position >= target:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        self._urgent.set()
        self.wake()
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove((target, waiter))
        return True

    def _release_waiters(self) -> None:
        for target, waiter in self._waiters:
            if target <= self.position and not waiter.done():
                waiter.set_result(None)

    async def _fold_page(self, page: Sequence[Entry]) -> PageChanges:
        # The subjects' keys come from the store: read them off the event loop.
        await asyncio.to_thread(self._fold.prefetch_keys, page)
        wanted = self._fold.permit_ids(page)
        missing = {pid for pid in wanted if pid not in self._rows}
        loaded = await self.read_models.load_permits(missing) if missing else {}

        def existing(permit_id: str) -> Row | None:
            return self._rows.get(permit_id) or loaded.get(permit_id)

        changes = self._fold.fold(page, existing)
        for permit_id, row in changes.permits.items():
            self._rows.pop(permit_id, None)
            self._rows[permit_id] = row
        while len(self._rows) > self.cache_rows:
            del self._rows[next(iter(self._rows))]
        return changes

    async def _write(
        self,
        page: PageRows,
        tally: list[int],
        progress: Progress | None,
        newest: int,
    ) -> None:
        await self.read_models.write_page(page)
        self.position = page.last_position
        if self._waiters:
            self._release_waiters()
        tally[0] += page.events
        tally[1] += 1
        for listener in self._applied_listeners:
            listener(self.position)
        if page.touches_manifests:
            for listener in self._manifest_listeners:
                listener(self.position)
        if page.arrivals:
            for arrivals_listener in self._arrival_listeners:
                arrivals_listener(page)
        if progress is not None:
            progress(self.position, max(newest, self.position))

    async def _newest(self) -> int:
        return await asyncio.to_thread(self._source.max_id)

    async def _select_after(self, position: int) -> Sequence[Entry]:
        return await asyncio.to_thread(self._source.select_after, position, self.page_size)

    async def lag(self) -> int:
        """How many notifications the read models are behind the store."""
        return max(0, await self._newest() - self.position)

    async def catch_up(self, progress: Progress | None = None) -> CatchUp:
        """Apply every notification after the tracked position, a page per transaction.

        Three stages overlap: the next page is read from the store while this one is folded
        and the previous one is written (the write runs mostly outside the GIL).
        """
        started = time.perf_counter()
        if not self._position_known:
            self.position = await self.read_models.position()
        # Woken by this process's own save, the runner knows how far the log goes; a poll
        # (another process may have written) or a progress bar asks the store.
        newest = self._newest_saved
        # Only a SQLite file's long catch-up goes to a worker, which is what the newest id
        # decides: for other stores the page read below is enough (a query less for each
        # wake-up, and replicas wake up for every save of every server).
        worker_possible = isinstance(self._source, SqliteFileSource)
        if (
            progress is not None
            or not self._position_known
            or (newest <= self.position and worker_possible)
        ):
            newest = await self._newest()
        self._position_known = True
        tally = [0, 0]  # events, pages
        job = self._worker_job(newest)
        if job is not None:
            try:
                await self._catch_up_in_worker(job, tally, progress, newest)
            except BaseException:
                self._position_known = False
                self.position = await self.read_models.position()
                raise
            return CatchUp(tally[0], tally[1], self.position, time.perf_counter() - started)
        writing: asyncio.Future[None] | None = None
        upcoming: asyncio.Future[Sequence[Entry]] | None = None
        try:
            page = await self._select_after(self.position)
            while page:
                upcoming = (
                    asyncio.ensure_future(self._select_after(page[-1].id))
                    if len(page) == self.page_size
                    else None
                )
                rows = (await self._fold_page(page)).rows()
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(self._write(rows, tally, progress, newest))
                page = await upcoming if upcoming is not None else []
                upcoming = None
            if writing is not None:
                await writing
                writing = None
        except BaseException:
            self._rows.clear()  # rows folded past the last commit are not the truth
            self._position_known = False
            for pending in (upcoming, writing):
                if pending is not None:
                    with contextlib.suppress(BaseException):
                        await pending
            self.position = await self.read_models.position()
            raise
        total, pages = tally
        return CatchUp(total, pages, self.position, time.perf_counter() - started)

    def _worker_job(self, newest: int) -> fold_job.FoldJob | None:
        """A job for the fold worker when the lag is long enough to pay for starting it."""
        source = self._source
        if (
            self.worker_from is None
            or newest - self.position < self.worker_from
            or not isinstance(source, SqliteFileSource)
            or str(self.read_models.path) == ":memory:"
        ):
            return None
        return fold_job.FoldJob(
            log_path=source.db_name,
            log_table=source.table,
            read_models_path=str(self.read_models.path.resolve()),
            after=self.position,
            page_size=self.page_size,
            cache_rows=self.cache_rows,
        )

    async def _catch_up_in_worker(
        self, job: fold_job.FoldJob, tally: list[int], progress: Progress | None, newest: int
    ) -> None:
        """Write the pages a worker process folds, a page per transaction."""
        # The worker folds rows this process never saw: what it kept is of no use after.
        self._rows.clear()
        process, ours = await asyncio.to_thread(fold_job.start, job)  # fork/exec off the loop
        self.worker_pid = process.pid
        try:
            message = asyncio.ensure_future(asyncio.to_thread(_receive, ours))
            while True:
                kind, payload = await message
                if kind == "end":
                    return
                if kind == "error":
                    raise ProjectionWorkerError(str(payload))
                if not isinstance(payload, PageRows):
                    raise ProjectionWorkerError(f"unexpected message {kind!r}")
                page = payload
                message = asyncio.ensure_future(asyncio.to_thread(_receive, ours))
                await self._write(page, tally, progress, newest)
                with contextlib.suppress(OSError):  # a finished worker reads no more
                    ours.send(page.last_position)
        finally:
            with contextlib.suppress(OSError):
                ours.send(None)
            ours.close()
            try:
                await asyncio.to_thread(process.wait, 5)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
            self.worker_pid = None

    async def run(self) -> None:
        """Catch up, then follow the log until `stop`; a failing page is retried after a pause."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        while not self._stopping:
            self._wake.clear()
            self._urgent.clear()
            try:
                applied = await self.catch_up()
            except Exception:
                log.exception("proyeksi gagal, dicoba lagi / projection failed, retrying")
                await asyncio.sleep(self.poll_seconds)
                continue
            if self.gather_seconds and applied.events:
                # Let the saves of the next few moments join the next page: a page costs the
                # same few transactions for one event as for a hundred. A query waiting for
                # the read models (`reached`) cuts the pause short.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), timeout=self.gather_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    def stop(self) -> None:
        self._stopping = True
        self._urgent.set()
        self.wake()

    async def rebuild(self, progress: Progress | None = None) -> CatchUp:
        """Drop the read models and build them again from the first event."""
        started = time.perf_counter()
        await self.read_models.drop_all(indexes=False)
        await self.read_models.begin_bulk_load()
        self._rows.clear()
        self._position_known = False
        result = await self.catch_up(progress)
        await self.read_models.end_bulk_load()
        # The rebuild's time includes dropping and indexing, not only the catch-up.
        return CatchUp(result.events, result.pages, result.position, time.perf_counter() - started)
