"""Retention by purpose: how long each kind of personal data is kept, and its erasure by key.

Plates read at the lanes are sealed with one key per day and purpose (`core.personal`); at
the end of a purpose's period the day's key is deleted and an `ErasedPlates` aggregate
records it, one `DataErased` event per day and purpose, saying why.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from core.personal import Purpose, bucket_subject
from core.subject_keys import PersonalDataApplication

# How far back a run looks for days not yet erased: a server off for longer than this (past
# the period) leaves older days to `drivethru privacy`. Lookups of absent keys are cached.
LOOKBACK_DAYS = 400


@dataclass(frozen=True, slots=True)
class RetentionPeriods:
    """Days each purpose keeps its data (site settings, `[retention]`)."""

    unmatched_plate_days: int = 7
    """Plate reads of visits that matched nothing."""
    matched_plate_days: int = 90
    """Plate reads of visits that released (or staged) a permit: counted from the visit's
    day, which is the handover's day but for a permit taken back to storage."""
    personal_days_after_close: int = 365
    """The applicant's personal data, counted from the day the permit's case closed
    (handed over, cancelled, rejected or expired)."""

    def plate_days(self, purpose: Purpose) -> int:
        if purpose is Purpose.UNMATCHED:
            return self.unmatched_plate_days
        return self.matched_plate_days


class ErasedPlates(Aggregate):
    """One day's plate reads for one purpose, erased: the record of why and when."""

    @staticmethod
    def create_id(purpose: str, day: str) -> UUID:
        return bucket_subject(Purpose(purpose), date.fromisoformat(day))

    @event("DataErased")
    def __init__(self, purpose: str, day: str, reason: str, by: str) -> None:
        self.purpose = purpose
        self.day = day
        self.reason = reason
        self.by = by


def due_plate_days(periods: RetentionPeriods, today: date) -> list[tuple[Purpose, date]]:
    """The days whose plates are past their period on ``today``, oldest first."""
    due: list[tuple[Purpose, date]] = []
    for purpose in Purpose:
        last = today - timedelta(days=periods.plate_days(purpose) + 1)
        due.extend((purpose, last - timedelta(days=back)) for back in range(LOOKBACK_DAYS, -1, -1))
    return due


def erase_plate_day(app: PersonalDataApplication, purpose: Purpose, day: date, by: str) -> bool:
    """Erase one day's plates for ``purpose`` if its key still exists; True if it did.

    The event comes first and the key after: a crash between leaves the key, which the next
    run deletes (the event is then already there, and the store refuses it twice).
    """
    subject = bucket_subject(purpose, day).hex
    if app.subject_keys.key(subject) is None:
        return False  # no plate was read that day, or it is erased already
    reason = f"retensi / retention: {purpose.value} plate reads past their period"
    # Recorded already by an earlier run (or another server) that did not get to the key:
    with contextlib.suppress(IntegrityError):
        app.save(ErasedPlates(purpose.value, day.isoformat(), reason, by))
    app.subject_keys.erase(subject)
    return True
