"""The arrival desk: what an arrival message at a lane means for the permits waiting there.

A valid pickup code releases its permit. A plate alone pre-stages the READY permits with that
plate (the runner fetches them, the operator confirms) or releases them, as the site's
policy says. The visit's record of the arrival, the arrival's receipt and the permits'
releases are saved in one transaction, so a crash never leaves one without the other, and
a redelivered arrival id (whatever visit it names) is answered with the outcome it had the
first time.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from core.contract import AckOutcome, Arrival, Departure
from core.errors import CodeRefusedError, ConcurrentChangeError, PermitError
from core.permit import PermitApplication
from core.service import MAX_ATTEMPTS, PermitService
from core.snapshot import PermitSnapshot
from core.values import CodeHolder, PermitStatus, ReleaseMethod, visit_id_for
from core.visit import ArrivalOutcome, ArrivalReceipt, LaneVisit


class ReleasePolicy(StrEnum):
    """What may release a permit to the window without an operator's confirmation."""

    CODE = "code"
    CODE_OR_PLATE = "code_or_plate"
    CODE_AND_PLATE = "code_and_plate"


@dataclass(frozen=True, slots=True)
class PlateCandidates:
    """The read models' answer for a read plate: how it matched and which permits wait."""

    kind: str  # exact | near | ambiguous | none
    plate: str | None
    permit_ids: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class ArrivalInput:
    """One arrival to decide, with its lane's window and the plate's candidates."""

    arrival: Arrival
    window: str
    plate: PlateCandidates | None = None


@dataclass(frozen=True, slots=True)
class DeskDecision:
    """What the desk decided for one arrival; the bridge turns it into an ack and a release."""

    arrival_id: UUID
    visit_id: UUID
    outcome: AckOutcome
    reason: str | None
    permits: tuple[str, ...]
    released: tuple[str, ...]
    duplicate_of: AckOutcome | None = None
    released_permits: tuple[PermitSnapshot, ...] = ()
    """The released permits as they are now, for the lane display."""


