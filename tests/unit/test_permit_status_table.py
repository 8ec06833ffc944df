"""core.permit_states.STATUS_AFTER says what the aggregate does: replayed on every path."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core.permit import PermitApplication
from core.permit_states import CLOSING, EVENTS, STATUS_AFTER, TOPICS, known
from core.service import PermitService
from core.values import PermitStatus, Recipient, ReleaseMethod
from tests.factories import FrozenClock, memory_service, ready_permit, submit


def replay_checked(service: PermitService, permit_id: uuid.UUID) -> list[str]:
    """Replay the permit's events one by one; each status must be the table's."""
    permit: PermitApplication | None = None
    seen = []
    for event in service.events.get(permit_id):
        name = type(event).__name__
        permit = event.mutate(permit)  # type: ignore[attr-defined]
        assert permit is not None
        if name in STATUS_AFTER:
            assert permit.status is STATUS_AFTER[name], name
        if name in CLOSING:
            assert permit.status.is_final, name
        seen.append(name)
    return seen


def test_every_status_in_the_table_is_the_aggregates_on_every_path() -> None:
    clock = FrozenClock()
    service = memory_service(clock)
    seen: set[str] = set()

    ready = ready_permit(service).id  # the whole way, with a return to storage
    service.release(ready, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE)
    service.return_to_storage(ready, "op", "not collected")
    service.release(ready, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE)
    service.hand_over(
        ready, handover_id="h", by="op", recipient=Recipient.OWNER, id_checked=True,
        channel="lane:1",
    )  # fmt: skip
    seen |= set(replay_checked(service, ready))

    corrected = submit(service, reference="LAP-C")  # corrections, then rejected
    service.request_correction(corrected, "officer", "blurred scan")
    service.resubmit_documents(corrected, "new scan")
    service.reject(corrected, "officer", "not eligible")
    seen |= set(replay_checked(service, corrected))

    cancelled = submit(service, reference="LAP-X")
    service.cancel(cancelled, "officer", "withdrawn")
    seen |= set(replay_checked(service, cancelled))

    lapsed = ready_permit(service, plate="DK 2 B").id  # its code expires, a new one revives it
    clock.advance(timedelta(days=400))
    assert service.expire_if_due(lapsed, None) is not None
    service.reissue_code(lapsed, "officer", "expired")
    assert service.get(lapsed).status is PermitStatus.READY
    service.expire(lapsed, "never collected")
    seen |= set(replay_checked(service, lapsed))

    assert set(STATUS_AFTER) <= seen  # every row of the table was checked against the aggregate


def test_the_table_names_only_the_aggregates_events() -> None:
    assert "Submitted" in EVENTS
    assert TOPICS["core.permit:PermitApplication.HandedOver"] == "HandedOver"
    with pytest.raises(ValueError, match="HandedOverr"):
        known(["HandedOver", "HandedOverr"])  # a renamed event fails loudly, by name
