"""A permit's audit trail: its events with who did what, and its state at any instant.

The event store is the audit trail (DESIGN.md); this reads it back. Which clock counts:
an event's moment is the store's recorded time (``timestamp``, UTC, when the server saved
it), except for events that carry ``happened_at`` (a handover and a refused handover, which
a mobile team may record offline hours before it syncs): for those the moment it happened
counts. The state at an instant is the permit after the longest run of its events, from the
first, whose moments are all at or before that instant, so the state only ever moves forward
as the instant does (a handover synced late shows from when it happened, unless an event
recorded before it is later still). ``FeePaid.paid_at`` is shown but is the payment
gateway's word, not a clock of ours.

Personal data is shown as the other office routes show it: names masked, the NIK only as its
mask, never a code or a hash; a field not listed here (a contact, a field added later) is
left out rather than shown by accident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import DomainEventProtocol
from fastapi import Query
from pydantic import AwareDatetime

from api.security import Caller, ForbiddenError
from core.codes import mask_name
from core.errors import PermitError, PermitNotFoundError
from core.permit import PermitApplication
from core.personal import ERASED
from core.snapshot import PermitSnapshot

CLOCK = (
    "Waktu simpan server (UTC), atau happened_at bila event membawanya (serah terima) / "
    "the server's recorded time (UTC), or happened_at where the event carries one (handovers)"
)
AtQuery = Annotated[
    AwareDatetime | None,
    Query(
        description="Saat dengan zona waktu (RFC 3339), mis. 2026-12-01T10:32:00+08:00 / "
        "an instant with its zone offset; a time without one is refused (422)",
    ),
]

# Fields an event may show as they are besides `by`, `lane` and `happened_at` (which every
# `PermitEvent` has): where, which step, why.
SHOWN = frozenset(
    {
        "window", "visit", "method", "channel", "recipient", "team", "date", "place", "slot",
        "site", "reference", "number", "kind", "plate", "nik_masked", "amount_rupiah",
        "paid_at", "reason", "note", "expires_at", "handover_id", "delegate_id", "identity",
        "identity_reason",
    }
)  # fmt: skip
# Names, shown masked under another key, as the read models and the API hold them.
MASKED = {"applicant_name": "holder", "name": "delegate"}


class NotYetSubmittedError(PermitError):
    """An instant before the permit's first event: there was no permit to show."""

    code = "not_yet_submitted"
    status = 404

    def __init__(self, permit_id: UUID, at: datetime, submitted_at: datetime) -> None:
        super().__init__(
            permit_id,
            f"Permohonan belum ada pada {at.isoformat()} (diajukan {submitted_at.isoformat()}) / "
            f"the application did not exist yet at {at.isoformat()} "
            f"(submitted {submitted_at.isoformat()})",
        )
        self.at = at
        self.submitted_at = submitted_at


class EventStore(Protocol):
    """What this reads: an eventsourcing application (the server's service, or a log)."""

    @property
    def repository(self) -> Repository[UUID]: ...

    @property
    def events(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class PermitEvent:
    """One event of a permit, with who did what, and the permit as it stood after it."""

    version: int
    name: str
    recorded_at: datetime
    happened_at: datetime | None
    at: datetime
    """The moment that counts (``happened_at`` when the event has one, else ``recorded_at``)."""
    by: str | None
    lane: str | None
    details: Mapping[str, object]
    state: PermitSnapshot


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _details(event: object) -> dict[str, object]:
    shown: dict[str, object] = {}
    for name, value in vars(event).items():
        if name in SHOWN:
            shown[name] = _plain(value)
        elif name in MASKED and isinstance(value, str):
            # An erased name reads as erased, not as a mask of the marker.
            shown[MASKED[name]] = value if value == ERASED else mask_name(value)
    return shown


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def permit_events(store: EventStore, permit_id: UUID) -> list[PermitEvent]:
    """The permit's events, oldest first, each with the state after it (one read, one fold)."""
    events: Sequence[DomainEventProtocol[UUID]] = list(store.events.get(permit_id))
    if not events:
        raise PermitNotFoundError(permit_id)
    permit: PermitApplication | None = None
    trail: list[PermitEvent] = []
    for event in events:
        if not isinstance(event, PermitApplication.Event):
            continue
        permit = event.mutate(permit)  # the library's own fold, as `repository.get` does
        if permit is None:  # pragma: no cover - a permit is never discarded
            break
        happened = getattr(event, "happened_at", None)
        recorded = _aware(event.timestamp)
        happened_at = _aware(happened) if isinstance(happened, datetime) else None
        by, lane = getattr(event, "by", None), getattr(event, "lane", None)
        trail.append(
            PermitEvent(
                version=event.originator_version,
                name=type(event).__name__,
                recorded_at=recorded,
                happened_at=happened_at,
                at=happened_at or recorded,
                by=by if isinstance(by, str) else None,
                lane=lane if isinstance(lane, str) else None,
                details=_details(event),
                state=PermitSnapshot.of(permit),
            )
        )
    if not trail:
        raise PermitNotFoundError(permit_id)
    return trail


def events_until(trail: Sequence[PermitEvent], at: datetime) -> list[PermitEvent]:
    """The events that made the permit as it stood at ``at`` (see the module's doc).

    Raises `NotYetSubmittedError` for an instant before its first event.
    """
    if at.tzinfo is None:
        raise ValueError("a time without a zone is ambiguous")
    made: list[PermitEvent] = []
    for event in trail:
        if event.at > at:
            break
        made.append(event)
    if not made:
        raise NotYetSubmittedError(trail[0].state.id, at, trail[0].at)
    return made


def state_at(store: EventStore, permit_id: UUID, at: datetime) -> PermitSnapshot:
    """The permit as it stood at ``at`` (an aware time), replayed from the event store."""
    version = events_until(permit_events(store, permit_id), at)[-1].version
    try:
        permit: object = store.repository.get(permit_id, version=version)
    except AggregateNotFoundError:  # pragma: no cover - the events were just read
        raise PermitNotFoundError(permit_id) from None
    if not isinstance(permit, PermitApplication):
        raise PermitNotFoundError(permit_id)
    return PermitSnapshot.of(permit)


def require_office(caller: Caller) -> None:
    """The audit trail is the office's: officers and admins, not a lane's operator."""
    if caller.role not in ("officer", "admin"):
        raise ForbiddenError(
            f"Peran {caller.role} tidak boleh melihat riwayat / role {caller.role} may not see "
            "the history (perlu / needs: admin, officer)"
        )
