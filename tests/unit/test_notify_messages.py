"""The notifications' bodies and their signature, as a gateway reads them."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest

from api.notify.messages import (
    MessageType,
    Recipient,
    message_body,
    message_id,
    sign,
    signature_matches,
    without_link,
)

TO = Recipient("9d5c…", "badung", "MPP/BADUNG/2026/000001", "I W**** S******",
               "+6281234567890", None, "id")  # fmt: skip
LINK = "https://izin.example.go.id/p/DT1:ABCDEFGHIJKLMNOPQRSTUVWXYA"


def test_the_signature_is_the_hex_hmac_sha256_of_the_exact_body() -> None:
    body = message_body(MessageType.READY, "m-1", "2026-12-02T01:00:00+00:00", TO, {"link": LINK})
    expected = hmac.new(b"secret-0123456789", body, hashlib.sha256).hexdigest()
    assert sign(body, b"secret-0123456789") == f"sha256={expected}"
    assert signature_matches(body, b"secret-0123456789", f"sha256={expected}")
    assert not signature_matches(body + b" ", b"secret-0123456789", f"sha256={expected}")
    assert not signature_matches(body, b"another-secret-012", f"sha256={expected}")


def test_a_ready_body_has_the_contract_fields_and_indonesian_text_only() -> None:
    body = orjson.loads(
        message_body(MessageType.READY, "m-1", "2026-12-02T01:00:00+00:00", TO, {"link": LINK})
    )
    assert body == {
        "v": 1, "id": "m-1", "type": "permit.ready", "at": "2026-12-02T01:00:00+00:00",
        "site": "badung",
        "permit": {"id": "9d5c…", "number": "MPP/BADUNG/2026/000001",
                   "holder_masked": "I W**** S******"},
        "contact": {"phone": "+6281234567890", "email": None, "lang": "id"},
        "link": LINK,
        "subject": "Izin MPP/BADUNG/2026/000001 siap diambil",
        "text": "Izin MPP/BADUNG/2026/000001 siap diambil di drive-through. Bawa KTP asli. "
        f"Tunjukkan QR di tautan ini di jendela: {LINK}",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "fields", "indonesian", "english"),
    [
        (MessageType.TEAM_VISIT, {"team": {"team": "a", "date": "2026-12-05", "place": "Mengwi"}},
         "tim keliling di Mengwi, tanggal 2026-12-05", "mobile team at Mengwi on 2026-12-05"),
        (MessageType.WAITING, {"window": "2"}, "menunggu Anda di jendela 2",
         "waiting for you at window 2"),
        (MessageType.EXPIRING, {"expires_at": "2026-12-31T00:00:00+00:00"},
         "Kode berlaku sampai 2026-12-31", "The code works until 2026-12-31"),
        (MessageType.COMPLAINT_ANSWERED, {"answer": "Maaf."}, "sudah dijawab. Maaf.",
         "was answered. Maaf."),
    ],
)  # fmt: skip
def test_english_follows_indonesian_when_the_citizen_chose_it(
    kind: MessageType, fields: dict[str, object], indonesian: str, english: str
) -> None:
    to_en = Recipient(TO.permit_id, TO.site, TO.number, TO.holder_masked, TO.phone, None, "en")
    text_id = orjson.loads(message_body(kind, "m", "t", TO, fields))["text"]
    text_en = orjson.loads(message_body(kind, "m", "t", to_en, fields))["text"]
    assert indonesian in text_id
    assert english not in text_id
    assert text_en.index(indonesian) < text_en.index(english)
    assert orjson.loads(message_body(kind, "m", "t", TO, fields))["type"] == kind.value


def test_a_message_id_is_the_same_for_the_same_occasion_only() -> None:
    first = message_id("p-1", MessageType.READY, "code-hash-1")
    assert first == message_id("p-1", MessageType.READY, "code-hash-1")
    assert first != message_id("p-1", MessageType.READY, "code-hash-2")  # a reissue
    assert first != message_id("p-2", MessageType.READY, "code-hash-1")
    assert first != message_id("p-1", MessageType.WAITING, "code-hash-1")


def test_a_delivered_body_keeps_no_link() -> None:
    body = message_body(MessageType.READY, "m-1", "t", TO, {"link": LINK})
    kept = orjson.loads(without_link(body))
    assert kept["link"] is None
    assert "DT1:" not in orjson.dumps(kept).decode()
    assert kept["id"] == "m-1"
