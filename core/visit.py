"""`LaneVisit`: one car at one lane, from arrival to service or departure.

Its id derives from the site, the lane and the visit id the edge gave the car, so every
arrival message about the same car lands on the same aggregate; the arrival ids it has
processed make a redelivered message a duplicate, answered with the earlier outcome.
An `ArrivalReceipt` per arrival id names the visit that decided it, so an id sent again
with another visit (a faulty or hostile edge) is a duplicate too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.values import arrival_receipt_id, visit_id_for


@dataclass(frozen=True, slots=True)
class ArrivalOutcome:
    """What the server decided for one arrival message."""

    arrival_id: str
    outcome: str
    reason: str | None
    permits: tuple[str, ...]


class LaneVisit(Aggregate):
    """A car at a lane: arrived, matched to permits, served or gone."""

    @staticmethod
    def create_id(site: str, lane: str, visit: UUID) -> UUID:
        return visit_id_for(site, lane, visit)

    @event("Arrived")
    def __init__(
        self,
        site: str,
        lane: str,
        visit: UUID,
        arrived_at: datetime,
        arrival_id: str | None = None,
        outcome: str | None = None,
        reason: str | None = None,
        permits: list[str] | None = None,
        plate: str | None = None,
        method: str | None = None,
    ) -> None:
        # The first arrival's outcome travels in the visit's first event: one event less per
        # car to make, store and read. Visits stored before it came record their first
        # arrival in an `ArrivalRecorded` of their own, and replay with these defaults.
        self.site = site
        self.lane = lane
        self.visit = visit
        self.arrived_at = arrived_at
        self.outcomes: dict[str, ArrivalOutcome] = {}
        self.permits: tuple[str, ...] = ()
        self.plate: str | None = None
        self.method: str | None = None
        self.matched_at: datetime | None = None
        self.served_at: datetime | None = None
        self.picked: dict[str, str] = {}
        """Permits the operator picked among the candidates, and who picked each."""
        self.left_at: datetime | None = None
        if arrival_id is not None and outcome is not None:
            self._note(arrival_id, outcome, reason, permits or [], plate, method, arrived_at)

    def outcome_of(self, arrival_id: str) -> ArrivalOutcome | None:
        return self.outcomes.get(arrival_id)

    def record_arrival(
        self,
        arrival_id: str,
        outcome: str,
        reason: str | None,
        permits: Sequence[str],
        plate: str | None,
        method: str | None,
        at: datetime,
    ) -> None:
        """Record what an arrival message led to (idempotent by ``arrival_id``)."""
        if arrival_id in self.outcomes:
            return
        self._arrival_recorded(arrival_id, outcome, reason, list(permits), plate, method, at)

    @event("ArrivalRecorded")
    def _arrival_recorded(
        self,
        arrival_id: str,
        outcome: str,
        reason: str | None,
        permits: list[str],
        plate: str | None,
        method: str | None,
        at: datetime,
    ) -> None:
        self._note(arrival_id, outcome, reason, permits, plate, method, at)

    def _note(
        self,
        arrival_id: str,
        outcome: str,
        reason: str | None,
        permits: list[str],
        plate: str | None,
        method: str | None,
        at: datetime,
    ) -> None:
        self.outcomes[arrival_id] = ArrivalOutcome(arrival_id, outcome, reason, tuple(permits))
        if plate:
            self.plate = plate
        if permits and outcome in ("released", "prestaged"):
            self.permits = tuple(dict.fromkeys((*self.permits, *permits)))
            self.method = method
            if self.matched_at is None:
                self.matched_at = at

    def pick_candidate(
        self,
        permit_id: str,
        by: str,
        candidates: Sequence[str],
        identity: str,
        identity_reason: str | None,
        at: datetime,
    ) -> bool:
        """The operator chose ``permit_id`` among the candidates a plate left open, after the
        KTP check (``identity``: `core.identity.IdentityMethod`). False if already picked."""
        if permit_id in self.picked:
            return False
        self._candidate_picked(permit_id, by, list(candidates), identity, identity_reason, at)
        return True

    @event("CandidatePicked")
    def _candidate_picked(
        self,
        permit_id: str,
        by: str,
        candidates: list[str],
        identity: str,
        identity_reason: str | None,
        at: datetime,
    ) -> None:
        self.picked[permit_id] = by
        self.permits = tuple(dict.fromkeys((*self.permits, permit_id)))
        self.method = "manual"
        if self.matched_at is None:
            self.matched_at = at

    def serve(self, at: datetime) -> None:
        """The last permit of this visit was handed over."""
        if self.served_at is None:
            self._served(at)

    @event("Served")
    def _served(self, at: datetime) -> None:
        self.served_at = at

    def leave(self, at: datetime) -> None:
        """The car left the lane, served or not (the edge's `Departure`)."""
        if self.left_at is None:
            self._left(at)

    @event("Left")
    def _left(self, at: datetime) -> None:
        self.left_at = at


class ArrivalReceipt(Aggregate):
    """One arrival message id, and the visit that decided it.

    Saved in the same transaction as the visit's record of the arrival: the store refuses a
    second receipt for the id, so an arrival id is decided once whatever visit it names.
    """

    @staticmethod
    def create_id(site: str, arrival_id: UUID) -> UUID:
        return arrival_receipt_id(site, arrival_id)

    @event("Received")
    def __init__(self, site: str, arrival_id: UUID, visit_id: UUID) -> None:
        self.site = site
        self.arrival_id = arrival_id
        self.visit_id = visit_id
