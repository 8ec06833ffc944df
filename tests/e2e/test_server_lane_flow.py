"""The real server process with a real Mosquitto: arrivals in, acks and releases out."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import MQTT_USERS
from tests.mqtt_peer import MqttPeer, Received
from tests.server_process import ServerProcess
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]
ROOT = "drivethru/v1/badung"


@pytest.fixture
def lane_1(mosquitto: MosquittoServer) -> Iterator[MqttPeer]:
    """Lane 1's edge and display: publishes arrivals, hears acks, releases and manifests."""
    peer = MqttPeer(
        mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"],
        [f"{ROOT}/lanes/1/acks", f"{ROOT}/lanes/1/releases", f"{ROOT}/lanes/1/manifest"],
    )  # fmt: skip
    try:
        yield peer
    finally:
        peer.close()


def make_ready(server: ServerProcess, plate: str, slot: str = "R1-01") -> dict[str, Any]:
    """A permit taken to READY through the API as an officer would."""
    with server.client("officer") as officer:
        reference = f"LAP-{uuid.uuid4().hex[:10]}"
        created = officer.post(
            "/api/applications",
            json={"reference": reference, "kind": "SIUP", "applicant_name": "I Wayan Sudirta",
                  "nik": "5103011204800001", "plate": plate},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        path = f"/api/applications/{created.json()['id']}"
        for step, body in [("verify", {}), ("fee", {"amount_rupiah": 50_000}),
                           ("payment", {"reference": f"P-{reference}", "amount_rupiah": 50_000}),
                           ("approve", {}), ("print", {})]:  # fmt: skip
            answer = officer.post(f"{path}/{step}", json=body)
            assert answer.status_code == 200, answer.text
        staged = officer.post(f"{path}/stage", json={"slot": slot})
        assert staged.status_code == 200, staged.text
        result: dict[str, Any] = staged.json()
        return result


def arrival(code: str | None = None, plate: str | None = None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "v": 1, "id": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat(),
        "site": "badung", "lane": "1", "visit": str(uuid.uuid4()), "camera": "window",
        "source": "camera",
        "code_sha256": hashlib.sha256(code.encode()).hexdigest() if code else None,
        "plate": {"text": plate, "confidence": 0.95, "frames": 14} if plate else None,
    }  # fmt: skip
    message.update(extra)
    return message


def ack_for(message_id: str) -> Any:
    return lambda m: m.topic.endswith("/acks") and m.json()["id"] == message_id


def is_release(m: Received) -> bool:
    return m.topic.endswith("/releases")


def test_a_code_at_the_window_releases_the_permit_and_the_lane_hears_it(
    server: ServerProcess, lane_1: MqttPeer
) -> None:
    ready = make_ready(server, "DK 1234 AB", slot="R2-14")
    permit_id = ready["permit"]["id"]
    manifest = lane_1.wait_for(lambda m: m.topic.endswith("/manifest"), timeout=15).json()
    expected_hash = hashlib.sha256(ready["code"].encode()).hexdigest()
    while expected_hash not in manifest["code_hashes"]:  # the first may predate staging
        manifest = lane_1.wait_for(lambda m: m.topic.endswith("/manifest"), timeout=15).json()
    assert "DK1234AB" in manifest["plates"]

    message = arrival(code=ready["code"])
    lane_1.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
    # The release comes first: an edge that has the ack has had the release.
    release = lane_1.wait_for(is_release).json()
    ack = lane_1.wait_for(ack_for(message["id"])).json()
    assert ack["outcome"] == "released"
    assert ack["permits"] == [permit_id]
    assert release["window"] == "1"
    assert release["visit"] == message["visit"]
    assert release["permits"][0]["slot"] == "R2-14"
    assert release["permits"][0]["holder"] == "I W**** S******"
    assert not release["see_operator"]

    with server.client("officer") as officer:
        permit = officer.get(f"/api/applications/{permit_id}").json()
    assert (permit["status"], permit["lane"]) == ("released", "1")

    # The same message again (a redelivery): acknowledged as a duplicate, nothing changes;
    # the display gets the release again, in case the first was lost on the way.
    lane_1.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
    shown_again = lane_1.wait_for(is_release).json()
    again = lane_1.wait_for(ack_for(message["id"])).json()
    assert again["outcome"] == "duplicate"
    assert (shown_again["visit"], shown_again["permits"]) == (message["visit"], release["permits"])
    assert shown_again["id"] != release["id"]
    with server.client("officer") as officer:
        assert officer.get(f"/api/applications/{permit_id}").json()["version"] == permit["version"]


def test_invalid_payloads_are_acked_as_rejected_and_the_bridge_keeps_running(
    server: ServerProcess, lane_1: MqttPeer
) -> None:
    topic = f"{ROOT}/lanes/1/arrivals"
    bad = [
        arrival(plate="DK1234AB", v=2),
        arrival(plate="DK1234AB", lane="2"),  # payload says lane 2 on lane 1's topic
        arrival(plate="DK1234AB", at="yesterday"),
        arrival(plate="DK1234AB", code_sha256="not-a-hash"),
        arrival(plate="DK1234AB", junk="x" * 70_000),  # over the size limit
    ]
    for message in bad:
        lane_1.publish(topic, json.dumps(message))
    for message in bad[:4]:
        ack = lane_1.wait_for(ack_for(message["id"])).json()
        assert ack["outcome"] == "rejected"
        assert ack["reason"]
    lane_1.publish(topic, b"\xff not json at all")
    lane_1.publish(topic, b"[]")
    # Still alive: a good arrival after the garbage is processed.
    ready = make_ready(server, "DK 77 XY")
    good = arrival(code=ready["code"])
    lane_1.publish(topic, json.dumps(good))
    assert lane_1.wait_for(ack_for(good["id"])).json()["outcome"] == "released"
    with server.client() as anyone:
        metrics = anyone.get("/metrics").text
    assert 'drivethru_arrivals_total{outcome="rejected"}' in metrics


def test_every_payload_with_a_readable_id_is_acked_and_warnings_are_held_back(
    server: ServerProcess, lane_1: MqttPeer
) -> None:
    topic = f"{ROOT}/lanes/1/arrivals"
    hostile: dict[str, bytes] = {}
    for kind in ("bom", "lone surrogate", "nested 500 deep"):
        message = arrival(plate="DK1234AB")
        body = json.dumps(message).encode()
        hostile[message["id"]] = {
            "bom": b"\xef\xbb\xbf" + body,
            "lone surrogate": body[:-1] + b', "camera": "\\ud800"}',
            "nested 500 deep": body[:-1] + b', "x": ' + b"[" * 500 + b"]" * 500 + b"}",
        }[kind]
    for payload in hostile.values():
        lane_1.publish(topic, payload)
    for message_id in hostile:
        ack = lane_1.wait_for(ack_for(message_id)).json()
        assert ack["outcome"] == "rejected"
        assert ack["reason"]
    # A flood of one kind of bad message writes a line now and then, not one each.
    flood = [arrival(plate="DK1234AB", v=2) for _ in range(60)]
    for message in flood:
        lane_1.publish(topic, json.dumps(message))
    lane_1.wait_for(ack_for(flood[-1]["id"]))
    lines = [line for line in server.log.read_text().splitlines() if "arrival rejected" in line]
    assert 1 <= len(lines) <= 6, lines
    with server.client() as anyone:
        metrics = anyone.get("/metrics").text
    held_back = [m for m in metrics.splitlines() if m.startswith("drivethru_log_lines_held_back")]
    assert held_back
    assert int(held_back[0].split()[-1]) >= 55
    assert 'drivethru_rejected_messages_total{reason="invalid_field"} 60' in metrics


def test_mosquitto_pub_from_another_vendor_is_understood(
    server: ServerProcess, lane_1: MqttPeer, mosquitto: MosquittoServer
) -> None:
    make_ready(server, "B 1907 TJQ")
    message = arrival(plate="B1907TJQ", source="frigate")
    subprocess.run(
        ["mosquitto_pub", "-h", mosquitto.host, "-p", str(mosquitto.port), "-u", "lane-1",
         "-P", MQTT_USERS["lane-1"], "-q", "1", "-t", f"{ROOT}/lanes/1/arrivals",
         "-m", json.dumps(message)],
        check=True, timeout=20,
    )  # fmt: skip
    ack = lane_1.wait_for(ack_for(message["id"])).json()
    # The site releases on a code only: a plate alone pre-stages the permit for the operator.
    assert ack["outcome"] == "prestaged"
    assert len(ack["permits"]) == 1


def test_two_operators_racing_for_one_permit_exactly_one_hands_over(
    server: ServerProcess, lane_1: MqttPeer
) -> None:
    ready = make_ready(server, "DK 4321 XY")
    permit_id = ready["permit"]["id"]
    message = arrival(code=ready["code"])
    lane_1.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
    assert lane_1.wait_for(ack_for(message["id"])).json()["outcome"] == "released"
    results: list[int] = []
    barrier = threading.Barrier(2)

    def hand_over(who: str) -> None:
        with server.client(who) as operator:
            barrier.wait()
            answer = operator.post(
                "/api/lanes/1/handover",
                json={"permit_id": permit_id, "handover_id": f"{who}-press",
                      "recipient": "owner", "nik": "5103011204800001"},
            )  # fmt: skip
            results.append(answer.status_code)

    threads = [threading.Thread(target=hand_over, args=(w,)) for w in ("operator-1", "operator-1b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200, 409]
    with server.client("officer") as officer:
        permit = officer.get(f"/api/applications/{permit_id}").json()
    assert permit["status"] == "handed_over"
    assert permit["conflicts"] == 1


def test_each_role_is_refused_what_it_may_not_do(server: ServerProcess) -> None:
    ready = make_ready(server, "DK 999 A")
    permit_id = ready["permit"]["id"]
    handover = {"permit_id": permit_id, "handover_id": "x", "recipient": "owner",
                "nik": "5103011204800001"}  # fmt: skip
    with server.client() as nobody:
        assert nobody.post("/api/applications", json={}).status_code == 401
        assert nobody.get(f"/api/applications/{permit_id}").status_code == 401
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer wrong"}) as forged:
        assert forged.get(f"/api/applications/{permit_id}").status_code == 401
    with server.client("operator-1") as operator:
        refused = operator.post(f"/api/applications/{permit_id}/stage", json={"slot": "X"})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
    with server.client("operator-2") as other_lane:
        assert other_lane.post("/api/lanes/1/handover", json=handover).status_code == 403
    with server.client("officer") as officer:
        assert officer.post("/api/lanes/1/handover", json=handover).status_code == 403
    with server.client("device") as device:
        assert device.post(f"/api/applications/{permit_id}/approve").status_code == 403
    with server.client("admin") as admin:
        assert admin.get(f"/api/applications/{permit_id}").status_code == 200


def test_bad_api_input_gets_a_clear_error_never_a_500(server: ServerProcess) -> None:
    with server.client("officer") as officer:
        missing = officer.post("/api/applications", json={"reference": "x"})
        assert missing.status_code == 422
        assert missing.json()["error"]["problems"]
        bad_plate = officer.post(
            "/api/applications",
            json={"reference": "r1", "kind": "SIUP", "applicant_name": "A",
                  "nik": "5103011204800001", "plate": "NOT A PLATE"},
        )  # fmt: skip
        assert bad_plate.status_code == 422
        assert bad_plate.json()["error"]["problems"][0]["where"] == "body.plate"
        assert officer.get(f"/api/applications/{uuid.uuid4()}").status_code == 404
        assert officer.get("/api/applications/not-a-uuid").status_code == 422
        created = officer.post(
            "/api/applications",
            json={"reference": "r2", "kind": "SIUP", "applicant_name": "A",
                  "nik": "5103011204800001"},
        ).json()  # fmt: skip
        early = officer.post(f"/api/applications/{created['id']}/approve")
        assert early.status_code == 409
        body = early.json()["error"]
        assert body["code"] == "invalid_transition"
        assert body["message_id"]
        assert body["message_en"]
    with server.client() as citizen:
        assert citizen.get("/p/DT1:NOTACODE").status_code == 400
        assert citizen.get("/p/DT1:" + "A" * 26).status_code == 404


def test_a_team_manifest_follows_assignments(
    server: ServerProcess, mosquitto: MosquittoServer
) -> None:
    team = MqttPeer(
        mosquitto.host, mosquitto.port, "team-a", MQTT_USERS["team-a"],
        [f"{ROOT}/teams/a/manifest"],
    )  # fmt: skip
    try:
        ready = make_ready(server, "DK 5150 UB")
        permit_id = ready["permit"]["id"]
        with server.client("officer") as officer:
            delegate = officer.post(
                f"/api/applications/{permit_id}/delegates",
                json={"name": "Ketut Arta", "nik": "5103024506900002",
                      "expires_at": "2099-01-01T00:00:00+08:00"},
            )  # fmt: skip
            assert delegate.status_code == 200, delegate.text
            assigned = officer.post(
                f"/api/applications/{permit_id}/team",
                json={"team": "a", "date": "2026-12-01", "place": "Balai Desa Abiansemal"},
            )
            assert assigned.status_code == 200, assigned.text

        def lists_the_permit(message: Received) -> bool:
            entries = message.json()["permits"]
            return any(entry["permit_id"] == permit_id for entry in entries)

        manifest = team.wait_for(lists_the_permit, timeout=15).json()
        entry = next(e for e in manifest["permits"] if e["permit_id"] == permit_id)
        assert entry["place"] == "Balai Desa Abiansemal"
        assert entry["nik_masked"] == "5103********0001"
        assert entry["code_sha256"] == hashlib.sha256(ready["code"].encode()).hexdigest()
        assert entry["delegates"][0]["name"] == "K**** A***"
        assert entry["delegates"][0]["nik_masked"] == "5103********0002"
        assert "Wayan" not in json.dumps(manifest)
        with server.client() as citizen:
            page = citizen.get(f"/p/{ready['code']}", headers={"Accept": "text/html"}).text
        assert "tim keliling a di Balai Desa Abiansemal, tanggal 2026-12-01" in page
        with server.client("admin") as admin:
            dashboard = admin.get("/dashboard", headers={"Accept": "text/html"}).text
        assert "Tim keliling (RIBON)" in dashboard
        assert '<th scope="row">a</th><td>0</td><td>1</td>' in dashboard
    finally:
        team.close()


def test_lanes_online_and_their_outboxes_show_in_the_metrics(
    server: ServerProcess, lane_1: MqttPeer
) -> None:
    status = {"v": 1, "id": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat(),
              "state": "online", "fps": 29.7, "camera_ok": True, "outbox_depth": 3,
              "version": "test"}  # fmt: skip
    lane_1.publish(f"{ROOT}/lanes/1/status", json.dumps(status), retain=True)
    lane_1.publish(f"{ROOT}/lanes/1/status", b"{broken")
    with server.client() as anyone:
        deadline = time.monotonic() + 10
        metrics = anyone.get("/metrics").text
        while "drivethru_lanes_online 1" not in metrics and time.monotonic() < deadline:
            time.sleep(0.1)
            metrics = anyone.get("/metrics").text
    assert "drivethru_lanes_online 1" in metrics
    assert "drivethru_edge_outbox_depth 3" in metrics
    assert "drivethru_invalid_messages_total 1" in metrics


def test_team_handovers_are_applied_once_and_acked(
    server: ServerProcess, mosquitto: MosquittoServer
) -> None:
    team = MqttPeer(
        mosquitto.host, mosquitto.port, "team-a", MQTT_USERS["team-a"],
        [f"{ROOT}/teams/a/acks"],
    )  # fmt: skip
    try:
        ready = make_ready(server, "DK 808 CC")
        permit_id = ready["permit"]["id"]
        with server.client("officer") as officer:
            officer.post(
                f"/api/applications/{permit_id}/team",
                json={"team": "a", "date": "2026-12-01", "place": "Balai Banjar Kapal"},
            ).raise_for_status()
        handover = {
            "v": 1, "id": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat(),
            "team": "a", "permit_id": permit_id, "by": "ribon-1", "recipient": "owner",
            "id_checked": True, "happened_at": datetime.now(UTC).isoformat(),
            "position": {"lat": -8.5569, "lon": 115.2053},
        }  # fmt: skip
        topic = f"{ROOT}/teams/a/handovers"
        team.publish(topic, json.dumps(handover))
        first = team.wait_for(lambda m: m.json()["id"] == handover["id"]).json()
        assert first["outcome"] == "applied"
        team.publish(topic, json.dumps(handover))
        second = team.wait_for(lambda m: m.json()["id"] == handover["id"]).json()
        assert second["outcome"] == "duplicate"
        broken = {**handover, "id": str(uuid.uuid4()), "recipient": "neighbour"}
        team.publish(topic, json.dumps(broken))
        assert team.wait_for(lambda m: m.json()["id"] == broken["id"]).json()["outcome"] == (
            "rejected"
        )
        with server.client("officer") as officer:
            permit = officer.get(f"/api/applications/{permit_id}").json()
        assert permit["status"] == "handed_over"
        assert permit["handed_over_by"] == "ribon-1"
    finally:
        team.close()


def test_the_citizen_authorises_a_delegate_from_the_status_page(server: ServerProcess) -> None:
    ready = make_ready(server, "DK 3030 KA")
    with server.client() as citizen:
        answer = citizen.post(
            f"/p/{ready['code']}/delegate",
            data={"name": "Ketut Arta", "nik": "5103024506900002", "until": "2099-01-01"},
            headers={"Accept": "text/html"},
        )
    assert answer.status_code == 200, answer.text[:500]
    assert "/p/DT1:" in answer.text  # the delegate's own link, shown once
    with server.client("officer") as officer:
        history = officer.get(f"/api/applications/{ready['permit']['id']}").json()
    assert history["status"] == "ready"
    with server.client() as citizen:
        refused = citizen.post(
            f"/p/{ready['code']}/delegate",
            data={"name": "Ketut Arta", "nik": "123", "until": "2099-01-01"},
            headers={"Accept": "text/html"},
        )
    assert "Kuasa ditolak" in refused.text  # a bad NIK is explained, not a 500


def test_json_log_lines_carry_the_site_and_each_arrivals_ids(
    tmp_path: Path, mosquitto: MosquittoServer, lane_1: MqttPeer
) -> None:
    server = ServerProcess(
        tmp_path, mosquitto.url, MQTT_USERS["server"], extra_args=("--log-format", "json")
    )
    server.start()
    try:
        ready = make_ready(server, "DK 1234 AB")
        message = arrival(code=ready["code"])
        lane_1.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
        assert lane_1.wait_for(ack_for(message["id"]), timeout=15).json()["outcome"] == "released"
        lane_1.publish(f"{ROOT}/lanes/1/arrivals", b"{not json")
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log.read_text().splitlines()]
    assert lines
    assert all(line["site"] == "badung" for line in lines)
    assert all({"at", "level", "logger", "message"} <= line.keys() for line in lines)
    decided = [line for line in lines if line.get("arrival") == message["id"]]
    assert decided, lines
    assert decided[0]["visit"] == message["visit"]
    assert decided[0]["lane"] == "1"
    assert decided[0]["permit"] == ready["permit"]["id"]


def departure(visit: str, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "v": 1, "id": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat(),
        "site": "badung", "lane": "1", "visit": visit, "camera": "window",
    }  # fmt: skip
    message.update(extra)
    return message


def cars_in_lane_1(server: ServerProcess, expected: int, timeout: float = 15.0) -> int:
    """Lane 1's cars on /api/queue, once they are ``expected`` (the read models follow)."""
    deadline = time.monotonic() + timeout
    with server.client() as anyone:
        while True:
            queues = {q["lane"]: q for q in anyone.get("/api/queue").json()}
            cars: int = queues["1"]["cars"]
            if cars == expected or time.monotonic() > deadline:
                return cars
            time.sleep(0.1)


def test_a_car_counts_in_the_lane_from_its_arrival_until_the_edge_says_it_left(
    server: ServerProcess, lane_1: MqttPeer
) -> None:
    assert cars_in_lane_1(server, 0) == 0
    # A plate no permit waits for: the car still waits in the line.
    came = arrival(plate="B9999ZZ")
    lane_1.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(came))
    assert lane_1.wait_for(ack_for(came["id"])).json()["outcome"] == "no_match"
    assert cars_in_lane_1(server, 1) == 1

    went = departure(came["visit"])
    topic = f"{ROOT}/lanes/1/departures"
    lane_1.publish(topic, json.dumps(went))
    assert lane_1.wait_for(ack_for(went["id"])).json()["outcome"] == "left"
    assert cars_in_lane_1(server, 0) == 0
    # Sent again (the ack was lost): acked again, recorded once.
    lane_1.publish(topic, json.dumps(went))
    again = lane_1.wait_for(ack_for(went["id"])).json()
    assert (again["outcome"], again["reason"]) == ("duplicate", "sudah tercatat / already recorded")

    bad = [
        departure(came["visit"], lane="2"),  # lane 2 in the payload on lane 1's topic
        departure("not-a-uuid"),
        departure(came["visit"], v=2),
    ]
    for message in bad:
        lane_1.publish(topic, json.dumps(message))
    for message in bad:
        ack = lane_1.wait_for(ack_for(message["id"])).json()
        assert ack["outcome"] == "rejected"
        assert ack["reason"]
    with server.client() as anyone:
        metrics = anyone.get("/metrics").text
    assert 'drivethru_departures_total{outcome="left"} 1' in metrics
    assert 'drivethru_departures_total{outcome="duplicate"} 1' in metrics
    assert 'drivethru_departures_total{outcome="rejected"} 3' in metrics
