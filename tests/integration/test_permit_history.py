"""The audit trail through the API and the CLI, on a real SQLite store and read models:
a permit as it stood at an instant, its events with who did what, and who may see them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.runtime import Runtime
from core.contract import TeamHandover
from core.personal import ERASED
from core.teams import TeamDesk, TeamOutcome
from tests.integration.server_app import NIK_KEY, bearer, server_settings

WITA = timezone(timedelta(hours=8))
ROOT = Path(__file__).resolve().parents[2]


def now() -> datetime:
    """A moment strictly between the events saved before and after it."""
    time.sleep(0.02)
    moment = datetime.now(UTC)
    time.sleep(0.02)
    return moment


@dataclass(frozen=True)
class Lifecycle:
    permit_id: str
    number: str
    before_submission: datetime
    submitted: datetime
    fee_assessed: datetime
    ready: datetime


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        yield client


def run_lifecycle(client: TestClient) -> Lifecycle:
    """A permit taken to READY through the API by the officer, noting the time between steps."""
    officer = bearer("officer")
    before = now()
    created = client.post(
        "/api/applications",
        json={"reference": "LAP-HIST-1", "kind": "SIUP", "applicant_name": "I Wayan Sudirta",
              "nik": "5103011204800001", "plate": "DK 1234 AB"},
        headers=officer,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    permit = created.json()
    path = f"/api/applications/{permit['id']}"
    submitted = now()
    steps: list[tuple[str, dict[str, object]]] = [
        ("verify", {}),
        ("fee", {"amount_rupiah": 50_000}),
    ]
    for step, body in steps:
        assert client.post(f"{path}/{step}", json=body, headers=officer).status_code == 200
    fee_assessed = now()
    steps = [("payment", {"reference": "P-HIST-1", "amount_rupiah": 50_000}),
             ("approve", {}), ("print", {}), ("stage", {"slot": "R2-14"})]  # fmt: skip
    for step, body in steps:
        answer = client.post(f"{path}/{step}", json=body, headers=officer)
        assert answer.status_code == 200, answer.text
    return Lifecycle(permit["id"], permit["number"], before, submitted, fee_assessed, now())


def test_a_permit_reads_as_it_stood_at_an_earlier_instant(client: TestClient) -> None:
    life = run_lifecycle(client)
    path = f"/api/applications/{life.permit_id}"
    # 10:32 on the site's clock (+08:00) is the same instant as 02:32 UTC.
    then = client.get(
        path,
        params={"at": life.fee_assessed.astimezone(WITA).isoformat()},
        headers=bearer("officer"),
    )
    assert then.status_code == 200, then.text
    assert (then.json()["status"], then.json()["fee_rupiah"]) == ("fee_assessed", 50_000)
    assert then.json()["slot"] is None
    assert then.json()["holder"] == "I W**** S******"  # masked, as the route shows it today
    submitted = client.get(path, params={"at": life.submitted.isoformat()}, headers=bearer("admin"))
    assert (submitted.json()["status"], submitted.json()["version"]) == ("submitted", 1)
    current = client.get(path, headers=bearer("officer")).json()
    later = client.get(path, params={"at": life.ready.isoformat()}, headers=bearer("officer"))
    assert later.json() == current
    assert current["status"] == "ready"


def test_the_events_say_who_did_what_and_the_state_after_each(client: TestClient) -> None:
    life = run_lifecycle(client)
    answer = client.get(f"/api/applications/{life.permit_id}/events", headers=bearer("officer"))
    assert answer.status_code == 200, answer.text
    history = answer.json()
    assert history["number"] == life.number
    events = history["events"]
    names = [e["event"] for e in events]
    assert names == ["Submitted", "DocumentsVerified", "FeeAssessed", "FeePaid", "Approved",
                     "Printed", "Staged", "PickupCodeIssued"]  # fmt: skip
    assert [e["version"] for e in events] == list(range(1, 9))
    assert [e["state"]["status"] for e in events][:3] == [
        "submitted", "documents_verified", "fee_assessed"
    ]  # fmt: skip
    assert events[1]["by"] == "officer"  # the key's name that verified
    assert events[2]["details"]["amount_rupiah"] == 50_000
    assert events[6]["details"]["slot"] == "R2-14"
    assert events[0]["details"]["holder"] == "I W**** S******"
    assert events[0]["label_id"] == "Permohonan diajukan"
    assert all(e["at"] == e["recorded_at"] and e["happened_at"] is None for e in events)
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    # Never the name in clear, the NIK, its hashes or the code's hash.
    text = answer.text
    for secret in ("Wayan", "5103011204800001", "nik_hash", "code_sha256", "by_code"):
        assert secret not in text
    # Cut at an instant: the events that made the permit as it stood then.
    cut = client.get(
        f"/api/applications/{life.permit_id}/events",
        params={"at": life.fee_assessed.isoformat()},
        headers=bearer("officer"),
    ).json()
    assert [e["event"] for e in cut["events"]] == names[:3]


def test_an_instant_before_the_application_is_a_clear_404(client: TestClient) -> None:
    life = run_lifecycle(client)
    for route in ("", "/events"):
        answer = client.get(
            f"/api/applications/{life.permit_id}{route}",
            params={"at": life.before_submission.isoformat()},
            headers=bearer("officer"),
        )
        assert answer.status_code == 404, answer.text
        error = answer.json()["error"]
        assert error["code"] == "not_yet_submitted"
        assert "belum ada" in error["message_id"]
        assert "did not exist yet" in error["message_en"]


def test_a_time_without_a_zone_is_refused_with_a_reason(client: TestClient) -> None:
    life = run_lifecycle(client)
    for route in ("", "/events"):
        answer = client.get(
            f"/api/applications/{life.permit_id}{route}",
            params={"at": "2026-12-01T10:32:00"},
            headers=bearer("officer"),
        )
        assert answer.status_code == 422, answer.text
        problems = answer.json()["error"]["problems"]
        assert problems[0]["where"] == "query.at"
        assert "timezone" in problems[0]["problem"]
    nonsense = client.get(
        f"/api/applications/{life.permit_id}", params={"at": "yesterday"}, headers=bearer("officer")
    )
    assert nonsense.status_code == 422


def test_the_history_is_the_offices_not_a_lane_operators(client: TestClient) -> None:
    life = run_lifecycle(client)
    path = f"/api/applications/{life.permit_id}"
    at = {"at": life.ready.isoformat()}
    assert client.get(path, headers=bearer("operator-1")).status_code == 200  # as before
    for route, params in ((path, at), (f"{path}/events", {})):
        refused = client.get(route, params=params, headers=bearer("operator-1"))
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
        assert client.get(route, params=params).status_code == 401
        assert client.get(route, params=params, headers=bearer("admin")).status_code == 200
    unknown = client.get(
        "/api/applications/00000000-0000-4000-8000-000000000000/events", headers=bearer("officer")
    )
    assert unknown.status_code == 404


def test_a_team_handover_counts_from_when_it_happened_not_when_it_synced(
    client: TestClient,
) -> None:
    life = run_lifecycle(client)
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assigned = client.post(
        f"/api/applications/{life.permit_id}/team",
        json={"team": "a", "date": "2026-12-01", "place": "Balai Desa"},
        headers=bearer("officer"),
    )
    assert assigned.status_code == 200, assigned.text
    before_handover = now()
    happened_at = now().astimezone(WITA)
    between = now()  # handed over in the field, not synced yet
    handover = TeamHandover(
        team="a", permit_id=life.permit_id, code_sha256=None, happened_at=happened_at,
        by="petugas-ribon-1", recipient="owner", id_checked=True,
    )  # fmt: skip
    assert TeamDesk(runtime.service).apply(handover).outcome is TeamOutcome.APPLIED
    path = f"/api/applications/{life.permit_id}"
    state = client.get(path, params={"at": between.isoformat()}, headers=bearer("officer")).json()
    assert (state["status"], state["handed_over_by"]) == ("handed_over", "petugas-ribon-1")
    earlier = client.get(
        path, params={"at": before_handover.isoformat()}, headers=bearer("officer")
    )
    assert (earlier.json()["status"], earlier.json()["team"]) == ("ready", "a")
    events = client.get(f"{path}/events", headers=bearer("officer")).json()["events"]
    handed = events[-1]
    assert handed["event"] == "HandedOver"
    assert datetime.fromisoformat(handed["at"]) == happened_at
    assert datetime.fromisoformat(handed["recorded_at"]) > between
    assert (handed["by"], handed["details"]["channel"]) == ("petugas-ribon-1", "team:a")


def drivethru(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRIVETHRU_STORE": "sqlite", "DRIVETHRU_NIK_KEY": NIK_KEY}
    return subprocess.run(
        [sys.executable, "-m", "launcher", *args], capture_output=True, text=True, timeout=120,
        check=False, cwd=ROOT, env=env,
    )  # fmt: skip


def wait_for_number(client: TestClient, number: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = client.get("/api/applications?status=ready", headers=bearer("officer")).json()
        if any(row["number"] == number for row in rows):
            return
        time.sleep(0.05)
    raise AssertionError(f"{number} never reached the read models")


def test_the_history_command_prints_the_state_at_an_instant(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        life = run_lifecycle(client)
        wait_for_number(client, life.number)
        api_answer: dict[str, Any] = client.get(
            f"/api/applications/{life.permit_id}/events", headers=bearer("officer")
        ).json()
    store = ["--db", str(tmp_path / "events.db"), "--read-models", str(tmp_path / "read.db")]
    done = drivethru("history", life.number, *store)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == api_answer  # the same as the API
    at = life.fee_assessed.astimezone(WITA).isoformat()
    then = drivethru("history", life.number, "--at", at, *store)
    assert then.returncode == 0, then.stderr
    events = json.loads(then.stdout)["events"]
    assert [e["event"] for e in events] == ["Submitted", "DocumentsVerified", "FeeAssessed"]
    assert events[-1]["state"]["status"] == "fee_assessed"

    zoneless = drivethru("history", life.number, "--at", "2026-12-01T10:32:00", *store)
    assert zoneless.returncode == 2
    assert "tanpa zona waktu" in zoneless.stderr
    before = drivethru("history", life.number, "--at", life.before_submission.isoformat(), *store)
    assert before.returncode == 1
    assert "did not exist yet" in before.stderr
    unknown = drivethru("history", "NO-SUCH-NUMBER", *store)
    assert unknown.returncode == 1
    assert "tidak ditemukan / not found" in unknown.stderr


def test_after_erasure_the_history_still_replays_and_reads_erased(client: TestClient) -> None:
    life = run_lifecycle(client)
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.service.erase_personal_data(UUID(life.permit_id), "officer", "permintaan / request")
    answer = client.get(f"/api/applications/{life.permit_id}/events", headers=bearer("officer"))
    assert answer.status_code == 200, answer.text
    events = answer.json()["events"]
    assert events[0]["details"]["holder"] == ERASED
    assert events[0]["details"]["plate"] == ERASED
    assert events[-1]["event"] == "DataErased"
    assert "Wayan" not in answer.text
    assert "DK1234AB" not in answer.text
    then = client.get(
        f"/api/applications/{life.permit_id}",
        params={"at": life.fee_assessed.isoformat()},
        headers=bearer("officer"),
    )
    assert then.json()["status"] == "fee_assessed"  # the old events still replay
    assert "Wayan" not in then.text