class ArrivalDesk:
    """Decides and records what each arrival releases, exactly once per arrival id."""

    def __init__(self, service: PermitService, policy: ReleasePolicy) -> None:
        self.service = service
        self.policy = policy
        # Visits have locks of their own: a permit's lock is never held while waiting for
        # another lock, so the two sets cannot deadlock.
        self._locks = tuple(threading.Lock() for _ in range(64))

    def decide(
        self, arrival: Arrival, window: str, plate: PlateCandidates | None = None
    ) -> DeskDecision:
        """Decide, release and record; a repeated arrival id gets its first outcome back."""
        visit_id = visit_id_for(arrival.site, arrival.lane, arrival.visit)
        with self._locks[visit_id.int % len(self._locks)]:
            return self._decide(visit_id, ArrivalInput(arrival, window, plate))

    def decide_many(self, batch: Sequence[ArrivalInput]) -> list[DeskDecision]:
        """Decide several arrivals and save them in one transaction (a group commit).

        One commit per arrival caps a SQLite store at its fsync rate; a batch shares one.
        Two arrivals of the same visit or id, or touching the same permit, go in separate
        rounds.
        If the shared save loses a race, each arrival is decided again on its own.
        """
        decisions: dict[int, DeskDecision] = {}
        pending = list(enumerate(batch))
        while pending:
            this_round: list[tuple[int, ArrivalInput, UUID]] = []
            later: list[tuple[int, ArrivalInput]] = []
            visits: set[UUID] = set()
            arrival_ids: set[UUID] = set()
            for index, item in pending:
                visit_id = visit_id_for(item.arrival.site, item.arrival.lane, item.arrival.visit)
                if visit_id in visits or item.arrival.id in arrival_ids:
                    later.append((index, item))
                else:
                    visits.add(visit_id)
                    arrival_ids.add(item.arrival.id)
                    this_round.append((index, item, visit_id))
            later += self._decide_round(this_round, decisions)
            pending = later
        return [decisions[index] for index in range(len(batch))]

    def _decide_round(
        self, items: list[tuple[int, ArrivalInput, UUID]], decisions: dict[int, DeskDecision]
    ) -> list[tuple[int, ArrivalInput]]:
        stripes = sorted({visit_id.int % len(self._locks) for _, _, visit_id in items})
        with contextlib.ExitStack() as held:
            for stripe in stripes:
                held.enter_context(self._locks[stripe])
            deferred: list[tuple[int, ArrivalInput]] = []
            prepared: list[tuple[int, ArrivalInput, UUID, DeskDecision, list[Aggregate]]] = []
            touched: set[UUID] = set()
            # A visit or an arrival id's receipt not in memory is taken for new without
            # reading the store, and a visit in memory as it is there: whether this process
            # is the store's only writer or one of several servers. If the visit was not
            # new, or another server recorded more on it, the shared save fails on its
            # version and each arrival is decided again below, reading the store. (With
            # several servers, reading both for every arrival cost two queries each.)
            for index, item, visit_id in items:
                decision, changed = self._prepare(visit_id, item, trust_memory=True)
                permits = {a.id for a in changed if isinstance(a, PermitApplication)}
                if permits & touched:
                    self.service.forget(visit_id)  # its cached copy took an unsaved event
                    deferred.append((index, item))
                    continue
                touched |= permits
                prepared.append((index, item, visit_id, decision, changed))
            try:
                self.service.save(*(a for *_, changed in prepared for a in changed))
            except IntegrityError:
                for _, _, visit_id, _, changed in prepared:
                    self.service.forget(visit_id)
                    for aggregate in changed:
                        self.service.forget(aggregate.id)
                for index, item, visit_id, _, _ in prepared:
                    decisions[index] = self._decide(visit_id, item)
            else:
                for index, _, _, decision, _ in prepared:
                    decisions[index] = decision
                self._remember_visits(changed for *_, changed in prepared)
        return deferred

    def depart(self, departure: Departure) -> AckOutcome:
        """Record that a visit's car left the lane: `AckOutcome.LEFT`, or DUPLICATE if it
        was recorded before. A departure that comes before its visit's arrival (another
        replica took the arrival, or it is still on its way) makes the visit, already gone,
        and the arrival is recorded on it later."""
        visit_id = visit_id_for(departure.site, departure.lane, departure.visit)
        with self._locks[visit_id.int % len(self._locks)]:
            for _ in range(MAX_ATTEMPTS):
                visit = self._visit(visit_id, trust_memory=False)
                if visit is None:
                    visit = LaneVisit(departure.site, departure.lane, departure.visit, departure.at)
                elif visit.left_at is not None:
                    return AckOutcome.DUPLICATE
                visit.leave(departure.at)
                try:
                    self.service.save(visit)
                except IntegrityError:
                    self.service.forget(visit_id)
                    continue
                return AckOutcome.LEFT
        raise ConcurrentChangeError(visit_id)

    def _remember_visits(self, saved: Iterable[list[Aggregate]]) -> None:
        """Keep saved visits in memory for their next arrival: the library does so only
        for a sole writer (it does not cache what it saves while fast-forwarding)."""
        cache = self.service.repository.cache
        if cache is None or self.service.sole_writer:
            return
        for changed in saved:
            for aggregate in changed:
                if isinstance(aggregate, LaneVisit):
                    cache.put(aggregate.id, aggregate)

    def _decide(self, visit_id: UUID, item: ArrivalInput) -> DeskDecision:
        for _ in range(MAX_ATTEMPTS):
            decision, changed = self._prepare(visit_id, item)
            try:
                self.service.save(*changed)
            except IntegrityError:
                for aggregate in changed:
                    self.service.forget(aggregate.id)
                self.service.forget(visit_id)
                continue
            return decision
        raise ConcurrentChangeError(visit_id)

    def _prepare(
        self, visit_id: UUID, item: ArrivalInput, *, trust_memory: bool = False
    ) -> tuple[DeskDecision, list[Aggregate]]:
        """The decision and the aggregates it changed (not saved yet)."""
        arrival, window, plate = item.arrival, item.window, item.plate
        visit = self._visit(visit_id, trust_memory)
        earlier = visit.outcome_of(str(arrival.id)) if visit is not None else None
        if earlier is None:
            # Not this visit's: the id may still have been decided with another visit.
            receipt = self._receipt(arrival, trust_memory)
            if receipt is not None and receipt.visit_id != visit_id:
                decided_in = self._visit(receipt.visit_id, trust_memory=False)
                if decided_in is not None:
                    visit_id, earlier = receipt.visit_id, decided_in.outcome_of(str(arrival.id))
        if earlier is not None:
            return self._duplicate(arrival, visit_id, earlier), []
        outcome, reason, permits, method = self._match(
            arrival, plate, visit.permits if visit is not None else ()
        )
        released = self._release(permits, arrival, window, method, outcome)
        permit_ids = [str(p.id) for p in permits]
        recorded = (
            str(arrival.id), outcome.value, reason, permit_ids,
            plate.plate if plate else None, method.value if method else None,
        )  # fmt: skip
        if visit is None:
            visit = LaneVisit(arrival.site, arrival.lane, arrival.visit, arrival.at, *recorded)
        else:
            visit.record_arrival(*recorded, arrival.at)
        receipt = ArrivalReceipt(arrival.site, arrival.id, visit_id)
        decision = DeskDecision(
            arrival.id, visit_id, outcome, reason,
            tuple(permit_ids), tuple(str(p.id) for p in released),
            released_permits=tuple(PermitSnapshot.of(p) for p in released),
        )  # fmt: skip
        return decision, [visit, receipt, *released]

    def _duplicate(self, arrival: Arrival, visit_id: UUID, earlier: ArrivalOutcome) -> DeskDecision:
        first = AckOutcome(earlier.outcome)
        return DeskDecision(
            arrival.id, visit_id, AckOutcome.DUPLICATE,
            f"sudah diproses / already processed: {earlier.outcome}",
            earlier.permits, (), first,
            released_permits=(
                self._at_window(earlier.permits, arrival.visit)
                if first is AckOutcome.RELEASED else ()
            ),
        )  # fmt: skip

    def _at_window(self, permit_ids: Sequence[str], visit: UUID) -> tuple[PermitSnapshot, ...]:
        """The permits released to ``visit`` and not handed over yet.

        An arrival sent again (its ack never reached the edge) may mean the release never
        reached the lane's display either: the bridge shows these again.
        """
        waiting = []
        for permit_id in permit_ids:
            try:
                permit = self.service.peek(UUID(permit_id))
            except PermitError:
                continue
            if permit.status is PermitStatus.RELEASED and permit.visit == visit:
                waiting.append(PermitSnapshot.of(permit))
        return tuple(waiting)

    def _visit(self, visit_id: UUID, trust_memory: bool) -> LaneVisit | None:
        if trust_memory:
            cached = self.service.cached(visit_id)
            return cached if isinstance(cached, LaneVisit) else None
        try:
            visit: LaneVisit = self.service.repository.get(visit_id)
        except AggregateNotFoundError:
            return None
        return visit

    def _receipt(self, arrival: Arrival, trust_memory: bool) -> ArrivalReceipt | None:
        """The arrival id's receipt; a sole writer looks only in memory (see `_visit`)."""
        receipt_id = ArrivalReceipt.create_id(arrival.site, arrival.id)
        if trust_memory:
            cached = self.service.cached(receipt_id)
            return cached if isinstance(cached, ArrivalReceipt) else None
        try:
            receipt: ArrivalReceipt = self.service.repository.get(receipt_id)
        except AggregateNotFoundError:
            return None
        return receipt

    def _match(
        self, arrival: Arrival, plate: PlateCandidates | None, visit_permits: tuple[str, ...]
    ) -> tuple[AckOutcome, str | None, list[PermitApplication], ReleaseMethod | None]:
        holder: CodeHolder | None = None
        if arrival.code_sha256 is not None:
            try:
                holder = self.service.resolve_code(arrival.code_sha256, site=arrival.site)
            except CodeRefusedError as refused:
                if refused.reason == "handed_over" and str(refused.permit_id) in visit_permits:
                    # The code shown after this very car was served: nothing more to do.
                    return (
                        AckOutcome.RELEASED,
                        "sudah diserahkan di kunjungan ini / already handed over in this visit",
                        [], None,
                    )  # fmt: skip
                return AckOutcome.REJECTED, refused.message, [], None
        if holder is not None:
            permit = self.service.peek(holder.permit_id, just_read=True)
            if self.policy is ReleasePolicy.CODE_AND_PLATE and (
                plate is None or holder.permit_id not in plate.permit_ids
            ):
                return (
                    AckOutcome.PRESTAGED,
                    "kode sah, plat belum cocok / valid code, plate not matched yet",
                    [permit], ReleaseMethod.CODE,
                )  # fmt: skip
            return AckOutcome.RELEASED, None, [permit], ReleaseMethod.CODE
        if plate is None or plate.kind == "none" or not plate.permit_ids:
            return AckOutcome.NO_MATCH, "tidak ada izin siap / no ready permit matches", [], None
        if plate.kind == "ambiguous":
            return (
                AckOutcome.AMBIGUOUS,
                "plat mirip beberapa izin, cek petugas / plate near several permits",
                [], None,
            )  # fmt: skip
        permits = [self.service.peek(pid) for pid in plate.permit_ids]
        # A code past its expiry takes its permit off the plates at once, not only when the
        # expiry job has recorded it (the read models' candidates lag behind that too).
        now = self.service.clock()
        waiting = [p for p in permits if p.waits_for_pickup(now)]
        if not waiting:
            return AckOutcome.NO_MATCH, "izin tidak lagi siap / permit no longer ready", [], None
        if self.policy is ReleasePolicy.CODE_OR_PLATE and plate.kind == "exact":
            return AckOutcome.RELEASED, None, waiting, ReleaseMethod.PLATE
        return (
            AckOutcome.PRESTAGED,
            "plat dikenali, tunjukkan kode atau konfirmasi petugas / "
            "plate recognised, show the code or the operator confirms",
            waiting, ReleaseMethod.PLATE,
        )  # fmt: skip

    def _release(
        self,
        permits: Sequence[PermitApplication],
        arrival: Arrival,
        window: str,
        method: ReleaseMethod | None,
        outcome: AckOutcome,
    ) -> list[PermitApplication]:
        """Apply the releases to the permits; they are saved with the visit by the caller."""
        if outcome is not AckOutcome.RELEASED or method is None:
            return []
        released = []
        for permit in permits:
            try:
                changed = permit.release(
                    arrival.lane, window, arrival.visit, method, arrival.code_sha256
                )
            except PermitError:
                continue
            if changed:
                released.append(permit)
        return released
