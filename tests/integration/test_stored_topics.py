"""The topics events are stored under are a contract with every store already written.

A stored event is read back by its topic (module and class path). Moving or renaming an
event class, or the aggregate, would leave the events in users' stores unreadable: these
tests pin the topics as they are written, and load a store written before any such change.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.contact import Contact
from core.errors import AlreadyHandedOverError, CodeRefusedError
from core.permit_states import TOPICS
from core.personal import ERASED
from core.service import PermitService
from core.values import PermitStatus, Recipient, ReleaseMethod
from tests.factories import DELEGATE_NIK, FrozenClock, ready_permit, sqlite_service, submit

STORED_TOPICS = [
    "core.code_index:PickupCodeIndex.Registered",
    "core.permit:PermitApplication.Approved",
    "core.permit:PermitApplication.AssignedToTeam",
    "core.permit:PermitApplication.Cancelled",
    "core.permit:PermitApplication.ContactRecorded",
    "core.permit:PermitApplication.CorrectionRequested",
    "core.permit:PermitApplication.DataErased",
    "core.permit:PermitApplication.DelegateAuthorised",
    "core.permit:PermitApplication.DocumentsResubmitted",
    "core.permit:PermitApplication.DocumentsVerified",
    "core.permit:PermitApplication.Expired",
    "core.permit:PermitApplication.FeeAssessed",
    "core.permit:PermitApplication.FeePaid",
    "core.permit:PermitApplication.HandedOver",
    "core.permit:PermitApplication.HandoverConflictRecorded",
    "core.permit:PermitApplication.PickupCodeExpired",
    "core.permit:PermitApplication.PickupCodeIssued",
    "core.permit:PermitApplication.PickupCodeReissued",
    "core.permit:PermitApplication.Printed",
    "core.permit:PermitApplication.Rejected",
    "core.permit:PermitApplication.Released",
    "core.permit:PermitApplication.ReturnedToStorage",
    "core.permit:PermitApplication.Staged",
    "core.permit:PermitApplication.Submitted",
    "core.permit:PermitApplication.UnassignedFromTeam",
]
"""Every topic the permit service writes, as stores hold them today."""


def run_every_path(service: PermitService, clock: FrozenClock) -> None:
    """Take permits through every command of the service, so every event is recorded."""
    window = ready_permit(service).id
    service.record_contact(window, Contact("+6281234567890", None, "id"))
    service.authorise_delegate(
        window, name="Made Wirawan", nik=DELEGATE_NIK, expires_at=clock() + timedelta(days=3)
    )
    service.reissue_code(window, "officer", "lost")
    service.assign_to_team(window, "officer", "ribon-1", "2026-11-30", "Kuta")
    service.unassign_from_team(window, "officer")
    service.release(window, lane="1", window="2", visit=uuid.uuid4(), method=ReleaseMethod.CODE)
    service.return_to_storage(window, "op", "car left", at_lane="1")
    service.release(window, lane="1", window="2", visit=uuid.uuid4(), method=ReleaseMethod.PLATE)

    def hand_over(handover_id: str) -> None:
        service.hand_over(
            window, handover_id=handover_id, by="op", recipient=Recipient.OWNER,
            id_checked=True, channel="lane:1", at_lane="1",
        )  # fmt: skip

    hand_over("h1")
    with pytest.raises(AlreadyHandedOverError):  # refused, and kept as a conflict
        hand_over("h2")
    service.erase_personal_data(window, "officer", "asked by the citizen")

    corrected = submit(service)
    service.request_correction(corrected, "officer", "blurred scan")
    service.resubmit_documents(corrected, "new scan")
    service.reject(corrected, "officer", "not eligible")
    service.cancel(submit(service), "officer", "withdrawn")

    uncollected = ready_permit(service, fee=0).id
    clock.advance(timedelta(days=2))
    assert service.expire_if_due(uncollected, timedelta(days=1)) is not None
    lapsed = ready_permit(service).id
    clock.advance(timedelta(days=400))
    assert service.expire_if_due(lapsed, None) is not None
    service.reissue_code(lapsed, "officer", "expired")
    service.expire(lapsed, "never collected")


def stored_topics(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        return sorted({row[0] for row in db.execute("SELECT topic FROM stored_events")})


def test_every_event_is_stored_under_the_topic_stores_already_hold(tmp_path: Path) -> None:
    clock = FrozenClock()
    service = sqlite_service(tmp_path / "events.db", clock)
    try:
        run_every_path(service, clock)
    finally:
        service.close()
    topics = stored_topics(tmp_path / "events.db")
    assert topics == STORED_TOPICS
    # The run records every event the permit can record (all but the library's unused base).
    recordable = {topic for topic, name in TOPICS.items() if name != "Created"}
    assert recordable == {t for t in topics if t.startswith("core.permit:")}


# A store as the service wrote it before, row by row (personal fields unsealed, as written
# before sealing existed; both forms are read).
A = "f568431ea3dc51aca6828d11474bda99"  # badung/OLD-1: to the window, handed over, erased
B = "33ffb348b9af5b4096e0509f3f9fa6a1"  # badung/OLD-2: corrected, then rejected
C = "362f06328e5f5aa2a676bdd054927391"  # badung/OLD-3: cancelled
D = "1e1fbb35c47658958b40ebc17104a374"  # badung/OLD-4: no fee, code expired, reissued, expired
D_CODE_INDEX = "8adcbb29f0e851b6a3e3d204cadc2134"  # the index of D's reissued code "e" * 64
PERMIT = "core.permit:PermitApplication"


def at(text: str) -> dict[str, str]:
    return {"_type_": "datetime_iso", "_data_": f"2026-11-{text}+00:00"}


def hex_uuid(value: str) -> dict[str, str]:
    return {"_type_": "uuid_hex", "_data_": value}


def submitted(reference: str, minute: str) -> dict[str, Any]:
    return {
        "timestamp": at(f"29T09:{minute}:00"), "originator_topic": PERMIT, "site": "badung",
        "reference": reference, "number": reference, "kind": "SIUP",
        "applicant_name": "I Wayan Sudirta",
        "nik_hash": "0f5ca545a3358d26d1243f10f612489ffd3f7fe5322a4bd2ed3bc0af794239e0",
        "nik_masked": "5103********0001", "plate": "DK1234AB",
        "nik_tail_hash": "e53f34ffd6ac345c133c8a4e2cef0ec090076c801d80163964ef3e2d345a9668",
    }  # fmt: skip


OLD_ROWS: list[tuple[str, int, str, dict[str, Any]]] = [
    (A, 1, f"{PERMIT}.Submitted", submitted("OLD-1", "00")),
    (A, 2, f"{PERMIT}.ContactRecorded",
     {"timestamp": at("29T09:01:00"), "phone": "+6281234567890", "email": None, "lang": "id"}),
    (A, 3, f"{PERMIT}.DocumentsVerified", {"timestamp": at("29T09:02:00"), "by": "officer"}),
    (A, 4, f"{PERMIT}.FeeAssessed",
     {"timestamp": at("29T09:03:00"), "by": "officer", "amount_rupiah": 150000}),
    (A, 5, f"{PERMIT}.FeePaid",
     {"timestamp": at("29T09:04:00"), "reference": "PAY-1", "amount_rupiah": 150000,
      "paid_at": at("29T09:04:00")}),
    (A, 6, f"{PERMIT}.Approved", {"timestamp": at("29T09:05:00"), "by": "officer"}),
    (A, 7, f"{PERMIT}.Printed", {"timestamp": at("29T09:06:00"), "by": "officer"}),
    (A, 8, f"{PERMIT}.Staged",
     {"timestamp": at("29T09:07:00"), "by": "runner", "site": "badung", "slot": "R1-01"}),
    (A, 9, f"{PERMIT}.PickupCodeIssued",
     {"timestamp": at("29T09:07:00"), "code_sha256": "a" * 64, "expires_at": at("30T09:00:00"),
      "issued_at": at("29T09:07:00")}),
    (A, 10, f"{PERMIT}.DelegateAuthorised",
     {"timestamp": at("29T09:08:00"), "delegate_id": "cccccccccccc", "name": "Made Wirawan",
      "nik_hash": "f" * 64, "nik_masked": "5103********0002", "expires_at": at("30T09:00:00"),
      "code_sha256": "c" * 64, "nik_tail_hash": None}),
    (A, 11, f"{PERMIT}.PickupCodeReissued",
     {"timestamp": at("29T09:09:00"), "by": "officer", "code_sha256": "b" * 64,
      "expires_at": at("30T09:00:00"), "reason": "lost", "old_sha256": "a" * 64,
      "issued_at": at("29T09:09:00")}),
    (A, 12, f"{PERMIT}.AssignedToTeam",
     {"timestamp": at("29T09:10:00"), "by": "officer", "team": "ribon-1",
      "date": "2026-11-30", "place": "Kuta"}),
    (A, 13, f"{PERMIT}.UnassignedFromTeam",
     {"timestamp": at("29T09:11:00"), "by": "officer", "team": "ribon-1"}),
    (A, 14, f"{PERMIT}.Released",
     {"timestamp": at("29T09:12:00"), "lane": "1", "window": "2",
      "visit": hex_uuid("9eea784d6e3e491697c8f56f6d8a2e7c"), "method": "code",
      "by_code": "b" * 64}),
    (A, 15, f"{PERMIT}.ReturnedToStorage",
     {"timestamp": at("29T09:13:00"), "by": "op", "reason": "car left", "lane": "1"}),
    (A, 16, f"{PERMIT}.Released",
     {"timestamp": at("29T09:14:00"), "lane": "1", "window": "2",
      "visit": hex_uuid("0c1d4a1b0d5e4b7f8a9b2c3d4e5f6a7b"), "method": "plate",
      "by_code": None}),
    (A, 17, f"{PERMIT}.HandedOver",
     {"timestamp": at("29T09:15:00"), "handover_id": "h1", "by": "op", "recipient": "owner",
      "channel": "lane:1", "happened_at": at("29T09:15:00"), "delegate_id": None,
      "identity": None, "identity_reason": None}),
    (A, 18, f"{PERMIT}.HandoverConflictRecorded",
     {"timestamp": at("29T09:16:00"), "handover_id": "h2", "by": "op", "channel": "lane:1",
      "reason": "already handed over by op (h1)", "happened_at": at("29T09:16:00")}),
    (A, 19, f"{PERMIT}.DataErased",
     {"timestamp": at("29T09:17:00"), "by": "officer", "reason": "asked by the citizen"}),
    (B, 1, f"{PERMIT}.Submitted", submitted("OLD-2", "20")),
    (B, 2, f"{PERMIT}.CorrectionRequested",
     {"timestamp": at("29T09:21:00"), "by": "officer", "reason": "blurred scan"}),
    (B, 3, f"{PERMIT}.DocumentsResubmitted",
     {"timestamp": at("29T09:22:00"), "note": "new scan"}),
    (B, 4, f"{PERMIT}.Rejected",
     {"timestamp": at("29T09:23:00"), "by": "officer", "reason": "not eligible"}),
    (C, 1, f"{PERMIT}.Submitted", submitted("OLD-3", "30")),
    (C, 2, f"{PERMIT}.Cancelled",
     {"timestamp": at("29T09:31:00"), "by": "officer", "reason": "withdrawn"}),
    (D, 1, f"{PERMIT}.Submitted", submitted("OLD-4", "40")),
    (D, 2, f"{PERMIT}.DocumentsVerified", {"timestamp": at("29T09:41:00"), "by": "officer"}),
    (D, 3, f"{PERMIT}.FeeAssessed",
     {"timestamp": at("29T09:42:00"), "by": "officer", "amount_rupiah": 0}),
    (D, 4, f"{PERMIT}.Approved", {"timestamp": at("29T09:43:00"), "by": "officer"}),
    (D, 5, f"{PERMIT}.Printed", {"timestamp": at("29T09:44:00"), "by": "officer"}),
    (D, 6, f"{PERMIT}.Staged",
     {"timestamp": at("29T09:45:00"), "by": "runner", "site": "badung", "slot": "R1-02"}),
    (D, 7, f"{PERMIT}.PickupCodeIssued",
     {"timestamp": at("29T09:45:00"), "code_sha256": "d" * 64, "expires_at": at("29T10:00:00"),
      "issued_at": at("29T09:45:00")}),
    (D, 8, f"{PERMIT}.PickupCodeExpired",
     {"timestamp": at("29T10:01:00"), "code_sha256": "d" * 64,
      "expires_at": at("29T10:00:00")}),
    (D, 9, f"{PERMIT}.PickupCodeReissued",
     {"timestamp": at("29T10:02:00"), "by": "officer", "code_sha256": "e" * 64,
      "expires_at": at("30T10:00:00"), "reason": "expired", "old_sha256": "d" * 64,
      "issued_at": at("29T10:02:00")}),
    (D_CODE_INDEX, 1, "core.code_index:PickupCodeIndex.Registered",
     {"timestamp": at("29T10:02:00"), "originator_topic": "core.code_index:PickupCodeIndex",
      "code_sha256": "e" * 64, "permit_id": hex_uuid(D)}),
    (D, 10, f"{PERMIT}.Expired",
     {"timestamp": at("29T10:03:00"), "reason": "never collected"}),
]  # fmt: skip


def write_old_store(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        db.executemany(
            "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
            [(aggregate, version, topic, json.dumps(state).encode())
             for aggregate, version, topic, state in OLD_ROWS],
        )  # fmt: skip


def test_a_store_written_before_loads_and_replays_as_it_did(tmp_path: Path) -> None:
    write_old_store(tmp_path / "events.db")
    assert stored_topics(tmp_path / "events.db") == STORED_TOPICS  # every topic, old rows
    service = sqlite_service(tmp_path / "events.db")
    try:
        window = service.get(uuid.UUID(A))
        assert window.status is PermitStatus.HANDED_OVER
        assert (window.handover_id, window.conflicts, window.slot) == ("h1", 1, "R1-01")
        assert (window.code_sha256, window.applicant_name, window.plate) == (
            "b" * 64,
            ERASED,
            ERASED,
        )
        assert [name for name, _ in service.history(uuid.UUID(A))] == [
            name.rsplit(".", 1)[1] for aggregate, _, name, _ in OLD_ROWS if aggregate == A
        ]
        assert service.get(uuid.UUID(B)).status is PermitStatus.REJECTED
        assert service.get(uuid.UUID(C)).status is PermitStatus.CANCELLED
        lapsed = service.get(uuid.UUID(D))
        assert (lapsed.status, lapsed.fee_rupiah, lapsed.version) == (PermitStatus.EXPIRED, 0, 10)
        with pytest.raises(CodeRefusedError) as refused:
            service.resolve_code("e" * 64)  # found through the old index, refused as expired
        assert refused.value.reason == "expired"
        # A command on an old permit appends after its old events.
        service.reissue_code(uuid.UUID(D), "officer", "asked again")
        assert service.get(uuid.UUID(D)).status is PermitStatus.READY
    finally:
        service.close()
