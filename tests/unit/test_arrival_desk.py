"""The arrival desk on the in-memory store: what an arrival releases, once."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import pytest

from core.arrivals import ArrivalDesk, ArrivalInput, PlateCandidates, ReleasePolicy
from core.codes import PickupCode
from core.contract import AckOutcome, Arrival, PlateEvidence
from core.values import PermitStatus, Recipient, code_index_id, visit_id_for
from core.visit import LaneVisit
from tests.factories import memory_service, ready_permit, sqlite_service


def arrival(code_sha256: str | None = None, plate: str | None = None, **extra: object) -> Arrival:
    evidence = PlateEvidence(text=plate, confidence=0.9, frames=10) if plate else None
    fields: dict[str, object] = {
        "site": "badung", "lane": "1", "visit": uuid.uuid4(),
        "code_sha256": code_sha256, "plate": evidence,
    }  # fmt: skip
    fields.update(extra)
    return Arrival.model_validate(fields)


def test_a_valid_code_releases_its_permit_to_the_window() -> None:
    service = memory_service()
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    decision = desk.decide(arrival(ready.code.code_sha256), window="2")
    assert decision.outcome is AckOutcome.RELEASED
    assert decision.released == (str(ready.id),)
    permit = service.get(ready.id)
    assert (permit.status, permit.lane, permit.window) == (PermitStatus.RELEASED, "1", "2")


def test_a_redelivered_arrival_is_a_duplicate_and_changes_nothing() -> None:
    service = memory_service()
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    first = arrival(ready.code.code_sha256)
    desk.decide(first, window="1")
    version = service.get(ready.id).version
    again = desk.decide(first, window="1")
    assert again.outcome is AckOutcome.DUPLICATE
    assert again.duplicate_of is AckOutcome.RELEASED
    assert again.permits == (str(ready.id),)
    assert again.released == ()
    assert service.get(ready.id).version == version


def test_an_arrival_sent_again_shows_its_release_again_until_handed_over() -> None:
    # No ack reached the edge, so the release may not have reached the display either.
    service = memory_service()
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    first = arrival(ready.code.code_sha256)
    desk.decide(first, window="1")
    again = desk.decide(first, window="1")
    assert [p.id for p in again.released_permits] == [ready.id]
    assert again.released_permits[0].status is PermitStatus.RELEASED
    service.hand_over(
        ready.id, handover_id="h", by="op", recipient=Recipient.OWNER, id_checked=True,
        channel="lane:1",
    )  # fmt: skip
    late = desk.decide(first, window="1")
    assert (late.outcome, late.released_permits) == (AckOutcome.DUPLICATE, ())


@pytest.mark.parametrize(
    ("make_code", "reason"),
    [
        (lambda svc, ready: PickupCode.generate().sha256, "tidak dikenal"),
        (lambda svc, ready: svc.reissue_code(ready.id, "o", "lost") and ready.code.code_sha256,
         "diganti"),
    ],
)  # fmt: skip
def test_unknown_and_replaced_codes_are_rejected_with_the_reason(make_code, reason) -> None:  # type: ignore[no-untyped-def]
    service = memory_service()
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    decision = desk.decide(arrival(make_code(service, ready)), window="1")
    assert decision.outcome is AckOutcome.REJECTED
    assert decision.reason is not None
    assert reason in decision.reason
    assert service.get(ready.id).status is PermitStatus.READY


def test_a_code_from_another_site_is_rejected() -> None:
    service = memory_service()
    ready = ready_permit(service, site="sleman")
    decision = ArrivalDesk(service, ReleasePolicy.CODE).decide(
        arrival(ready.code.code_sha256), window="1"
    )
    assert decision.outcome is AckOutcome.REJECTED
    assert decision.reason is not None
    assert "sleman" in decision.reason


def test_a_plate_alone_prestages_under_the_code_policy() -> None:
    service = memory_service()
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    found = PlateCandidates("exact", "DK1234AB", (ready.id,))
    decision = desk.decide(arrival(plate="DK1234AB"), window="1", plate=found)
    assert decision.outcome is AckOutcome.PRESTAGED
    assert decision.permits == (str(ready.id),)
    assert service.get(ready.id).status is PermitStatus.READY


def test_an_exact_plate_releases_under_code_or_plate() -> None:
    service = memory_service()
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE_OR_PLATE)
    found = PlateCandidates("exact", "DK1234AB", (ready.id,))
    decision = desk.decide(arrival(plate="DK1234AB"), window="1", plate=found)
    assert decision.outcome is AckOutcome.RELEASED
    assert service.get(ready.id).status is PermitStatus.RELEASED
    near = PlateCandidates("near", "DK1234AB", (ready_permit(service).id,))
    assert desk.decide(arrival(plate="DK1234A"), "1", near).outcome is AckOutcome.PRESTAGED


def test_code_and_plate_needs_both() -> None:
    service = memory_service()
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE_AND_PLATE)
    car = uuid.uuid4()
    only_code = desk.decide(arrival(ready.code.code_sha256, visit=car), window="1")
    assert only_code.outcome is AckOutcome.PRESTAGED
    both = desk.decide(
        arrival(ready.code.code_sha256, plate="DK1234AB", visit=car),
        window="1",
        plate=PlateCandidates("exact", "DK1234AB", (ready.id,)),
    )
    assert both.outcome is AckOutcome.RELEASED


def test_ambiguous_and_unknown_plates_release_nothing() -> None:
    service = memory_service()
    one, two = ready_permit(service), ready_permit(service, plate="DK 1234 AE")
    desk = ArrivalDesk(service, ReleasePolicy.CODE_OR_PLATE)
    vague = PlateCandidates("ambiguous", None, (one.id, two.id))
    assert desk.decide(arrival(plate="DK1234A"), "1", vague).outcome is AckOutcome.AMBIGUOUS
    none = PlateCandidates("none", None, ())
    assert desk.decide(arrival(plate="B1A"), "1", none).outcome is AckOutcome.NO_MATCH
    assert service.get(one.id).status is PermitStatus.READY


def test_a_handed_over_permit_is_not_released_again() -> None:
    service = memory_service()
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    desk.decide(arrival(ready.code.code_sha256), window="1")
    service.hand_over(
        ready.id, handover_id="h", by="op", recipient=Recipient.OWNER, id_checked=True,
        channel="lane:1",
    )  # fmt: skip
    later = desk.decide(arrival(ready.code.code_sha256), window="1")
    assert later.outcome is AckOutcome.REJECTED
    assert later.reason is not None
    assert "diserahkan" in later.reason


@pytest.mark.parametrize("sole_writer", [False, True], ids=["fast-forward", "sole-writer"])
def test_a_batch_is_decided_as_one_by_one_would_be(sole_writer: bool) -> None:
    service = memory_service(sole_writer=sole_writer)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    permits = [ready_permit(service, plate=f"DK {n} AB") for n in range(1, 6)]
    car = uuid.uuid4()
    first = arrival(permits[0].code.code_sha256, visit=car)
    batch = [
        ArrivalInput(first, "1"),
        ArrivalInput(first, "1"),  # the same message twice in one batch
        ArrivalInput(arrival(permits[1].code.code_sha256), "1"),
        ArrivalInput(arrival(permits[1].code.code_sha256), "2"),  # one code, two cars
        ArrivalInput(arrival(PickupCode.generate().sha256), "1"),
        *(ArrivalInput(arrival(p.code.code_sha256), "1") for p in permits[2:]),
    ]
    decisions = desk.decide_many(batch)
    outcomes = [d.outcome for d in decisions]
    assert outcomes[0] is AckOutcome.RELEASED
    assert outcomes[1] is AckOutcome.DUPLICATE
    assert outcomes[2] is AckOutcome.RELEASED
    assert outcomes[3] is AckOutcome.RELEASED  # the second car takes it to its window
    assert outcomes[4] is AckOutcome.REJECTED
    assert outcomes[5:] == [AckOutcome.RELEASED] * 3
    second = service.get(permits[1].id)
    assert (second.status, second.window, second.visit) == (
        PermitStatus.RELEASED, "2", batch[3].arrival.visit,
    )  # fmt: skip
    for permit in permits:
        names = [name for name, _ in service.history(permit.id)]
        assert names.count("Released") == (2 if permit is permits[1] else 1)
    # Everything was saved: the same batch again is all duplicates.
    again = desk.decide_many(batch)
    assert {d.outcome for d in again} == {AckOutcome.DUPLICATE}


@pytest.mark.parametrize("sole_writer", [False, True], ids=["fast-forward", "sole-writer"])
@pytest.mark.parametrize("batched", [False, True], ids=["one", "batch"])
def test_an_arrival_id_is_decided_once_whatever_visit_it_names(
    sole_writer: bool, batched: bool
) -> None:
    service = memory_service(sole_writer=sole_writer)
    desk = ArrivalDesk(service, ReleasePolicy.CODE)
    one, other = ready_permit(service, plate="DK 1 AB"), ready_permit(service, plate="DK 2 AB")
    first = arrival(one.code.code_sha256)
    reused = arrival(other.code.code_sha256, id=first.id)  # the same id, another visit
    assert reused.visit != first.visit

    def decide(*items: Arrival) -> list[AckOutcome]:
        if batched:
            return [d.outcome for d in desk.decide_many([ArrivalInput(a, "1") for a in items])]
        return [desk.decide(a, "1").outcome for a in items]

    assert decide(first) == [AckOutcome.RELEASED]
    again = desk.decide(reused, "1")
    assert (again.outcome, again.duplicate_of) == (AckOutcome.DUPLICATE, AckOutcome.RELEASED)
    assert again.permits == (str(one.id),)
    assert service.get(other.id).status is PermitStatus.READY
    # Both in one batch: the second is the duplicate of the first.
    third = ready_permit(service, plate="DK 3 AB")
    pair = arrival(third.code.code_sha256)
    assert decide(pair, arrival(other.code.code_sha256, id=pair.id)) == [
        AckOutcome.RELEASED, AckOutcome.DUPLICATE,
    ]  # fmt: skip
    assert service.get(other.id).status is PermitStatus.READY


def test_a_reused_arrival_id_is_a_duplicate_after_a_restart(tmp_path: Path) -> None:
    first_run = sqlite_service(tmp_path / "events.db", sole_writer=True)
    one, other = ready_permit(first_run, plate="DK 1 AB"), ready_permit(first_run, plate="DK 2 AB")
    first = arrival(one.code.code_sha256)
    ArrivalDesk(first_run, ReleasePolicy.CODE).decide(first, "1")
    first_run.close()
    restarted = sqlite_service(tmp_path / "events.db", sole_writer=True)
    fresh = ready_permit(restarted, plate="DK 3 AB")
    batch = [
        ArrivalInput(arrival(other.code.code_sha256, id=first.id), "1"),
        ArrivalInput(arrival(fresh.code.code_sha256), "1"),
    ]
    decisions = ArrivalDesk(restarted, ReleasePolicy.CODE).decide_many(batch)
    assert [d.outcome for d in decisions] == [AckOutcome.DUPLICATE, AckOutcome.RELEASED]
    assert restarted.get(other.id).status is PermitStatus.READY
    restarted.close()


def test_a_code_shown_after_the_plate_released_the_permit_confirms_it_quietly() -> None:
    service = memory_service()
    ready = ready_permit(service)
    desk = ArrivalDesk(service, ReleasePolicy.CODE_OR_PLATE)
    car = uuid.uuid4()
    by_plate = desk.decide(
        arrival(plate="DK1234AB", visit=car), "1", PlateCandidates("exact", "DK1234AB", (ready.id,))
    )
    assert by_plate.released == (str(ready.id),)
    by_code = desk.decide(arrival(ready.code.code_sha256, visit=car), "1")
    assert by_code.outcome is AckOutcome.RELEASED
    assert by_code.released == ()  # nothing new for the window
    service.hand_over(
        ready.id, handover_id="h", by="op", recipient=Recipient.OWNER, id_checked=True,
        channel="lane:1",
    )  # fmt: skip
    late = desk.decide(arrival(ready.code.code_sha256, visit=car), "1")
    assert late.outcome is AckOutcome.RELEASED
    assert late.reason is not None
    assert "kunjungan ini" in late.reason
    other_car = desk.decide(arrival(ready.code.code_sha256), "1")
    assert other_car.outcome is AckOutcome.REJECTED  # another car with a used code


def test_a_sole_writer_restarted_still_knows_every_arrival_it_decided(tmp_path: Path) -> None:
    # A sole writer takes a visit it has not in memory for new, without reading the store.
    # After a restart (memory empty) a redelivered arrival must still be a duplicate, and
    # the new arrivals in the same batch must still be decided, each exactly once.
    first_run = sqlite_service(tmp_path / "events.db", sole_writer=True)
    permits = [ready_permit(first_run, plate=f"DK {n} AB") for n in range(1, 5)]
    before = [ArrivalInput(arrival(p.code.code_sha256), "1") for p in permits[:2]]
    assert [d.outcome for d in ArrivalDesk(first_run, ReleasePolicy.CODE).decide_many(before)] == [
        AckOutcome.RELEASED, AckOutcome.RELEASED,
    ]  # fmt: skip
    first_run.close()

    restarted = sqlite_service(tmp_path / "events.db", sole_writer=True)
    assert restarted.cached(visit_id_for("badung", "1", before[0].arrival.visit)) is None
    batch = [*before, *(ArrivalInput(arrival(p.code.code_sha256), "1") for p in permits[2:])]
    decisions = ArrivalDesk(restarted, ReleasePolicy.CODE).decide_many(batch)
    assert [d.outcome for d in decisions] == [
        AckOutcome.DUPLICATE, AckOutcome.DUPLICATE, AckOutcome.RELEASED, AckOutcome.RELEASED,
    ]  # fmt: skip
    assert [d.duplicate_of for d in decisions[:2]] == [AckOutcome.RELEASED] * 2
    for permit in permits:
        names = [name for name, _ in restarted.history(permit.id)]
        assert names.count("Released") == 1
    restarted.close()


def test_warming_loads_the_waiting_permits_and_their_codes(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path / "events.db", sole_writer=True)
    permits = [ready_permit(service, plate=f"DK {n} AB") for n in range(1, 4)]
    service.close()
    restarted = sqlite_service(tmp_path / "events.db", sole_writer=True)
    assert all(restarted.cached(p.id) is None for p in permits)
    loaded = restarted.warm([(p.code.code_sha256, p.id) for p in permits])
    assert loaded == 3
    assert all(restarted.cached(p.id) is not None for p in permits)
    assert all(restarted.cached(code_index_id(p.code.code_sha256)) for p in permits)
    assert restarted.warm([(p.code.code_sha256, p.id) for p in permits]) == 0  # already in
    restarted.close()


def test_a_new_visit_is_one_event_and_visits_stored_in_two_still_replay(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path / "events.db")
    ready = ready_permit(service)
    first = arrival(ready.code.code_sha256)
    ArrivalDesk(service, ReleasePolicy.CODE).decide(first, "1")
    visit_id = visit_id_for("badung", "1", first.visit)
    assert [type(e).__name__ for e in service.events.get(visit_id)] == ["Arrived"]

    # A visit stored before the first outcome moved into `Arrived`: an `Arrived` without
    # the arrival's fields, then an `ArrivalRecorded`.
    earlier = arrival(plate="DK9ZZ")
    legacy = LaneVisit("badung", "1", earlier.visit, earlier.at)
    legacy.record_arrival(str(earlier.id), "no_match", "none", (), "DK9ZZ", None, earlier.at)
    stored = [service.mapper.to_stored_event(e) for e in legacy.collect_events()]
    state = json.loads(stored[0].state)
    for name in ("arrival_id", "outcome", "reason", "permits", "plate", "method"):
        del state[name]
    stored[0] = dataclasses.replace(stored[0], state=json.dumps(state).encode())
    service.recorder.insert_events(stored)
    service.close()

    restarted = sqlite_service(tmp_path / "events.db")
    replayed = restarted.repository.get(legacy.id)
    assert isinstance(replayed, LaneVisit)
    assert replayed.plate == "DK9ZZ"
    again = ArrivalDesk(restarted, ReleasePolicy.CODE).decide(earlier, "1")
    assert (again.outcome, again.duplicate_of) == (AckOutcome.DUPLICATE, AckOutcome.NO_MATCH)
    restarted.close()
