"""The window's commands that span a car's visit and a permit: the operator's pick among the
permits a plate left open, after the KTP check.

A plate read is ambiguous (several READY plates are as near) or only near: the console lists
the candidates, the operator checks the KTP, and picks one. The pick is a `CandidatePicked`
event on the car's `LaneVisit` (who picked, among which permits, how identity was checked),
saved in one transaction with the permit's release to the window, so neither is kept
without the other.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from core.errors import ConcurrentChangeError, InvalidTransitionError, PermitNotFoundError
from core.identity import IdentityCheck, Verdict
from core.service import MAX_ATTEMPTS, PermitService
from core.values import Recipient, ReleaseMethod, visit_id_for
from core.visit import LaneVisit


@dataclass(frozen=True, slots=True)
class Identified:
    """Whose NIK was presented for a permit: the holder's, a delegate's, or nobody's."""

    verdict: Verdict
    recipient: Recipient | None = None
    delegate_id: str | None = None


def identify(service: PermitService, permit_id: UUID, presented: str) -> Identified:
    """Check ``presented`` against the holder and then each delegate of the permit.

    `Verdict.TAIL_UNAVAILABLE` only when no one matched and some hash had no tail to check.
    """
    delegates = list(service.peek(permit_id).delegates)
    unavailable = False
    for delegate_id in (None, *delegates):
        found = service.check_identity(permit_id, presented, delegate_id)
        if found is Verdict.MATCH:
            recipient = Recipient.OWNER if delegate_id is None else Recipient.DELEGATE
            return Identified(found, recipient, delegate_id)
        if found is Verdict.UNREADABLE:
            return Identified(found)
        unavailable = unavailable or found is Verdict.TAIL_UNAVAILABLE
    return Identified(Verdict.TAIL_UNAVAILABLE if unavailable else Verdict.MISMATCH)


@dataclass(frozen=True, slots=True)
class Pick:
    """Where the picked permit went: the visit (the edge's id, or a new one) and whether this
    request released it (False: a repeat of the same pick)."""

    visit: UUID
    released: bool


def pick_candidate(
    service: PermitService,
    *,
    site: str,
    lane: str,
    window: str,
    visit: UUID | None,
    permit_id: UUID,
    candidates: Sequence[str],
    by: str,
    identity: IdentityCheck,
) -> Pick:
    """Record the operator's pick on the car's visit and release the permit to the window.

    ``visit`` is the edge's id of the car's visit (a new visit when None: the operator's own
    lookup). The permit must be READY at ``site`` (or released to this visit already).
    """
    edge_visit = visit or uuid.uuid4()
    visit_id = visit_id_for(site, lane, edge_visit)
    for _ in range(MAX_ATTEMPTS):
        now = service.clock()
        permit = service.peek(permit_id)
        if permit.site != site:
            raise PermitNotFoundError(permit_id)
        if not permit.waits_for_pickup(now):  # a code past its expiry takes it off the plates
            raise InvalidTransitionError(permit_id, "pick", permit.status.value, "ready")
        car = _visit(service, visit_id) or LaneVisit(site, lane, edge_visit, now)
        released = permit.release(lane, window, edge_visit, ReleaseMethod.MANUAL, None)
        car.pick_candidate(
            str(permit_id), by, [*candidates], identity.method.value, identity.reason, now
        )
        try:
            service.save(car, permit)
        except IntegrityError:
            service.forget(visit_id)
            service.forget(permit_id)
            continue
        return Pick(edge_visit, released)
    raise ConcurrentChangeError(permit_id)


def _visit(service: PermitService, visit_id: UUID) -> LaneVisit | None:
    """A private copy of the visit (the arrival desk may be changing the cached one)."""
    try:
        found: LaneVisit = service.repository.get(visit_id)
    except AggregateNotFoundError:
        return None
    return copy.deepcopy(found)
