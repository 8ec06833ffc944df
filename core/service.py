"""`PermitService`: the application service every process talks to for permit changes.

Methods take and return primitives and our dataclasses. Each command loads the permit, lets
the aggregate decide, and saves; when another writer saved first (optimistic concurrency),
the command is tried again on the fresh permit, so the rules see what really happened. A
handover that loses such a race is refused and kept on the permit as a conflict.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from core.code_index import PickupCodeIndex
from core.codes import PickupCode, hash_code_text, mask_nik, nik_hash
from core.contact import Contact
from core.errors import (
    AlreadyHandedOverError,
    CodeRefusedError,
    ConcurrentChangeError,
    InvalidInputError,
    PermitError,
    PermitNotFoundError,
)
from core.identity import IdentityCheck, Verdict, known_hashes, nik_tail_hash, verdict
from core.permit import PermitApplication
from core.plates import normalise_plate
from core.settings import ServiceSettings, StoreSettings
from core.snapshot import PermitSnapshot
from core.subject_keys import PersonalDataApplication
from core.values import (
    CodeHolder,
    ExpiryCause,
    IssuedCode,
    Recipient,
    ReleaseMethod,
    code_index_id,
    permit_id_for,
)

T = TypeVar("T")
Clock = Callable[[], datetime]
SaveListener = Callable[[int], None]
CodeListener = Callable[[IssuedCode], None]
MAX_ATTEMPTS = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


class PermitLog(PersonalDataApplication):
    """The permit store opened for reading its notification log only (rebuilds, tools)."""

    name = "drivethru"

    def __init__(self, store: StoreSettings) -> None:
        super().__init__(store, env=store.eventsourcing_env())


class PermitService(PersonalDataApplication):
    """Permit applications from submission to handover, on the configured event store."""

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

    # -- intake and back office -------------------------------------------------------------

    def submit(
        self,
        *,
        site: str,
        reference: str,
        kind: str,
        applicant_name: str,
        nik: str,
        plate: str | None = None,
        number: str | None = None,
        contact: Contact | None = None,
    ) -> UUID:
        """Submit an application; the same reference at the same site again returns its id.

        A ``contact`` is recorded with it, in the same save (`ContactRecorded`).
        """
        permit_id = permit_id_for(site, reference)
        try:
            self.get(permit_id)
        except PermitNotFoundError:
            pass
        else:
            return permit_id
        if not applicant_name.strip():
            raise InvalidInputError(None, "Nama pemohon wajib / applicant name is required")
        try:
            hashed_nik = nik_hash(nik, self._nik_key)
        except ValueError as error:
            raise InvalidInputError(None, str(error)) from None
        permit = PermitApplication(
            site=site,
            reference=reference,
            number=number or reference,
            kind=kind,
            applicant_name=applicant_name.strip(),
            nik_hash=hashed_nik,
            nik_masked=mask_nik(nik),
            plate=normalise_plate(plate) if plate else None,
            nik_tail_hash=nik_tail_hash(nik, self._nik_key),
        )
        if contact is not None:
            permit.record_contact(contact)
        # A concurrent submit of the same reference may win; the id is the same either way.
        with contextlib.suppress(IntegrityError):
            self.save(permit)
        return permit.id

    def record_contact(self, permit_id: UUID, contact: Contact) -> bool:
        """Record or change the citizen's contact; False when it was already that."""
        return self._change(permit_id, lambda p: p.record_contact(contact))

    def contact_of(self, permit_id: UUID) -> Contact | None:
        with self._lock(permit_id):
            return self._permit(permit_id).contact

    def add_code_listener(self, listener: CodeListener) -> None:
        """Call ``listener(issued)`` with each owner's code at stage and reissue, *before*
        the save: the notifier keeps the link to send (the store keeps only the hash). A
        code whose save then fails is never issued, and the notifier never sees its hash."""
        self._code_listeners.append(listener)

    def _tell_code(self, issued: IssuedCode) -> None:
        for listener in self._code_listeners:
            listener(issued)

    def verify_documents(self, permit_id: UUID, by: str) -> None:
        self._change(permit_id, lambda p: p.verify_documents(by))

    def request_correction(self, permit_id: UUID, by: str, reason: str) -> None:
        self._change(permit_id, lambda p: p.request_correction(by, reason))

    def resubmit_documents(self, permit_id: UUID, note: str) -> None:
        self._change(permit_id, lambda p: p.resubmit_documents(note))

    def assess_fee(self, permit_id: UUID, by: str, amount_rupiah: int) -> None:
        self._change(permit_id, lambda p: p.assess_fee(by, amount_rupiah))

    def record_payment(
        self, permit_id: UUID, reference: str, amount_rupiah: int, paid_at: datetime | None = None
    ) -> bool:
        """Record a payment gateway's callback; a repeated reference is a no-op (False)."""
        when = paid_at or self.clock()
        return self._change(permit_id, lambda p: p.record_payment(reference, amount_rupiah, when))

    def approve(self, permit_id: UUID, by: str) -> None:
        self._change(permit_id, lambda p: p.approve(by))

    def reject(self, permit_id: UUID, by: str, reason: str) -> None:
        self._change(permit_id, lambda p: p.reject(by, reason))

    def print_document(self, permit_id: UUID, by: str) -> None:
        self._change(permit_id, lambda p: p.print_document(by))

    @staticmethod
    def _index_for(code: PickupCode, permit_id: UUID) -> Callable[[], list[Aggregate]]:
        return lambda: [PickupCodeIndex(code_sha256=code.sha256, permit_id=permit_id)]

    def stage(
        self, permit_id: UUID, by: str, slot: str, *, code: PickupCode | None = None
    ) -> IssuedCode:
        """Stage the printed permit in ``slot`` and issue its pickup code: it is READY.

        ``code`` is for codes made elsewhere (a migration, the demo's repeatable run); a code
        already in use anywhere is refused by the store, as its index id is taken.
        """
        code = code or PickupCode.generate()
        now = self.clock()
        expires_at = now + self.settings.code_ttl
        issued = IssuedCode(permit_id, code.text, code.sha256, expires_at)
        self._tell_code(issued)
        self._change(
            permit_id,
            lambda p: p.stage(by, slot, code.sha256, expires_at, now),
            self._index_for(code, permit_id),
        )
        return issued

    def reissue_code(self, permit_id: UUID, by: str, reason: str) -> IssuedCode:
        """A new pickup code for a lost, leaked or expired one; the old code stops working at
        once, and an expired permit is READY again until the new code's expiry."""
        code = PickupCode.generate()
        now = self.clock()
        expires_at = now + self.settings.code_ttl
        issued = IssuedCode(permit_id, code.text, code.sha256, expires_at)
        self._tell_code(issued)
        self._change(
            permit_id,
            lambda p: p.reissue_code(by, code.sha256, expires_at, reason, now),
            self._index_for(code, permit_id),
        )
        return issued

    def authorise_delegate(
        self, permit_id: UUID, *, name: str, nik: str, expires_at: datetime
    ) -> IssuedCode:
        """Record a surat kuasa; the delegate gets a pickup code of their own."""
        try:
            hashed_nik = nik_hash(nik, self._nik_key)
        except ValueError as error:
            raise InvalidInputError(permit_id, str(error)) from None
        tail = nik_tail_hash(nik, self._nik_key)
        code = PickupCode.generate()
        delegate_id = code.sha256[:12]
        now = self.clock()
        self._change(
            permit_id,
            lambda p: p.authorise_delegate(
                delegate_id, name, hashed_nik, mask_nik(nik), expires_at, code.sha256, now, tail
            ),
            self._index_for(code, permit_id),
        )
        return IssuedCode(permit_id, code.text, code.sha256, expires_at, Recipient.DELEGATE)

    def check_nik(self, permit_id: UUID, nik: str, delegate_id: str | None = None) -> bool:
        """Whether ``nik`` is the holder's (or the named delegate's), without storing it."""
        try:
            hashed = nik_hash(nik, self._nik_key)
        except ValueError:
            return False
        with self._lock(permit_id):
            permit = self._permit(permit_id)
            if delegate_id is None:
                return hmac.compare_digest(hashed, permit.nik_hash)
            delegate = permit.delegates.get(delegate_id)
            return delegate is not None and hmac.compare_digest(delegate.nik_hash, hashed)

    def check_identity(
        self, permit_id: UUID, presented: str, delegate_id: str | None = None
    ) -> Verdict:
        """Whether ``presented`` (a whole NIK or its last 6 digits) is the holder's or the
        named delegate's: `core.identity.verdict`. An unknown delegate is a mismatch."""
        with self._lock(permit_id):
            known = known_hashes(self._permit(permit_id), delegate_id)
        return Verdict.MISMATCH if known is None else verdict(presented, known, self._nik_key)

    # -- pickup -----------------------------------------------------------------------------

    def resolve_code(self, code: str, *, site: str | None = None) -> CodeHolder:
        """Who a pickup code (its text or its SHA-256) speaks for, if it may release now."""
        code_sha256 = code if len(code) == 64 else hash_code_text(PickupCode.parse(code).text)
        # An index never changes once registered: a cached one needs no fast-forward (a
        # store read per arrival when several servers share the store).
        index = self.cached(code_index_id(code_sha256))
        if not isinstance(index, PickupCodeIndex):
            try:
                index = self.repository.get(code_index_id(code_sha256))
            except AggregateNotFoundError:
                raise CodeRefusedError(
                    None, "unknown", "Kode tidak dikenal / unknown code"
                ) from None
        with self._lock(index.permit_id):
            permit = self._permit(index.permit_id)
            if site is not None and permit.site != site:
                raise CodeRefusedError(
                    permit.id,
                    "wrong_site",
                    f"Izin ini diambil di {permit.site} / this permit is collected at "
                    f"{permit.site}",
                )
            return permit.check_code_usable(code_sha256, self.clock())

    def release(
        self,
        permit_id: UUID,
        *,
        lane: str,
        window: str,
        visit: UUID,
        method: ReleaseMethod,
        code_sha256: str | None = None,
    ) -> bool:
        """Release a READY permit to a lane's window; False if this visit already has it."""
        return self._change(
            permit_id, lambda p: p.release(lane, window, visit, method, code_sha256)
        )

    def return_to_storage(
        self, permit_id: UUID, by: str, reason: str, *, at_lane: str | None = None
    ) -> None:
        """Back to its slot; with ``at_lane``, only if it was released to that lane."""
        self._change(permit_id, lambda p: p.return_to_storage(by, reason, at_lane))

    def hand_over(
        self,
        permit_id: UUID,
        *,
        handover_id: str,
        by: str,
        recipient: Recipient,
        id_checked: bool,
        channel: str,
        happened_at: datetime | None = None,
        delegate_id: str | None = None,
        at_lane: str | None = None,
        identity: IdentityCheck | None = None,
    ) -> bool:
        """Record the handover, exactly once whatever the races; False for a retry.

        A handover refused because the permit went to someone else first is kept on the
        permit as a conflict before `AlreadyHandedOverError` is raised. With ``at_lane``
        (a window's handover) the permit must have been released to that lane.
        """
        when = happened_at or self.clock()
        try:
            return self._change(
                permit_id,
                lambda p: p.hand_over(
                    handover_id,
                    by,
                    recipient,
                    id_checked,
                    channel,
                    when,
                    delegate_id,
                    at_lane,
                    identity,
                ),
            )
        except AlreadyHandedOverError as refused:
            reason = f"already handed over by {refused.by} ({refused.handover_id})"
            self._change(
                permit_id,
                lambda p: p.record_handover_conflict(handover_id, by, channel, reason, when),
            )
            raise

    def record_conflict(
        self,
        permit_id: UUID,
        *,
        handover_id: str,
        by: str,
        channel: str,
        reason: str,
        happened_at: datetime,
    ) -> None:
        """Keep a refused handover on the permit for the back office to resolve."""
        self._change(
            permit_id,
            lambda p: p.record_handover_conflict(handover_id, by, channel, reason, happened_at),
        )

    def assign_to_team(self, permit_id: UUID, by: str, team: str, date: str, place: str) -> None:
        self._change(permit_id, lambda p: p.assign_to_team(by, team, date, place))

    def unassign_from_team(self, permit_id: UUID, by: str) -> None:
        self._change(permit_id, lambda p: p.unassign_from_team(by))

    def cancel(self, permit_id: UUID, by: str, reason: str) -> None:
        self._change(permit_id, lambda p: p.cancel(by, reason))

    def erase_personal_data(self, permit_id: UUID, by: str, reason: str) -> bool:
        """Erase the subject's personal data: a `DataErased` event saying why, then their key
        is deleted, so every sealed field of every event about them reads `ERASED`.

        Asked again, it records nothing and deletes the key if a crash left it (False).
        """
        recorded = self._change(permit_id, lambda p: p.erase_personal_data(by, reason))
        self.subject_keys.erase(permit_id.hex)
        return recorded

    def expire(self, permit_id: UUID, reason: str) -> None:
        self._change(permit_id, lambda p: p.expire(reason))

    def expire_if_due(
        self, permit_id: UUID, uncollected_after: timedelta | None
    ) -> ExpiryCause | None:
        """Record the permit's expiry if one is due on this service's clock; None if not.

        Asked again (the next run of the expiry job, a second server), it records nothing.
        """
        now = self.clock()

        def expire(permit: PermitApplication) -> ExpiryCause | None:
            cause = permit.due_expiry(now, uncollected_after)
            if cause is ExpiryCause.CODE:
                permit.expire_code(now)
            elif cause is ExpiryCause.UNCOLLECTED and uncollected_after is not None:
                permit.expire_uncollected(now, uncollected_after)
            return cause

        return self._change(permit_id, expire)


__all__ = [
    "CodeRefusedError",
    "PermitError",
    "PermitService",
    "PermitSnapshot",
    "utc_now",
]
