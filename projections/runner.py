"""The projection runner: follows the event store's notification log into the read models.

SQLite event stores cannot push, so the runner catches up in a loop: read a page of
notifications after its tracked position, fold it, write it with the new position in one
transaction. It wakes at once when this process saves events (`PermitService` save
listeners) and otherwise polls. Notification ids may have gaps (PostgreSQL rolls back
sequence values): the runner asks for ids *after* its position, never for ``position + 1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eventsourcing.persistence import ApplicationRecorder, Transcoder

from projections.log import Entry, source_for
from projections.permits import PageChanges, PermitFold, Row
from projections.store import ReadModels

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What one catch-up did."""

    events: int
    pages: int
    position: int
    seconds: float


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
        # The runner is the read models' only writer, so the rows it last wrote can be
        # kept and folded again without reading them back.
        self._rows: dict[str, Row] = {}
        self.cache_rows = cache_rows

    def on_applied(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` on the event loop after each page is committed."""
        self._applied_listeners.append(listener)

    def wake(self, _max_id: int | None = None) -> None:
        """Ask the runner to catch up now; safe to call from any thread (a save listener)."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while we were saving
            loop.call_soon_threadsafe(wake.set)

    async def _fold_page(self, page: Sequence[Entry]) -> PageChanges:
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
        changes: PageChanges,
        events: int,
        tally: list[int],
        progress: Progress | None,
        newest: int,
    ) -> None:
        await self.read_models.write_page(changes)
        self.position = changes.last_position
        tally[0] += events
        tally[1] += 1
        for listener in self._applied_listeners:
            listener(self.position)
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
        self.position = await self.read_models.position()
        newest = 0
        if progress is not None:
            newest = await self._newest()
        tally = [0, 0]  # events, pages
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
                changes = await self._fold_page(page)
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(
                    self._write(changes, len(page), tally, progress, newest)
                )
                page = await upcoming if upcoming is not None else []
                upcoming = None
            if writing is not None:
                await writing
                writing = None
        except BaseException:
            self._rows.clear()  # rows folded past the last commit are not the truth
            for pending in (upcoming, writing):
                if pending is not None:
                    with contextlib.suppress(BaseException):
                        await pending
            self.position = await self.read_models.position()
            raise
        total, pages = tally
        return CatchUp(total, pages, self.position, time.perf_counter() - started)

    async def run(self) -> None:
        """Catch up, then follow the log until `stop`; a failing page is retried after a pause."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        while not self._stopping:
            self._wake.clear()
            try:
                await self.catch_up()
            except Exception:
                log.exception("proyeksi gagal, dicoba lagi / projection failed, retrying")
                await asyncio.sleep(self.poll_seconds)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    async def rebuild(self, progress: Progress | None = None) -> CatchUp:
        """Drop the read models and build them again from the first event."""
        started = time.perf_counter()
        await self.read_models.drop_all(indexes=False)
        await self.read_models.begin_bulk_load()
        self._rows.clear()
        self.position = 0
        result = await self.catch_up(progress)
        await self.read_models.end_bulk_load()
        # The rebuild's time includes dropping and indexing, not only the catch-up.
        return CatchUp(result.events, result.pages, result.position, time.perf_counter() - started)
