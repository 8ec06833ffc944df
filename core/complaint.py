"""The office's answer to a citizen's rating or complaint (SIAP LAPOR style), as events.

The complaint's own text stays in the feedback file (`api/pages/feedback.py`), on its own
retention clock; what the office does with it is recorded here. A `Complaint` aggregate of
its own per permit, not events on the permit: the permit is closed once handed over, and
an answer must never race a window's handover for the permit's version. Its id derives
from the permit's, so the first answer of two officers at once makes one aggregate, and
the loser is retried on it.

Events (``core.complaint:Complaint.<name>`` in the log):
- ``ComplaintAnswered``: ``permit_id``, ``site``, ``answer``, ``officer``, ``at``; the
  citizen sees it on ``/p/{code}``. An officer may answer again (a correction): the newest
  answer is the one shown.
- ``ComplaintClosed``: ``permit_id``, ``site``, ``officer``, ``reason``, ``at``; no more
  answers after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from core.errors import ConcurrentChangeError, InvalidInputError, PermitError
from core.service import MAX_ATTEMPTS, PermitService

COMPLAINT_NAMESPACE = UUID("3b7e2f90-5c1d-5a84-9e6f-0d2c8a41b7e5")
MAX_ANSWER = 2000


class ComplaintClosedError(PermitError):
    """The complaint was closed: it takes no more answers and no second close."""

    code = "complaint_closed"

    def __init__(self, permit_id: UUID, by: str) -> None:
        super().__init__(
            permit_id, f"Pengaduan sudah ditutup oleh {by} / complaint already closed by {by}"
        )
        self.by = by


class Complaint(Aggregate):
    """What the office answered to one permit's feedback, and whether it is closed."""

    @staticmethod
    def create_id(permit_id: UUID) -> UUID:
        return uuid5(COMPLAINT_NAMESPACE, str(permit_id))

    @event("Registered")
    def __init__(self, permit_id: UUID, site: str) -> None:
        self.permit_id = permit_id
        self.site = site
        self.answer: str | None = None
        self.answered_by: str | None = None
        self.answered_at: datetime | None = None
        self.answers = 0
        self.closed_by: str | None = None
        self.closed_at: datetime | None = None
        self.close_reason: str | None = None

    def check_open(self) -> None:
        if self.closed_by is not None:
            raise ComplaintClosedError(self.permit_id, self.closed_by)

    def answer_with(self, answer: str, officer: str, at: datetime) -> None:
        """Record the office's answer (shown to the citizen); refused once closed."""
        self.check_open()
        text = answer.strip()
        if not text or len(text) > MAX_ANSWER:
            raise InvalidInputError(
                self.permit_id,
                f"jawaban 1-{MAX_ANSWER} karakter / the answer takes 1-{MAX_ANSWER} characters",
            )
        self._answered(self.permit_id, self.site, text, officer, at)

    @event("ComplaintAnswered")
    def _answered(
        self, permit_id: UUID, site: str, answer: str, officer: str, at: datetime
    ) -> None:
        self.answer, self.answered_by, self.answered_at = answer, officer, at
        self.answers += 1

    def close(self, officer: str, reason: str, at: datetime) -> None:
        """Close it, answered or not (handled elsewhere, not a complaint, a duplicate)."""
        self.check_open()
        self._closed(self.permit_id, self.site, officer, reason.strip()[:500], at)

    @event("ComplaintClosed")
    def _closed(self, permit_id: UUID, site: str, officer: str, reason: str, at: datetime) -> None:
        self.closed_by, self.close_reason, self.closed_at = officer, reason, at

    @property
    def state(self) -> str:
        if self.closed_by is not None:
            return "closed"
        return "answered" if self.answer is not None else "open"


@dataclass(frozen=True, slots=True)
class ComplaintState:
    """What the office did with one permit's feedback; ``open`` when nothing yet."""

    permit_id: str
    state: str
    answer: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None

    @classmethod
    def of(cls, complaint: Complaint) -> ComplaintState:
        return cls(
            str(complaint.permit_id), complaint.state, complaint.answer, complaint.answered_by,
            complaint.answered_at, complaint.closed_by, complaint.closed_at,
            complaint.close_reason,
        )  # fmt: skip


class ComplaintDesk:
    """Answers and closes complaints in the permit store, one aggregate per permit."""

    def __init__(self, service: PermitService) -> None:
        self.service = service
        # The cached aggregate is changed in place: one change at a time in this process.
        self._lock = threading.Lock()

    def _get(self, permit_id: UUID) -> Complaint | None:
        try:
            found: Complaint = self.service.repository.get(Complaint.create_id(permit_id))
        except AggregateNotFoundError:
            return None
        return found

    def of(self, permit_id: UUID) -> ComplaintState:
        found = self._get(permit_id)
        return ComplaintState.of(found) if found else ComplaintState(str(permit_id), "open")

    def answer(self, permit_id: UUID, site: str, answer: str, officer: str) -> ComplaintState:
        return self._change(
            permit_id, site, lambda c: c.answer_with(answer, officer, self.service.clock())
        )

    def close(self, permit_id: UUID, site: str, officer: str, reason: str) -> ComplaintState:
        return self._change(
            permit_id, site, lambda c: c.close(officer, reason, self.service.clock())
        )

    def _change(
        self, permit_id: UUID, site: str, command: Callable[[Complaint], None]
    ) -> ComplaintState:
        with self._lock:
            for _ in range(MAX_ATTEMPTS):
                complaint = self._get(permit_id) or Complaint(permit_id, site)
                try:
                    command(complaint)
                    self.service.save(complaint)
                except IntegrityError:
                    # Another officer saved first: decide again on what they recorded.
                    self.service.forget(complaint.id)
                    continue
                except BaseException:
                    self.service.forget(complaint.id)
                    raise
                return ComplaintState.of(complaint)
        raise ConcurrentChangeError(permit_id)
