"""Complaints answered: the office lists ratings and complaints, answers or closes them, and
the answer is an event the citizen reads on their page."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from uuid import UUID

from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.runtime import Runtime
from core.complaint import Complaint
from core.values import Recipient, ReleaseMethod
from tests.factories import ReadyPermit, ready_permit
from tests.integration.server_app import bearer, server_settings

HTML = {"accept": "text/html"}
OFFICER = bearer("officer")


def runtime_of(client: TestClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def collected(client: TestClient, lane: str) -> ReadyPermit:
    """A permit released to ``lane`` and handed over there, as the read models show it."""
    runtime = runtime_of(client)
    ready = ready_permit(runtime.service)
    runtime.service.release(
        ready.id, lane=lane, window="1", visit=ready.id, method=ReleaseMethod.CODE
    )
    runtime.service.hand_over(
        ready.id, handover_id=f"h-{ready.id}", by="operator", recipient=Recipient.OWNER,
        id_checked=True, channel=f"lane:{lane}", at_lane=lane,
    )  # fmt: skip
    assert client.portal.call(runtime.runner.reached, 10.0)  # type: ignore[union-attr]
    return ready


def rate(client: TestClient, permit: ReadyPermit, rating: int, complaint: str) -> None:
    sent = client.post(
        f"/p/{permit.code.code}/feedback",
        data={"rating": str(rating), "complaint": complaint},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text


def listed(client: TestClient, **query: str) -> list[dict[str, object]]:
    answer = client.get("/api/complaints", params=query, headers=OFFICER)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, object]] = answer.json()
    return found


def test_the_office_lists_filters_answers_and_closes_and_the_citizen_reads_it(
    tmp_path: Path,
) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime = runtime_of(client)
        slow, quick, silent = collected(client, "1"), collected(client, "2"), collected(client, "2")
        rate(client, slow, 2, "Antre 40 menit di jalur 1")
        rate(client, quick, 5, "Cepat")
        rate(client, silent, 4, "")
        everything = listed(client)
        assert [c["number"] for c in everything] == [
            runtime.service.get(p.id).number for p in (silent, quick, slow)
        ]  # newest first
        first = everything[-1]
        assert (first["permit_id"], first["lane"], first["rating"], first["state"]) == (
            str(slow.id), "1", 2, "open",
        )  # fmt: skip
        assert first["complaint"] == "Antre 40 menit di jalur 1"
        assert [c["permit_id"] for c in listed(client, lane="2")] == [str(silent.id), str(quick.id)]
        assert [c["permit_id"] for c in listed(client, rating="2")] == [str(slow.id)]
        today = datetime.now(runtime.settings.zone).date().isoformat()
        assert len(listed(client, day=today)) == 3
        assert listed(client, day="2020-01-01") == []

        # The officer answers: an event on the complaint, shown on the citizen's page.
        answered = client.post(
            f"/api/complaints/{slow.id}/answer", headers=OFFICER,
            json={"answer": "Maaf, jalur 1 kekurangan petugas; sudah kami tambah."},
        )  # fmt: skip
        assert answered.status_code == 200, answered.text
        assert (answered.json()["state"], answered.json()["answered_by"]) == ("answered", "officer")
        assert [c["permit_id"] for c in listed(client, state="answered")] == [str(slow.id)]
        assert [c["permit_id"] for c in listed(client, state="open")] == [
            str(silent.id), str(quick.id),
        ]  # fmt: skip
        page = client.get(f"/p/{slow.code.code}", headers=HTML).text
        assert 'id="complaint-answer"' in page
        assert "sudah kami tambah" in page
        assert 'id="complaint"' not in client.get(f"/p/{quick.code.code}", headers=HTML).text

        event = recorded(runtime, "ComplaintAnswered")
        assert event["permit_id"] == str(slow.id)
        assert event["answer"] == "Maaf, jalur 1 kekurangan petugas; sudah kami tambah."
        assert (event["officer"], event["site"]) == ("officer", "badung")
        assert datetime.fromisoformat(event["at"]).tzinfo is not None

        # Closed: no more answers, no second close; the citizen is told.
        closing = client.post(
            f"/api/complaints/{slow.id}/close", headers=OFFICER, json={"reason": "selesai"}
        )
        assert closing.status_code == 200
        assert (closing.json()["state"], closing.json()["close_reason"]) == ("closed", "selesai")
        again = client.post(f"/api/complaints/{slow.id}/answer", headers=OFFICER,
                            json={"answer": "lagi"})  # fmt: skip
        assert (again.status_code, again.json()["error"]["code"]) == (409, "complaint_closed")
        twice = client.post(f"/api/complaints/{slow.id}/close", headers=OFFICER, json={})
        assert twice.status_code == 409
        assert "sudah ditutup" in client.get(f"/p/{slow.code.code}", headers=HTML).text
        assert recorded(runtime, "ComplaintClosed")["reason"] == "selesai"
        complaint: Complaint = runtime.service.repository.get(Complaint.create_id(slow.id))
        assert (complaint.answers, complaint.state) == (1, "closed")

        # The office's screen: filtered rows with their permit, lane and forms.
        screen = client.get("/office/complaints?lane=2&state=open", headers={**HTML, **OFFICER})
        assert screen.status_code == 200
        assert screen.text.count('<tr data-id="') == 2
        assert f'data-id="{silent.id}"' in screen.text
        assert 'data-action="answer"' in screen.text


def test_answers_need_an_officer_feedback_and_text(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime = runtime_of(client)
        rated = collected(client, "1")
        rate(client, rated, 1, "Petugas tidak ramah")
        unrated = collected(client, "1")
        url = f"/api/complaints/{rated.id}/answer"
        assert client.post(url, json={"answer": "x"}).status_code == 401
        operator = client.post(url, headers=bearer("operator-1"), json={"answer": "x"})
        assert operator.status_code == 403
        assert client.post(url, headers=OFFICER, json={"answer": "   "}).status_code == 422
        assert client.post(url, headers=OFFICER, json={}).status_code == 422
        missing = client.post(
            f"/api/complaints/{unrated.id}/answer", headers=OFFICER, json={"answer": "x"}
        )
        assert (missing.status_code, missing.json()["error"]["code"]) == (
            404, "feedback_not_found",
        )  # fmt: skip
        assert client.get("/api/complaints", headers=bearer("operator-1")).status_code == 403
        assert client.get("/api/complaints?rating=6", headers=OFFICER).status_code == 422
        for day in ("0", "2026-02-30"):
            assert client.get(f"/api/complaints?day={day}", headers=OFFICER).status_code == 422
        # Nothing was recorded by the refusals.
        assert not notifications(runtime, "core.complaint:")
        assert listed(client)[0]["state"] == "open"


def notifications(runtime: Runtime, prefix: str) -> list[dict[str, object]]:
    found = []
    for n in runtime.service.recorder.select_notifications(start=1, limit=10_000):
        if n.topic.startswith(prefix):
            found.append({"topic": n.topic, "state": json.loads(n.state)})
    return found


def recorded(runtime: Runtime, name: str) -> dict[str, str]:
    """The one event ``name`` of the complaint aggregates, its fields as plain text."""
    [event] = [n["state"] for n in notifications(runtime, f"core.complaint:Complaint.{name}")]
    assert isinstance(event, dict)
    return {k: _plain(v) for k, v in event.items()}


def _plain(value: object) -> str:
    if isinstance(value, dict):
        data = value.get("_data_")
        if value.get("_type_") == "uuid_hex":
            return str(UUID(hex=str(data)))
        return str(data)
    return str(value)
