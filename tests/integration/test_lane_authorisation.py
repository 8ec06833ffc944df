"""A lane's operator hands over and returns only the permits released to their lanes."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.runtime import Runtime
from core.values import PermitStatus, ReleaseMethod
from tests.factories import NIK, ready_permit
from tests.integration.server_app import bearer, server_settings


def released_to(runtime: Runtime, lane: str, permit_id: uuid.UUID | None = None) -> uuid.UUID:
    """A READY permit released to ``lane`` (or ``permit_id`` moved there by a later read)."""
    if permit_id is None:
        permit_id = ready_permit(runtime.service).id
    runtime.service.release(
        permit_id, lane=lane, window=lane, visit=uuid.uuid4(), method=ReleaseMethod.CODE
    )
    return permit_id


def handover(client: TestClient, who: str, lane: str, permit_id: uuid.UUID) -> int:
    answer = client.post(
        f"/api/lanes/{lane}/handover", headers=bearer(who),
        json={"permit_id": str(permit_id), "handover_id": f"{who}-{lane}", "nik": NIK},
    )  # fmt: skip
    return answer.status_code


def test_an_operator_cannot_hand_over_or_return_a_permit_released_to_another_lane(
    tmp_path: Path,
) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        at_lane_1 = released_to(runtime, "1")
        assert handover(client, "operator-2", "2", at_lane_1) == 403
        returned = client.post(
            "/api/lanes/2/return", headers=bearer("operator-2"),
            json={"permit_id": str(at_lane_1)},
        )  # fmt: skip
        assert returned.status_code == 403
        error = returned.json()["error"]
        assert "jalur 1" in error["message_id"]
        assert "lane 1" in error["message_en"]
        permit = runtime.service.get(at_lane_1)
        assert (permit.status, permit.lane) == (PermitStatus.RELEASED, "1")
        assert handover(client, "operator-1", "1", at_lane_1) == 200


def test_a_permit_a_later_read_moved_belongs_to_its_new_lane(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        moved = released_to(runtime, "2", released_to(runtime, "1"))
        assert handover(client, "operator-1", "1", moved) == 403
        # One who works both lanes is told to use the lane the permit is at.
        assert handover(client, "operator-12", "1", moved) == 409
        assert handover(client, "admin", "1", moved) == 409
        assert runtime.service.get(moved).status is PermitStatus.RELEASED
        assert handover(client, "operator-2", "2", moved) == 200
