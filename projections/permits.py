"""Folding permit events into read-model rows, one page of notifications at a time.

The fold is plain Python over dicts: a page's events are applied in memory to the rows they
touch, then written with a handful of ``executemany`` calls in the page's transaction. That
keeps catch-up well above the per-event-transaction rate (DESIGN.md, "Storage").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoder

from core.codes import mask_name
from core.permit_states import CLOSING, STATUS_AFTER, TOPICS, known
from core.personal import (
    ERASED,
    PERSONAL_FIELDS,
    SEALED_TYPE,
    SealedText,
    SubjectKeys,
    unseal_state,
)
from projections.arrivals import PageArrivals, visit_event_name
from projections.lane_visits import VISIT_TOPICS, PageVisits
from projections.log import Entry, originator_key
from projections.schema import PERMIT_COLUMNS

Row = dict[str, Any]
_AGGREGATE = "PermitApplication."
ERASED_PLATES_TOPIC = "core.retention:ErasedPlates.DataErased"
# The subject a sealed field names in its stored text (`core.personal.seal`).
_SEALED_SUBJECT = re.compile(rb'"_data_":"v1:([0-9a-f]{32}):')

# Which timestamp column each event sets.
_STAGE_COLUMN: dict[str, str] = {
    "Submitted": "submitted_at",
    "DocumentsVerified": "verified_at",
    "FeeAssessed": "fee_assessed_at",
    "FeePaid": "paid_at",
    "Approved": "approved_at",
    "Printed": "printed_at",
    "PickupCodeIssued": "ready_at",
    "Released": "released_at",
    "HandedOver": "handed_over_at",
}
# The status after each event, from core's own table.
_STATUS_AFTER = {name: status.value for name, status in STATUS_AFTER.items()}
_CLOSING = CLOSING


def _text(value: object) -> str | None:
    """A stored value as text: the library keeps datetimes and UUIDs as tagged objects."""
    if value is None:
        return None
    if isinstance(value, dict):
        data = value.get("_data_")
        if value.get("_type_") == "uuid_hex" and isinstance(data, str):
            return str(UUID(hex=data))
        return str(data)
    return str(value)


def _utc_text(value: object) -> str:
    """A stored datetime as UTC ISO text, like the events' timestamps: a device sends its
    own offset, and the read models compare these times as text."""
    return datetime.fromisoformat(str(_text(value))).astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class PageRows:
    """A page's changes as the rows and parameters its transaction writes."""

    permits: list[tuple[Any, ...]]
    codes: list[tuple[Any, ...]]
    deactivate: list[tuple[str]]
    erased: list[tuple[str]]
    erased_plates: list[tuple[str, str]]
    conflicts: list[tuple[Any, ...]]
    delegates: list[tuple[Any, ...]]
    counts: list[tuple[str, str, int]]
    last_position: int
    events: int
    touches_manifests: bool
    """The page changed what the lane or team manifests list (their queries' inputs)."""
    arrivals: list[tuple[Any, ...]] = field(default_factory=list)
    """Rows of ``lane_arrivals`` (`projections.arrivals`)."""
    released_to: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(lane, visit) -> the permits this page released to it, for the live events."""
    visits: list[tuple[str, list[tuple[Any, ...]]]] = field(default_factory=list)
    """Statements on ``lane_visits`` with their parameters (`projections.lane_visits`)."""


@dataclass
class PageChanges:
    """Everything one page changes, ready to be written in one transaction."""

    permits: dict[str, Row] = field(default_factory=dict)
    codes: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    deactivate_codes_of: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)
    """Permits whose personal data was erased: their delegates' names go too."""
    erased_plates: list[tuple[str, str]] = field(default_factory=list)
    """Days of lane plate reads erased (`core.retention`): (before this instant, purpose)."""
    revived_codes: set[str] = field(default_factory=set)
    """Codes issued to a permit after this page deactivated its codes (a new code for an
    expired permit): they stay active."""
    conflicts: list[tuple[Any, ...]] = field(default_factory=list)
    delegates: list[tuple[Any, ...]] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_position: int = 0
    events: int = 0
    touches_manifests: bool = False
    arrivals: PageArrivals = field(default_factory=PageArrivals)
    visits: PageVisits = field(default_factory=PageVisits)

    def rows(self) -> PageRows:
        """Everything turned into values: the page can be written, or sent to the writer."""
        deactivate, revived = self.deactivate_codes_of, self.revived_codes
        return PageRows(
            permits=[_permit_values(row) for row in self.permits.values()],
            codes=[
                (*code[:5], 0 if code[1] in deactivate and code[0] not in revived else code[5])
                for code in self.codes.values()
            ],
            deactivate=[(pid,) for pid in deactivate],
            erased=[(pid,) for pid in self.erased],
            erased_plates=list(self.erased_plates),
            conflicts=list(self.conflicts),
            delegates=list(self.delegates),
            counts=[(site, status, n) for (site, status), n in self.counts.items() if n],
            last_position=self.last_position,
            events=self.events,
            touches_manifests=self.touches_manifests,
            arrivals=self.arrivals.rows,
            visits=self.visits.rows(),
            released_to=self.arrivals.released,
        )


