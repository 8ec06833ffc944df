from __future__ import annotations

import json
import uuid

import pytest

from core.codes import PickupCode
from core.contract import (
    MAX_PAYLOAD_BYTES,
    Ack,
    AckOutcome,
    Arrival,
    DeviceState,
    LaneManifest,
    LaneStatus,
    PlateEvidence,
    Release,
    ReleasedPermit,
    TeamHandover,
    TopicKind,
    Topics,
    decode,
    encode,
    peek_id,
)
from core.errors import ContractError


def arrival_json(**changes: object) -> bytes:
    message = {
        "v": 1,
        "id": str(uuid.uuid4()),
        "at": "2026-11-29T09:00:00+08:00",
        "site": "badung",
        "lane": "3",
        "visit": str(uuid.uuid4()),
        "camera": "window",
        "source": "camera",
        "code_sha256": PickupCode.generate().sha256,
        "plate": {"text": "DK1234AB", "confidence": 0.93, "frames": 12},
    }
    message.update(changes)
    return json.dumps(message).encode()


def test_the_documented_arrival_parses() -> None:
    arrival = decode(Arrival, arrival_json())
    assert arrival.lane == "3"
    assert arrival.plate is not None
    assert arrival.plate.text == "DK1234AB"


def test_messages_round_trip() -> None:
    messages = [
        Arrival(site="badung", lane="1", visit=uuid.uuid4(), code_sha256="a" * 64),
        Ack(id=uuid.uuid4(), outcome=AckOutcome.RELEASED, permits=["p1"]),
        Release(
            lane="1",
            window="2",
            visit=uuid.uuid4(),
            plate="DK1234AB",
            permits=[ReleasedPermit(id="p", number="N-1", slot="R1-01", holder="I W****")],
        ),
        LaneStatus(state=DeviceState.ONLINE, fps=29.5, camera_ok=True, outbox_depth=0),
        LaneManifest(site="badung", code_hashes=["b" * 64], plates=["DK1234AB"]),
    ]
    for message in messages:
        assert decode(type(message), encode(message)) == message


def test_unknown_fields_are_ignored() -> None:
    arrival = decode(Arrival, arrival_json(vendor_extra={"x": 1}, score=3))
    assert not hasattr(arrival, "vendor_extra")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"v": 2}, "v"),
        ({"v": True}, "v"),
        ({"v": "1"}, "v"),
        ({"id": "not-a-uuid"}, "id"),
        ({"at": "2026-11-29T09:00:00"}, "timezone"),
        ({"lane": "3/../4"}, "lane"),
        ({"code_sha256": "XYZ"}, "code_sha256"),
        ({"code_sha256": None, "plate": None}, "code_sha256 or plate"),
        ({"plate": {"text": "DK1234AB", "confidence": 1.5, "frames": 1}}, "confidence"),
        ({"plate": {"text": "dk 1234", "confidence": 0.5, "frames": 1}}, "text"),
        ({"source": "satellite"}, "source"),
        ({"lane": 3}, "lane"),
    ],
)
def test_invalid_arrivals_are_refused_with_a_reason(
    changes: dict[str, object], reason: str
) -> None:
    with pytest.raises(ContractError) as refused:
        decode(Arrival, arrival_json(**changes))
    assert reason in refused.value.reason


@pytest.mark.parametrize("payload", [b"", b"{", b"[]", b"null", b"\xff\xfe", b'"text"'])
def test_broken_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(ContractError):
        decode(Arrival, payload)


def test_a_huge_payload_is_refused_before_parsing() -> None:
    with pytest.raises(ContractError, match="exceeds"):
        decode(Arrival, b" " * (MAX_PAYLOAD_BYTES + 1))


def test_the_id_of_an_invalid_message_can_still_be_acked() -> None:
    message_id = uuid.uuid4()
    assert peek_id(arrival_json(id=str(message_id), v=9)) == message_id
    assert peek_id(b"garbage") is None


def hostile(message_id: uuid.UUID) -> dict[str, bytes]:
    """Payloads whose id can be read though the whole cannot be parsed."""
    good = arrival_json(id=str(message_id))
    body = good[:-1]
    return {
        "bom": b"\xef\xbb\xbf" + good,
        "lone surrogate": body + b', "camera": "\\ud800"}',
        "nested 500 deep": body + b', "x": ' + b"[" * 500 + b"]" * 500 + b"}",
        "nested 100000 deep": body + b', "x": ' + b"[" * 100_000 + b"}",
        "over the size limit": body + b', "junk": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}',
        "bad utf-8 elsewhere": body + b', "camera": "\xff\xfe"}',
    }


@pytest.mark.parametrize("kind", list(hostile(uuid.uuid4())))
def test_a_readable_id_is_read_from_any_payload(kind: str) -> None:
    message_id = uuid.uuid4()
    payload = hostile(message_id)[kind]
    with pytest.raises(ContractError):
        decode(Arrival, payload)
    assert peek_id(payload) == message_id


@pytest.mark.parametrize(
    "payload",
    [
        b'{"plate": {"id": "6f1d0c3e-93a4-5b8e-9c1e-2a4d7f0b5e11"}}',  # not the message's id
        b'[{"id": "6f1d0c3e-93a4-5b8e-9c1e-2a4d7f0b5e11"}]',
        b'{"note": "\\"id\\": \\"6f1d0c3e-93a4-5b8e-9c1e-2a4d7f0b5e11\\""}',
        b'{"id": "not-a-uuid"}',
        b'{"id": 12}',
    ],
)
def test_no_id_is_made_up_where_there_is_none(payload: bytes) -> None:
    assert peek_id(payload) is None


def test_a_team_handover_needs_its_offline_time() -> None:
    with pytest.raises(ContractError, match="happened_at"):
        decode(
            TeamHandover,
            json.dumps(
                {"team": "a", "permit_id": "p", "by": "x", "recipient": "owner", "id_checked": True}
            ),
        )


def test_topics_are_built_in_one_place() -> None:
    topics = Topics("badung")
    assert topics.arrivals("3") == "drivethru/v1/badung/lanes/3/arrivals"
    assert topics.shared_arrivals == "$share/drivethru/drivethru/v1/badung/lanes/+/arrivals"
    assert topics.team_handovers("a") == "drivethru/v1/badung/teams/a/handovers"
    assert topics.server_status == "drivethru/v1/badung/server/status"
    assert topics.parse("drivethru/v1/badung/lanes/3/arrivals") == (TopicKind.ARRIVALS, "3")
    assert topics.parse("drivethru/v1/sleman/lanes/3/arrivals") is None
    assert PlateEvidence(text="DK1", confidence=0.5, frames=1).text == "DK1"
