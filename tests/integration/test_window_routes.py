"""The window's routes in process: the NIK check at the handover (holder, delegate, last 6
digits, mismatch, override, guessing), and the pick among a plate's candidates."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.runtime import Runtime
from core.arrivals import PlateCandidates
from core.contract import AckOutcome, Arrival, Departure, PlateEvidence
from core.values import PermitStatus, ReleaseMethod, visit_id_for
from core.visit import LaneVisit
from tests.factories import DELEGATE_NIK, NIK, ready_permit
from tests.integration.server_app import bearer, server_settings


def released(runtime: Runtime, lane: str = "1", plate: str = "DK 1234 AB") -> uuid.UUID:
    permit_id = ready_permit(runtime.service, plate=plate).id
    runtime.service.release(
        permit_id, lane=lane, window=lane, visit=uuid.uuid4(), method=ReleaseMethod.CODE
    )
    return permit_id


def hand_over(client: TestClient, permit_id: uuid.UUID, lane: str = "1", **body: Any) -> Any:
    return client.post(
        f"/api/lanes/{lane}/handover", headers=bearer(f"operator-{lane}"),
        json={"permit_id": str(permit_id), "handover_id": uuid.uuid4().hex, **body},
    )  # fmt: skip


def test_the_holders_nik_or_its_last_six_digits_hand_over(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        whole, tail = released(runtime), released(runtime)
        assert hand_over(client, whole, nik=NIK).status_code == 200
        assert hand_over(client, tail, nik=NIK[-6:]).status_code == 200
        for permit_id in (whole, tail):
            handover = runtime.service.peek(permit_id).handover
            assert handover is not None
            assert (handover.identity, handover.by) == ("nik_match", "operator-1")


def test_another_nik_is_refused_and_nothing_is_handed_over(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        permit_id = released(runtime)
        answer = hand_over(client, permit_id, nik=DELEGATE_NIK)
        assert answer.status_code == 409
        error = answer.json()["error"]
        assert error["code"] == "identity_mismatch"
        assert "pemilik izin" in error["message_id"]
        assert "does not match the permit holder" in error["message_en"]
        assert runtime.service.get(permit_id).status is PermitStatus.RELEASED
        # Neither a NIK nor a reason: the tick box alone is not a check.
        alone = hand_over(client, permit_id, id_checked=True)
        assert alone.status_code == 422
        assert hand_over(client, permit_id, nik="12345").status_code == 422


def test_a_delegate_hands_over_with_their_own_nik(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        permit_id = released(runtime)
        issued = runtime.service.authorise_delegate(
            permit_id, name="Ni Made Sari", nik=DELEGATE_NIK,
            expires_at=datetime.now(UTC) + timedelta(days=2),
        )  # fmt: skip
        delegate = {"recipient": "delegate", "delegate_id": issued.code_sha256[:12]}
        refused = hand_over(client, permit_id, nik=NIK, **delegate)
        assert refused.status_code == 409
        assert "penerima kuasa" in refused.json()["error"]["message_id"]
        assert hand_over(client, permit_id, nik=DELEGATE_NIK[-6:], **delegate).status_code == 200
        handover = runtime.service.peek(permit_id).handover
        assert handover is not None
        assert (handover.recipient.value, handover.identity) == ("delegate", "nik_match")


def test_an_override_needs_a_reason_and_is_recorded(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        permit_id = released(runtime)
        assert hand_over(client, permit_id, override_reason="").status_code == 422
        reason = "KTP rusak, dicek KK / torn KTP, family card checked"
        assert hand_over(client, permit_id, override_reason=reason).status_code == 200
        handover = runtime.service.peek(permit_id).handover
        assert handover is not None
        assert (handover.identity, handover.identity_reason) == ("operator_override", reason)


def test_wrong_niks_for_one_permit_are_rate_limited(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        permit_id = released(runtime)
        burst = runtime.settings.rate_limits.wrong_nik_per_permit.burst
        wrong = [f"{n:06d}" for n in range(burst)]
        assert [hand_over(client, permit_id, nik=w).status_code for w in wrong] == [409] * burst
        limited = hand_over(client, permit_id, nik=NIK)  # even the right one waits now
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert runtime.service.get(permit_id).status is PermitStatus.RELEASED
        # Another permit at the same lane is still checked.
        assert hand_over(client, released(runtime), nik=NIK).status_code == 200


def test_no_nik_is_checked_for_a_permit_at_another_lane(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        at_lane_1 = released(runtime, "1")
        burst = runtime.settings.rate_limits.wrong_nik_per_permit.burst
        for _ in range(burst + 1):
            assert hand_over(client, at_lane_1, lane="2", nik=NIK).status_code == 403
        assert hand_over(client, at_lane_1, nik=NIK).status_code == 200


def test_the_operator_picks_one_of_a_plates_candidates_after_the_ktp_check(
    tmp_path: Path,
) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        near_a = ready_permit(runtime.service, plate="DK 1234 AB", slot="R1-01").id
        near_b = ready_permit(runtime.service, plate="DK 1234 AD", slot="R1-02").id
        ready_permit(runtime.service, plate="B 77 XYZ")
        runtime.runner.wake(0)
        found: dict[str, Any] = {}
        for _ in range(50):  # the read models catch up within a moment
            found = client.get(
                "/api/lanes/1/candidates",
                params={"plate": "DK1234AX"},
                headers=bearer("operator-1"),
            ).json()
            if len(found["candidates"]) == 2:
                break
            time.sleep(0.05)
        assert found["match"] == "ambiguous"
        assert {c["id"] for c in found["candidates"]} == {str(near_a), str(near_b)}
        assert {c["slot"] for c in found["candidates"]} == {"R1-01", "R1-02"}
        assert all("*" in c["holder"] for c in found["candidates"])

        visit = uuid.uuid4()
        pick: dict[str, Any] = {
            "permit_id": str(near_b), "visit": str(visit),
            "candidates": [str(near_a), str(near_b)],
        }  # fmt: skip
        wrong = client.post(
            "/api/lanes/1/pick", headers=bearer("operator-1"), json={**pick, "nik": DELEGATE_NIK}
        )
        assert wrong.status_code == 409
        assert runtime.service.get(near_b).status is PermitStatus.READY
        picked = client.post(
            "/api/lanes/1/pick", headers=bearer("operator-1"), json={**pick, "nik": NIK[-6:]}
        )
        assert picked.status_code == 200
        assert picked.json()["recipient"] == "owner"
        permit = runtime.service.get(near_b)
        assert (permit.status, permit.lane, permit.visit) == (PermitStatus.RELEASED, "1", visit)
        assert runtime.service.get(near_a).status is PermitStatus.READY
        car: LaneVisit = runtime.service.repository.get(visit_id_for("badung", "1", visit))
        assert car.picked == {str(near_b): "operator-1"}
        events = [type(e).__name__ for e in runtime.service.events.get(car.id)]
        assert events[-1] == "CandidatePicked"
        # The same pick again records nothing more.
        again = client.post(
            "/api/lanes/1/pick", headers=bearer("operator-1"), json={**pick, "nik": NIK}
        )
        assert again.status_code == 200
        assert again.json()["released"] is False
        assert len(list(runtime.service.events.get(car.id))) == len(events)


def test_a_plate_the_entry_camera_read_is_on_the_fetch_now_lists_until_released(
    tmp_path: Path,
) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        ready = ready_permit(runtime.service, plate="DK 808 RN", slot="R4-11")
        seen = Arrival(
            site="badung", lane="1", visit=uuid.uuid4(), camera="entry",
            plate=PlateEvidence(text="DK808RN", confidence=0.95, frames=12),
        )  # fmt: skip
        decided = runtime.desk.decide(seen, "1", PlateCandidates("exact", "DK808RN", (ready.id,)))
        assert decided.outcome is AckOutcome.PRESTAGED  # the site releases on a code

        def fetch_now(who: str, path: str = "/api/lanes/fetch-now") -> Any:
            answer = client.get(path, headers=bearer(who))
            return answer.json()["permits"] if answer.status_code == 200 else answer.status_code

        def operator_1_list(empty: bool) -> Any:
            """Operator 1's list once it is (not) empty: the read models catch up in a moment."""
            listed: Any = []
            for _ in range(50):
                listed = fetch_now("operator-1")
                if (listed == []) == empty:
                    break
                time.sleep(0.05)
            return listed

        listed = operator_1_list(empty=False)
        assert [(p["id"], p["slot"], p["lane"], p["read_plate"]) for p in listed] == [
            (str(ready.id), "R4-11", "1", "DK808RN")
        ]
        assert "*" in listed[0]["holder"]
        assert fetch_now("officer") == listed
        assert fetch_now("operator-2") == []  # not one of their lanes
        assert fetch_now("operator-1", "/api/lanes/1/fetch-now") == listed
        assert fetch_now("operator-2", "/api/lanes/1/fetch-now") == 403

        # The car shows its code at the window: released, off the list.
        runtime.desk.decide(
            Arrival(site="badung", lane="1", visit=seen.visit, code_sha256=ready.code.code_sha256),
            "1",
        )
        assert operator_1_list(empty=True) == []

        # A car the entry camera saw that drives off without coming to the window: off the
        # list once the edge says it left.
        other = ready_permit(runtime.service, plate="DK 909 RN", slot="R4-12")
        passing = Arrival(
            site="badung", lane="1", visit=uuid.uuid4(), camera="entry",
            plate=PlateEvidence(text="DK909RN", confidence=0.95, frames=12),
        )  # fmt: skip
        runtime.desk.decide(passing, "1", PlateCandidates("exact", "DK909RN", (other.id,)))
        assert [p["id"] for p in operator_1_list(empty=False)] == [str(other.id)]
        runtime.desk.depart(Departure(site="badung", lane="1", visit=passing.visit))
        assert operator_1_list(empty=True) == []
