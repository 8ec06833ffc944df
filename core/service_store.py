"""`PermitStore`: the permit event store as the service's commands use it.

Saves that wake listeners, the aggregate cache, one lock per permit and the retry loop every
command runs in: each command loads the permit, lets the aggregate decide, and saves; when
another writer saved first (optimistic concurrency), the command is tried again on the fresh
permit, so the rules see what really happened. The commands are `PermitService`'s
(core/service.py) and its bases'.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from core.errors import ConcurrentChangeError, PermitNotFoundError
from core.permit import PermitApplication
from core.settings import ServiceSettings
from core.snapshot import PermitSnapshot
from core.subject_keys import PersonalDataApplication
from core.values import IssuedCode, code_index_id

T = TypeVar("T")
Clock = Callable[[], datetime]
SaveListener = Callable[[int], None]
CodeListener = Callable[[IssuedCode], None]
MAX_ATTEMPTS = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


class PermitStore(PersonalDataApplication):
    """Permits on the configured event store, changed one command at a time."""

    name = "drivethru"

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        clock: Clock = utc_now,
        env: Mapping[str, str] | None = None,
    ) -> None:
        store_env = dict(settings.store.eventsourcing_env())
        # Cached aggregates are fast-forwarded from the store on each get, so a command
        # costs one small read instead of replaying the whole permit; a process that is its
        # store's only writer turns that off too (AGGREGATE_CACHE_FASTFORWARD=n: the server).
        store_env.setdefault("AGGREGATE_CACHE_MAXSIZE", "30000")
        store_env.setdefault("DEEPCOPY_FROM_AGGREGATE_CACHE", "n")
        store_env.update(env or {})
        super().__init__(settings.store, env=store_env)
        self.settings = settings
        self.clock = clock
        self._nik_key = settings.nik_key.get_secret_value().encode()
        self._listeners: list[SaveListener] = []
        self._code_listeners: list[CodeListener] = []
        self._locks = tuple(threading.Lock() for _ in range(64))
        # An erasure another process made: the cached aggregate still holds the opened fields.
        self.subject_keys.on_forget(lambda subject: self.forget(UUID(hex=subject)))

    # -- plumbing ---------------------------------------------------------------------------

    def add_save_listener(self, listener: SaveListener) -> None:
        """Call ``listener(max_notification_id)`` after each save, to wake projections."""
        self._listeners.append(listener)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        if kwargs or not all(isinstance(obj, Aggregate) for obj in objs):
            recordings = super().save(*objs, **kwargs)
        else:
            recordings = self._save_aggregates(objs)
        if recordings and self._listeners:
            last = max(r.notification.id for r in recordings)
            for listener in self._listeners:
                listener(last)
        return recordings

    def _save_aggregates(self, aggregates: tuple[Aggregate, ...]) -> list[Recording[UUID]]:
        """`Application.save` for our aggregates, without its runtime-protocol checks.

        The library tells an aggregate from an event with two `isinstance` checks against
        runtime Protocols per saved object; Python 3.11 lists the protocol's attributes on
        every such check: measured, 6% of the server's time at 600 arrivals/s. Every
        aggregate here is an `Aggregate`, which a nominal check tells at once.
        """
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings

    def _lock(self, permit_id: UUID) -> threading.Lock:
        return self._locks[permit_id.int % len(self._locks)]

    def _permit(self, permit_id: UUID) -> PermitApplication:
        """The cached permit itself (not a copy): call only while holding its lock."""
        try:
            permit: object = self.repository.get(permit_id)
        except AggregateNotFoundError:
            raise PermitNotFoundError(permit_id) from None
        if not isinstance(permit, PermitApplication):  # the id of a code index or a visit
            raise PermitNotFoundError(permit_id)
        return permit

    def forget(self, aggregate_id: UUID) -> None:
        """Drop a cached aggregate that may hold events that were never saved."""
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    @property
    def sole_writer(self) -> bool:
        """Cached aggregates are the truth: nothing else writes this store (no fast-forward)."""
        return self.repository.cache is not None and not self.repository.fastforward

    def cached(self, aggregate_id: UUID) -> Aggregate | None:
        """The cached aggregate, or None when it is not in memory (no store read)."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            found = cache.get(aggregate_id)
        except KeyError:
            return None
        return found if isinstance(found, Aggregate) else None

    def warm(self, codes: Iterable[tuple[str, UUID]]) -> int:
        """Load the permits waiting at the lanes, and their codes, into memory.

        Arrivals then decide without reading the store (the server's start, after the
        read models caught up). Returns how many permits were loaded.
        """
        loaded = 0
        for code_sha256, permit_id in codes:
            with contextlib.suppress(AggregateNotFoundError):
                self.repository.get(code_index_id(code_sha256))
            with self._lock(permit_id), contextlib.suppress(PermitNotFoundError):
                if self.cached(permit_id) is None:
                    self._permit(permit_id)
                    loaded += 1
        return loaded

    def peek(self, permit_id: UUID, *, just_read: bool = False) -> PermitApplication:
        """A private copy of the permit, to change and then save together with others.

        ``just_read``: the caller read the permit moments ago (`resolve_code`), so the cached
        one is taken as it is, without a store read to fast-forward it; had another server
        changed it since, the save fails on its version and the caller tries again.
        """
        with self._lock(permit_id):
            cached = self.cached(permit_id) if just_read else None
            if isinstance(cached, PermitApplication):
                return copy.deepcopy(cached)
            return copy.deepcopy(self._permit(permit_id))

    def _change(
        self,
        permit_id: UUID,
        command: Callable[[PermitApplication], T],
        extra: Callable[[], list[Aggregate]] | None = None,
    ) -> T:
        """Run ``command`` on a fresh permit and save, again if another writer came first.

        Commands on one permit take turns within the process (a striped lock), so the cached
        aggregate is changed in place rather than deep-copied for every command (measured:
        a third of a command's cost); a failed command or save evicts it from the cache.
        """
        with self._lock(permit_id):
            for _ in range(MAX_ATTEMPTS):
                permit = self._permit(permit_id)
                try:
                    result = command(permit)
                    # Aggregates saved alongside are made anew for each attempt: a failed
                    # save has already taken their pending events.
                    self.save(permit, *(extra() if extra else ()))
                except IntegrityError:
                    self.forget(permit_id)
                    continue
                except BaseException:
                    self.forget(permit_id)
                    raise
                return result
        raise ConcurrentChangeError(permit_id)

    def get(self, permit_id: UUID) -> PermitSnapshot:
        with self._lock(permit_id):
            return PermitSnapshot.of(self._permit(permit_id))

    def history(self, permit_id: UUID) -> list[tuple[str, datetime]]:
        """The permit's events as (name, time), oldest first."""
        self.get(permit_id)
        return [
            (type(e).__name__, e.timestamp)
            for e in self.events.get(permit_id)
            if isinstance(e, PermitApplication.Event)
        ]

    def add_code_listener(self, listener: CodeListener) -> None:
        """Call ``listener(issued)`` with each owner's code at stage and reissue, *before*
        the save: the notifier keeps the link to send (the store keeps only the hash). A
        code whose save then fails is never issued, and the notifier never sees its hash."""
        self._code_listeners.append(listener)

    def _tell_code(self, issued: IssuedCode) -> None:
        for listener in self._code_listeners:
            listener(issued)
