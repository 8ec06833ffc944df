"""The permit service suite against each store: SQLite files and PostgreSQL 15.

The PostgreSQL cases use a real server the tests start (tests/services.py); they skip with
a reason when PostgreSQL is missing, and fail instead when DRIVETHRU_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from core.errors import AlreadyHandedOverError
from core.permit import PermitApplication
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from core.values import PermitStatus, Recipient, ReleaseMethod
from tests.factories import DELEGATE_NIK, FrozenClock, ready_permit, submit

StoreFactory = Callable[[], StoreSettings]


def open_service(store: StoreSettings) -> PermitService:
    return PermitService(ServiceSettings.for_demo(store), clock=FrozenClock())


def test_a_permit_survives_a_restart_of_the_service(store: StoreSettings) -> None:
    first = open_service(store)
    ready = ready_permit(first)
    first.close()
    second = open_service(store)
    try:
        permit = second.get(ready.id)
        assert permit.status is PermitStatus.READY
        assert second.resolve_code(ready.code.code).permit_id == ready.id
        notifications = second.recorder.select_notifications(start=1, limit=100)
        ids = [n.id for n in notifications]
        assert ids == sorted(ids)
        assert len(ids) == 9  # 8 permit events and the code index
    finally:
        second.close()


def test_two_windows_racing_hand_over_exactly_once(store: StoreSettings) -> None:
    setup = open_service(store)
    ready = ready_permit(setup)
    setup.release(ready.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.CODE)
    setup.close()
    windows = [open_service(store), open_service(store)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def hand_over(index: int) -> None:
        service = windows[index]
        service.get(ready.id)  # both load the same version first
        barrier.wait()
        try:
            service.hand_over(
                ready.id,
                handover_id=f"window-{index}",
                by=f"operator-{index}",
                recipient=Recipient.OWNER,
                id_checked=True,
                channel=f"lane:{index}",
            )
            outcomes.append("handed_over")
        except AlreadyHandedOverError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=hand_over, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert sorted(outcomes) == ["conflict", "handed_over"]
        permit = windows[0].get(ready.id)
        assert permit.status is PermitStatus.HANDED_OVER
        assert permit.conflicts == 1
        names = [name for name, _ in windows[0].history(ready.id)]
        assert names.count("HandedOver") == 1
        assert names.count("HandoverConflictRecorded") == 1
    finally:
        for service in windows:
            service.close()


def test_submitting_again_from_another_process_returns_the_same_permit(
    store: StoreSettings,
) -> None:
    one, two = open_service(store), open_service(store)
    try:
        kwargs = {
            "site": "badung",
            "reference": "LAP-77",
            "kind": "SIUP",
            "applicant_name": "Sri Rahayu",
            "nik": "3404016002850003",
            "plate": "AB 4521 KD",
        }
        assert one.submit(**kwargs) == two.submit(**kwargs)  # type: ignore[arg-type]
        assert two.get(one.submit(**kwargs)).version == 1  # type: ignore[arg-type]
    finally:
        one.close()
        two.close()


def test_a_command_that_loses_a_race_is_retried_with_its_code_index(
    store: StoreSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process changes the permit between our load and our save: we try again."""
    ours, theirs = open_service(store), open_service(store)
    try:
        permit_id = ready_permit_until_printed(ours)
        original = PermitApplication.stage
        raced: list[bool] = []

        def stage_while_another_writer_saves(self: PermitApplication, *args: Any) -> None:
            if not raced:
                raced.append(True)
                theirs.authorise_delegate(
                    permit_id, name="Ketut Arta", nik=DELEGATE_NIK,
                    expires_at=theirs.clock() + timedelta(days=2),
                )  # fmt: skip
            original(self, *args)

        monkeypatch.setattr(PermitApplication, "stage", stage_while_another_writer_saves)
        issued = ours.stage(permit_id, "runner", "R9-09")
        assert raced == [True]
        assert ours.resolve_code(issued.code).permit_id == permit_id  # the index was saved
        names = [name for name, _ in ours.history(permit_id)]
        assert names[-3:] == ["DelegateAuthorised", "Staged", "PickupCodeIssued"]
        assert ours.get(permit_id).status is PermitStatus.READY
    finally:
        ours.close()
        theirs.close()


def ready_permit_until_printed(service: PermitService) -> uuid.UUID:
    permit_id = submit(service)
    service.verify_documents(permit_id, "officer")
    service.assess_fee(permit_id, "officer", 0)
    service.approve(permit_id, "officer")
    service.print_document(permit_id, "officer")
    return permit_id
