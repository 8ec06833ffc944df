"""Small value types shared by the permit aggregate, the service and the read models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from uuid import UUID, uuid5

# Ids derived from natural keys (uuid5) make retries land on the same aggregate.
PERMIT_NAMESPACE = UUID("6f1d0c3e-93a4-5b8e-9c1e-2a4d7f0b5e11")
CODE_INDEX_NAMESPACE = UUID("0b8e7a52-4c1f-5d6a-8e3b-9f2c1a7d4e60")
VISIT_NAMESPACE = UUID("c4a9e2d1-7b3f-5e8a-a1d6-3f5b9c0e2d74")
ARRIVAL_RECEIPT_NAMESPACE = UUID("5e2b7c91-0d4a-5f3e-b8c6-1a9d3e7f2c48")


class PermitStatus(StrEnum):
    SUBMITTED = "submitted"
    CORRECTION_REQUESTED = "correction_requested"
    DOCUMENTS_VERIFIED = "documents_verified"
    FEE_ASSESSED = "fee_assessed"
    FEE_PAID = "fee_paid"
    APPROVED = "approved"
    REJECTED = "rejected"
    PRINTED = "printed"
    READY = "ready"
    RELEASED = "released"
    HANDED_OVER = "handed_over"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def label_id(self) -> str:
        """The stage as a citizen reads it, in Bahasa Indonesia."""
        return _LABELS_ID[self]


_FINAL = frozenset(
    {
        PermitStatus.REJECTED,
        PermitStatus.HANDED_OVER,
        PermitStatus.CANCELLED,
        PermitStatus.EXPIRED,
    }
)
_LABELS_ID = {
    PermitStatus.SUBMITTED: "Diajukan",
    PermitStatus.CORRECTION_REQUESTED: "Perlu perbaikan berkas",
    PermitStatus.DOCUMENTS_VERIFIED: "Berkas terverifikasi",
    PermitStatus.FEE_ASSESSED: "Menunggu pembayaran retribusi",
    PermitStatus.FEE_PAID: "Retribusi lunas",
    PermitStatus.APPROVED: "Disetujui",
    PermitStatus.REJECTED: "Ditolak",
    PermitStatus.PRINTED: "Dicetak",
    PermitStatus.READY: "Siap diambil",
    PermitStatus.RELEASED: "Di jendela layanan",
    PermitStatus.HANDED_OVER: "Sudah diserahkan",
    PermitStatus.CANCELLED: "Dibatalkan",
    PermitStatus.EXPIRED: "Kedaluwarsa",
}


class ExpiryCause(StrEnum):
    """Why a READY permit expired: its pickup code's time passed, or nobody came for it."""

    CODE = "code"
    UNCOLLECTED = "uncollected"


class Recipient(StrEnum):
    OWNER = "owner"
    DELEGATE = "delegate"


class ReleaseMethod(StrEnum):
    CODE = "code"
    PLATE = "plate"
    MANUAL = "manual"


def permit_id_for(site: str, reference: str) -> UUID:
    """The permit id for an application reference at a site (LAPERON number, say)."""
    return uuid5(PERMIT_NAMESPACE, f"{site}/{reference}")


def code_index_id(code_sha256: str) -> UUID:
    return uuid5(CODE_INDEX_NAMESPACE, code_sha256.lower())


@lru_cache(maxsize=4096)
def visit_id_for(site: str, lane: str, visit: UUID) -> UUID:
    # Remembered a while: the desk and the new visit's `create_id` both ask for each arrival.
    return uuid5(VISIT_NAMESPACE, f"{site}/{lane}/{visit}")


def arrival_receipt_id(site: str, arrival_id: UUID) -> UUID:
    return uuid5(ARRIVAL_RECEIPT_NAMESPACE, f"{site}/{arrival_id}")


@dataclass(frozen=True, slots=True)
class Delegate:
    """A person the holder authorised to collect (surat kuasa)."""

    delegate_id: str
    name: str
    nik_hash: str
    expires_at: datetime
    code_sha256: str
    nik_tail_hash: str | None = None
    """Keyed hash of the NIK's last 6 digits (`core.identity`); None when authorised before."""


@dataclass(frozen=True, slots=True)
class CodeHolder:
    """Who a valid pickup code speaks for."""

    permit_id: UUID
    recipient: Recipient
    delegate_id: str | None


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A pickup code just issued: the only moment its text exists outside the citizen's hands."""

    permit_id: UUID
    code: str
    code_sha256: str
    expires_at: datetime
    recipient: Recipient = Recipient.OWNER


@dataclass(frozen=True, slots=True)
class Handover:
    handover_id: str
    by: str
    recipient: Recipient
    channel: str
    """``lane:3`` for a window, ``team:a`` for a mobile team."""
    happened_at: datetime
    delegate_id: str | None
    identity: str | None = None
    """`core.identity.IdentityMethod`; None for handovers recorded before the window checked
    the NIK, and for mobile teams (their device records the KTP tick only)."""
    identity_reason: str | None = None
