"""The notifications' bodies, texts and signature.

A body is the JSON a gateway consumes (`docs/server.md`, Notifications)::

    {"v": 1, "id": "<uuid, the same on every retry>", "type": "permit.ready", "at": "...",
     "site": "badung", "permit": {"id", "number", "holder_masked"},
     "contact": {"phone", "email", "lang"}, "link": "https://…/p/DT1:…" | null,
     "text": "…", "subject": "…", ...type's own fields}

``text`` is in Bahasa Indonesia, followed by English when the citizen chose ``en``. The
bytes are made once, when the message is queued, and sent as they are on every retry.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

import orjson

SIGNATURE_HEADER = "X-Drivethru-Signature"
_NAMESPACE = UUID("6f1d0c52-7a57-4b8e-9d0e-3c1f0a7b9e21")


class MessageType(StrEnum):
    READY = "permit.ready"
    TEAM_VISIT = "permit.team_visit_scheduled"
    WAITING = "permit.waiting_at_window"
    EXPIRING = "permit.expiring"
    COMPLAINT_ANSWERED = "complaint.answered"


def message_id(permit_id: str, kind: MessageType, occasion: str) -> str:
    """The message's id: derived from what caused it, so a replay or a retry keeps it."""
    return str(uuid5(_NAMESPACE, f"{permit_id}/{kind.value}/{occasion}"))


def sign(body: bytes, secret: bytes) -> str:
    """The ``X-Drivethru-Signature`` value: ``sha256=`` and the body's HMAC-SHA256 in hex."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, secret: bytes, header: str) -> bool:
    """What a receiver checks (constant time)."""
    return hmac.compare_digest(sign(body, secret), header)


@dataclass(frozen=True, slots=True)
class Recipient:
    """The permit as a message names it, and its contact."""

    permit_id: str
    site: str
    number: str
    holder_masked: str
    phone: str | None
    email: str | None
    lang: str


def _texts(kind: MessageType, number: str, fields: dict[str, Any]) -> tuple[str, str, str, str]:
    """(subject id, subject en, text id, text en)."""
    link = fields.get("link")
    if kind is MessageType.READY:
        id_link = f" Tunjukkan QR di tautan ini di jendela: {link}" if link else ""
        en_link = f" Show the QR at this link at the window: {link}" if link else ""
        return (
            f"Izin {number} siap diambil",
            f"Permit {number} is ready",
            f"Izin {number} siap diambil di drive-through. Bawa KTP asli.{id_link}",
            f"Permit {number} is ready at the drive-through. Bring your original KTP.{en_link}",
        )
    if kind is MessageType.TEAM_VISIT:
        place, date = fields["team"]["place"], fields["team"]["date"]
        return (
            f"Izin {number}: jadwal tim keliling",
            f"Permit {number}: mobile team visit",
            f"Izin {number} dapat diambil dari tim keliling di {place}, tanggal {date}.",
            f"Permit {number} can be collected from the mobile team at {place} on {date}.",
        )
    if kind is MessageType.WAITING:
        window = fields["window"]
        return (
            f"Izin {number} menunggu di jendela {window}",
            f"Permit {number} waits at window {window}",
            f"Izin {number} menunggu Anda di jendela {window}. Silakan maju ke jendela.",
            f"Permit {number} is waiting for you at window {window}. Please drive up.",
        )
    if kind is MessageType.EXPIRING:
        until = fields["expires_at"][:10]
        return (
            f"Izin {number}: ambil sebelum {until}",
            f"Permit {number}: collect before {until}",
            f"Izin {number} belum diambil. Kode berlaku sampai {until}; setelah itu minta "
            "kode baru ke petugas.",
            f"Permit {number} is not collected yet. The code works until {until}; after that "
            "ask an officer for a new one.",
        )
    answer = fields.get("answer") or ""
    return (
        f"Pengaduan izin {number} dijawab",
        f"Your complaint about permit {number} was answered",
        f"Pengaduan Anda tentang izin {number} sudah dijawab. {answer}".strip(),
        f"Your complaint about permit {number} was answered. {answer}".strip(),
    )


def message_body(
    kind: MessageType, message: str, at: str, to: Recipient, fields: dict[str, Any]
) -> bytes:
    """The bytes sent to every channel (``fields``: ``link`` and the type's own details)."""
    subject_id, subject_en, text_id, text_en = _texts(kind, to.number, fields)
    english = to.lang == "en"
    body: dict[str, Any] = {
        "v": 1,
        "id": message,
        "type": kind.value,
        "at": at,
        "site": to.site,
        "permit": {"id": to.permit_id, "number": to.number, "holder_masked": to.holder_masked},
        "contact": {"phone": to.phone, "email": to.email, "lang": to.lang},
        "link": fields.get("link"),
        "subject": f"{subject_id} / {subject_en}" if english else subject_id,
        "text": f"{text_id}\n\n{text_en}" if english else text_id,
    }
    body.update({k: v for k, v in fields.items() if k != "link"})
    return orjson.dumps(body)


def without_link(body: bytes) -> bytes:
    """The body as kept once delivered: the link (the pickup code in clear) removed."""
    parsed = orjson.loads(body)
    if parsed.get("link"):
        parsed["link"] = None
        parsed["text"] = "(tautan dihapus setelah terkirim / link removed once delivered)"
    return orjson.dumps(parsed)