def _permit_values(row: Row) -> tuple[Any, ...]:
    timeline = row["timeline"]
    text = timeline if isinstance(timeline, str) else orjson.dumps(timeline).decode()
    return (*(row[c] for c in PERMIT_COLUMNS[:-1]), text)


class PermitFold:
    """Applies permit events to rows; ``existing`` fetches rows the page has not seen yet.

    Event state is read as plain JSON rather than through the library's transcoder: the
    read models want text, and the transcoder's datetime and UUID objects would only be
    turned back into text (a third of the fold's time, measured).
    """

    def __init__(
        self, transcoder: Transcoder | None = None, keys: SubjectKeys | None = None
    ) -> None:
        # orjson: measured 1.0 µs against json's 4.9 µs per event state.
        self._decode = orjson.loads
        # Personal fields are sealed (`core.personal`): the store's transcoder opens them.
        if keys is None and isinstance(transcoder, JSONTranscoder):
            sealed = transcoder.names.get(SEALED_TYPE)
            keys = sealed.keys if isinstance(sealed, SealedText) else None
        self._keys = keys

    def permit_ids(self, notifications: Iterable[Entry]) -> set[str]:
        """Ids of the permits a page touches, other than those it creates."""
        ids: set[str] = set()
        created: set[str] = set()
        for n in notifications:
            name = _event_name(n.topic)
            if name is not None:
                (created if name == "Submitted" else ids).add(originator_key(n.originator_id))
        return ids - created

    def fold(
        self, notifications: Sequence[Entry], existing: Callable[[str], Row | None]
    ) -> PageChanges:
        changes = PageChanges(events=len(notifications))
        self.prefetch_keys(notifications)  # a no-op when the runner did it off its loop
        permits, counts = changes.permits, changes.counts
        keys: dict[object, str] = {}
        for n in notifications:
            name = _event_name(n.topic)
            if name is None:
                visit_event = visit_event_name(n.topic)
                lane_visit = VISIT_TOPICS.get(n.topic)
                if lane_visit is not None:
                    visit_state: dict[str, Any] = self._decode(n.state)
                    changes.visits.add(lane_visit, originator_key(n.originator_id), visit_state)
                if visit_event is not None:
                    visit_state = self._decode(n.state)
                    self._unseal(visit_state)
                    if visit_state.get("plate") == ERASED:  # its day's key is deleted
                        visit_state["plate"] = None
                    changes.arrivals.add_visit_event(visit_event, n.id, visit_state)
                elif n.topic == ERASED_PLATES_TOPIC:
                    changes.erased_plates.append(_erased_plates(self._decode(n.state)))
                continue
            state: dict[str, Any] = self._decode(n.state)
            if name in _PERSONAL:
                self._unseal(state)
            permit_id = keys.get(n.originator_id)
            if permit_id is None:
                permit_id = keys[n.originator_id] = originator_key(n.originator_id)
            # When the change was recorded; a handover carries its own time (a mobile team
            # records it offline, hours before it syncs), which is when it happened.
            recorded = state["timestamp"]["_data_"]
            at = _utc_text(state["happened_at"]) if name == "HandedOver" else recorded
            if name == "Submitted":
                row = permits[permit_id] = self._new_row(permit_id, state)
                counts[(row["site"], "submitted")] += 1
            else:
                known = permits.get(permit_id)
                if known is None:
                    loaded = existing(permit_id)
                    if loaded is None:
                        continue  # a permit whose start we never saw: nothing sane to do
                    known = permits[permit_id] = dict(loaded)
                    # A fresh list: the row it came from may still be on its way to disk.
                    earlier = known["timeline"]
                    known["timeline"] = (
                        orjson.loads(earlier) if isinstance(earlier, str) else list(earlier)
                    )
                row = known
            if name in _APPLIED:
                self._apply(name, state, row, changes, permit_id)
                if name in _IN_MANIFESTS:
                    changes.touches_manifests = True
                if name == "Released":
                    changes.arrivals.add_release(n.id, permit_id, state, row)
            column, closing, new_status = _EFFECTS.get(name, _NO_EFFECT)
            if column is not None:
                row[column] = at
            if closing:
                row["closed_at"] = at
            if name == "FeeAssessed":
                new_status = "fee_paid" if state["amount_rupiah"] == 0 else "fee_assessed"
            elif name == "PickupCodeReissued" and row["status"] == "expired":
                # The office's new code for an expired permit: it waits again from now.
                new_status = "ready"
                row["ready_at"], row["closed_at"] = at, None
            if new_status is not None and new_status != row["status"]:
                counts[(row["site"], row["status"])] -= 1
                counts[(row["site"], new_status)] += 1
                row["status"] = new_status
            row["updated_at"] = recorded
            row["version"] = n.originator_version
            keep = _DETAIL_FIELDS.get(name)
            row["timeline"].append(
                (n.originator_version, name, at, None if keep is None else _detail(keep, state))
            )
        if notifications:
            changes.last_position = notifications[-1].id
        return changes

    def prefetch_keys(self, notifications: Sequence[Entry]) -> None:
        """Cache the keys a page's sealed fields need, with one query (blocking: the runner
        calls it in a thread). Subjects are read from the stored text, undecoded."""
        if self._keys is None:
            return
        subjects = {
            match.decode() for n in notifications for match in _SEALED_SUBJECT.findall(n.state)
        }
        if subjects:
            self._keys.prefetch(sorted(subjects))

    def _unseal(self, state: dict[str, Any]) -> None:
        if self._keys is None:
            if any(type(v) is dict and v.get("_type_") == SEALED_TYPE for v in state.values()):
                raise ValueError("data pribadi tersegel, kunci tak ada / sealed, no key table")
            return
        unseal_state(self._keys, state)

    @staticmethod
    def _new_row(permit_id: str, state: dict[str, Any]) -> Row:
        row: Row = dict.fromkeys(PERMIT_COLUMNS)
        row.update(
            id=permit_id,
            site=state["site"],
            reference=state["reference"],
            number=state["number"],
            kind=state["kind"],
            holder=_masked(state["applicant_name"]),
            nik_masked=state["nik_masked"],
            plate=None if state["plate"] == ERASED else state["plate"],
            status="submitted",
            conflicts=0,
            delegates=0,
            timeline=[],
        )
        return row

    def _apply(
        self, name: str, state: dict[str, Any], row: Row, changes: PageChanges, permit_id: str
    ) -> None:
        if name == "FeeAssessed":
            row["fee_rupiah"] = state["amount_rupiah"]
        elif name == "Staged":
            row["slot"] = state["slot"]
        elif name in ("PickupCodeIssued", "PickupCodeReissued"):
            if row["status"] == "expired" and permit_id in changes.deactivate_codes_of:
                changes.revived_codes.add(state["code_sha256"])
            old = row["code_sha256"]
            if old is not None:
                changes.codes[old] = (old, permit_id, "owner", None, row["code_expires_at"], 0)
            row["code_sha256"] = state["code_sha256"]
            row["code_expires_at"] = _text(state["expires_at"])
            changes.codes[state["code_sha256"]] = (
                state["code_sha256"], permit_id, "owner", None, row["code_expires_at"], 1,
            )  # fmt: skip
        elif name == "DelegateAuthorised":
            row["delegates"] = (row["delegates"] or 0) + 1
            changes.delegates.append(
                (
                    permit_id, state["delegate_id"], _masked(state["name"]),
                    state["nik_masked"], state["code_sha256"], _text(state["expires_at"]),
                )
            )  # fmt: skip
            changes.codes[state["code_sha256"]] = (
                state["code_sha256"], permit_id, "delegate", state["delegate_id"],
                _text(state["expires_at"]), 1,
            )  # fmt: skip
        elif name == "Released":
            row["lane"], row["window"] = state["lane"], state["window"]
            row["visit"] = _text(state["visit"])
        elif name == "ReturnedToStorage":  # the car left without it
            if row["lane"] is not None and row["visit"] is not None:
                changes.visits.car_left(row["site"], row["lane"], row["visit"])
            row["lane"] = row["window"] = row["visit"] = None
        elif name == "HandedOver":
            row["recipient"] = state["recipient"]
            row["handed_over_by"] = state["by"]
            row["handover_channel"] = state["channel"]
            _deactivate_codes(changes, permit_id)
        elif name == "HandoverConflictRecorded":
            row["conflicts"] = (row["conflicts"] or 0) + 1
            changes.conflicts.append(
                (
                    permit_id, state["handover_id"], state["by"], state["channel"],
                    state["reason"], _text(state["happened_at"]),
                )
            )  # fmt: skip
        elif name == "AssignedToTeam":
            row["team"], row["team_date"], row["team_place"] = (
                state["team"], state["date"], state["place"],
            )  # fmt: skip
        elif name == "UnassignedFromTeam":
            row["team"] = row["team_date"] = row["team_place"] = None
        elif name in ("Cancelled", "Expired", "PickupCodeExpired"):
            _deactivate_codes(changes, permit_id)
        elif name == "DataErased":
            row["holder"], row["plate"] = ERASED, None
            changes.erased.add(permit_id)
            if self._keys is not None:  # erased by another process: its key is gone
                self._keys.forget(UUID(permit_id).hex)


