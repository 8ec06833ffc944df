"""The window's identity check: the NIK typed from the KTP, or its last 6 digits, against the
keyed hashes of the holder and the delegates; and how `HandedOver` records it."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import orjson

from core.identity import IdentityCheck, IdentityMethod, Verdict, released_for_delegate
from core.values import Recipient, ReleaseMethod
from tests.factories import (
    DELEGATE_NIK,
    NIK,
    FrozenClock,
    memory_service,
    ready_permit,
    sqlite_service,
    submit,
)


def test_the_holders_whole_nik_or_its_last_six_digits_match() -> None:
    service = memory_service()
    ready = ready_permit(service)
    assert service.check_identity(ready.id, NIK) is Verdict.MATCH
    assert service.check_identity(ready.id, " 5103 0112 0480 0001 ") is Verdict.MATCH
    assert service.check_identity(ready.id, NIK[-6:]) is Verdict.MATCH


def test_another_nik_or_other_digits_do_not_match() -> None:
    service = memory_service()
    ready = ready_permit(service)
    assert service.check_identity(ready.id, DELEGATE_NIK) is Verdict.MISMATCH
    assert service.check_identity(ready.id, DELEGATE_NIK[-6:]) is Verdict.MISMATCH
    # The last six digits of the NIK are not its first six.
    assert service.check_identity(ready.id, NIK[:6]) is Verdict.MISMATCH
    assert service.check_identity(ready.id, "12345") is Verdict.UNREADABLE
    assert service.check_identity(ready.id, "abcdef") is Verdict.UNREADABLE


def test_a_delegate_is_checked_against_their_own_nik_not_the_holders() -> None:
    clock = FrozenClock()
    service = memory_service(clock)
    ready = ready_permit(service)
    issued = service.authorise_delegate(
        ready.id, name="Ni Made Sari", nik=DELEGATE_NIK, expires_at=clock.now + timedelta(days=3)
    )
    delegate_id = issued.code_sha256[:12]
    assert service.check_identity(ready.id, DELEGATE_NIK, delegate_id) is Verdict.MATCH
    assert service.check_identity(ready.id, DELEGATE_NIK[-6:], delegate_id) is Verdict.MATCH
    assert service.check_identity(ready.id, NIK, delegate_id) is Verdict.MISMATCH
    assert service.check_identity(ready.id, DELEGATE_NIK, "no-such-one") is Verdict.MISMATCH


def test_the_delegate_whose_code_released_the_permit_is_known() -> None:
    clock = FrozenClock()
    service = memory_service(clock)
    ready = ready_permit(service)
    issued = service.authorise_delegate(
        ready.id, name="Ni Made Sari", nik=DELEGATE_NIK, expires_at=clock.now + timedelta(days=3)
    )
    service.release(
        ready.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE,
        code_sha256=issued.code_sha256,
    )  # fmt: skip
    assert released_for_delegate(service.peek(ready.id)) == issued.code_sha256[:12]
    other = ready_permit(service)
    service.release(
        other.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE,
        code_sha256=other.code.code_sha256,
    )  # fmt: skip
    assert released_for_delegate(service.peek(other.id)) is None


def test_the_handover_records_how_identity_was_checked() -> None:
    service = memory_service()
    matched, overridden = ready_permit(service), ready_permit(service)
    for ready, check in (
        (matched, IdentityCheck(IdentityMethod.NIK_MATCH)),
        (overridden, IdentityCheck(IdentityMethod.OPERATOR_OVERRIDE, "KTP rusak / torn KTP")),
    ):
        service.release(
            ready.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE
        )
        service.hand_over(
            ready.id, handover_id=f"h-{ready.id}", by="op-1", recipient=Recipient.OWNER,
            id_checked=True, channel="lane:1", at_lane="1", identity=check,
        )  # fmt: skip
    first = service.peek(matched.id).handover
    second = service.peek(overridden.id).handover
    assert first is not None
    assert second is not None
    assert (first.identity, first.identity_reason, first.by) == ("nik_match", None, "op-1")
    assert (second.identity, second.identity_reason) == (
        "operator_override", "KTP rusak / torn KTP"
    )  # fmt: skip


def _strip_from_stored(path: Path, topic_end: str, *fields: str) -> int:
    """Remove ``fields`` from the stored events whose topic ends with ``topic_end``: the
    events as an older release of the code wrote them."""
    changed = 0
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT rowid, topic, state FROM stored_events").fetchall()
        for rowid, topic, state in rows:
            if not topic.endswith(topic_end):
                continue
            data = orjson.loads(state)
            for name in fields:
                data.pop(name)
            db.execute(
                "UPDATE stored_events SET state = ? WHERE rowid = ?", (orjson.dumps(data), rowid)
            )
            changed += 1
    return changed


def test_events_recorded_before_the_nik_check_still_load(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    service = sqlite_service(path)
    ready = ready_permit(service)
    service.release(ready.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE)
    service.hand_over(
        ready.id, handover_id="h", by="op-1", recipient=Recipient.OWNER, id_checked=True,
        channel="lane:1", identity=IdentityCheck(IdentityMethod.NIK_MATCH),
    )  # fmt: skip
    service.close()
    assert _strip_from_stored(path, ".HandedOver", "identity", "identity_reason") == 1
    assert _strip_from_stored(path, ".Submitted", "nik_tail_hash") == 1

    reopened = sqlite_service(path)
    permit = reopened.peek(ready.id)
    assert permit.handover is not None
    assert (permit.handover.identity, permit.handover.by) == (None, "op-1")
    assert permit.nik_tail_hash is None
    reopened.close()


def test_a_permit_submitted_before_tails_needs_the_whole_nik(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    service = sqlite_service(path)
    permit_id = submit(service)
    service.close()
    _strip_from_stored(path, ".Submitted", "nik_tail_hash")
    reopened = sqlite_service(path)
    assert reopened.check_identity(permit_id, NIK[-6:]) is Verdict.TAIL_UNAVAILABLE
    assert reopened.check_identity(permit_id, NIK) is Verdict.MATCH
    assert reopened.check_identity(permit_id, DELEGATE_NIK) is Verdict.MISMATCH
    reopened.close()