def _erased_plates(state: dict[str, Any]) -> tuple[str, str]:
    """A day's plates erased for a purpose: (the first instant after that day, the purpose)."""
    after = date.fromisoformat(state["day"]) + timedelta(days=1)
    return datetime.combine(after, time(), UTC).isoformat(), state["purpose"]


def _masked(name: str) -> str:
    return name if name == ERASED else mask_name(name)


def _deactivate_codes(changes: PageChanges, permit_id: str) -> None:
    changes.deactivate_codes_of.add(permit_id)
    if changes.revived_codes:  # rare: a permit expired, given a new code, then closed again
        changes.revived_codes -= {c for c, v in changes.codes.items() if v[1] == permit_id}


# What the timeline shows beside an event: never a code, a NIK or a name.
_DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    "CorrectionRequested": ("reason",),
    "FeeAssessed": ("amount_rupiah",),
    "Rejected": ("reason",),
    "Staged": ("slot",),
    "Released": ("lane", "window", "method"),
    "HandedOver": ("recipient", "channel", "identity"),
    "AssignedToTeam": ("team", "date", "place"),
    "Cancelled": ("reason",),
    "PickupCodeReissued": ("reason",),
    "Expired": ("reason",),
    "PickupCodeExpired": ("expires_at",),
    "DataErased": ("reason",),
}


def _detail(keep: tuple[str, ...], state: dict[str, Any]) -> dict[str, Any]:
    return {k: state[k] if k == "amount_rupiah" else _text(state.get(k)) for k in keep}


# What each event does to the row besides `PermitFold._apply`: the timestamp column it
# sets, whether it closes the permit, and the status after it (one lookup per event).
_Effect = tuple[str | None, bool, str | None]
_NO_EFFECT: _Effect = (None, False, None)
_EFFECTS: dict[str, _Effect] = {
    name: (_STAGE_COLUMN.get(name), name in _CLOSING, _STATUS_AFTER.get(name))
    for name in {*_STAGE_COLUMN, *_STATUS_AFTER, *_CLOSING}
}
_APPLIED = frozenset(
    {
        "FeeAssessed", "Staged", "PickupCodeIssued", "PickupCodeReissued",
        "DelegateAuthorised", "Released", "ReturnedToStorage", "HandedOver",
        "HandoverConflictRecorded", "AssignedToTeam", "UnassignedFromTeam", "Cancelled",
        "Expired", "PickupCodeExpired", "DataErased",
    }
)  # fmt: skip
# Events that change which permits wait at a site (ready or released), their codes, their
# delegates or their team: what the manifests list. A release changes none of it.
_IN_MANIFESTS = frozenset(
    {
        "PickupCodeIssued", "PickupCodeReissued", "DelegateAuthorised", "HandedOver",
        "Cancelled", "Expired", "PickupCodeExpired", "AssignedToTeam", "UnassignedFromTeam",
        "DataErased",
    }
)  # fmt: skip
_PERSONAL = frozenset(
    name.removeprefix(_AGGREGATE) for name in PERSONAL_FIELDS if name.startswith(_AGGREGATE)
)
# Every name above must be an event of the permit: a renamed event fails here, at import.
known([*_STAGE_COLUMN, *_DETAIL_FIELDS, *_APPLIED, *_IN_MANIFESTS, *_PERSONAL])


def _event_name(topic: str) -> str | None:
    """The permit event's class name for a stored topic, or None for other aggregates'."""
    return TOPICS.get(topic)
