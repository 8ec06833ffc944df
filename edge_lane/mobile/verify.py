"""Offline verification of a pickup code's hash against the device's manifest (pure).

The device never needs the server to refuse: an unknown code, a delegate's expired
authorisation, a code no longer in the newest manifest, or a permit this device has already
handed over are all decided here, each with a reason for the officer to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from core.contract import ManifestDelegate, TeamPermit
from edge_lane.mobile.manifest import DeviceManifest, code_owners


class RefusalReason(StrEnum):
    MALFORMED = "malformed"
    NO_MANIFEST = "no_manifest"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REISSUED = "reissued"
    WITHDRAWN = "withdrawn"
    HANDED_OVER_HERE = "handed_over_here"


_MESSAGES: Mapping[RefusalReason, tuple[str, str]] = {
    RefusalReason.MALFORMED: ("Bukan kode pengambilan", "Not a pickup code"),
    RefusalReason.NO_MANIFEST: (
        "Belum ada manifest: sambungkan ke broker sekali",
        "No manifest yet: connect to the broker once",
    ),
    RefusalReason.UNKNOWN: (
        "Kode tidak dikenal untuk tim ini",
        "Unknown code for this team",
    ),
    RefusalReason.EXPIRED: (
        "Surat kuasa sudah kedaluwarsa",
        "The delegate's authorisation has expired",
    ),
    RefusalReason.REISSUED: (
        "Kode sudah diganti atau dicabut; minta kode terbaru",
        "The code was reissued or revoked; ask for the newest code",
    ),
    RefusalReason.WITHDRAWN: (
        "Izin tidak lagi ditugaskan ke tim ini (sudah diserahkan di tempat lain atau ditarik)",
        "The permit is no longer assigned to this team (handed over elsewhere or withdrawn)",
    ),
    RefusalReason.HANDED_OVER_HERE: (
        "Izin sudah diserahkan oleh perangkat ini",
        "This device has already handed this permit over",
    ),
}


@dataclass(frozen=True, slots=True)
class Refused:
    """The code may not be used; ``permit_id`` when the device knows which permit it was."""

    reason: RefusalReason
    permit_id: str | None = None
    number: str | None = None

    @property
    def message_id(self) -> str:
        return _MESSAGES[self.reason][0]

    @property
    def message_en(self) -> str:
        return _MESSAGES[self.reason][1]


@dataclass(frozen=True, slots=True)
class Accepted:
    """The code opens ``permit``; hand it over after the identity check it names."""

    code_sha256: str
    permit: TeamPermit
    delegate: ManifestDelegate | None

    @property
    def recipient(self) -> Literal["owner", "delegate"]:
        return "owner" if self.delegate is None else "delegate"

    @property
    def identity_check_id(self) -> str:
        if self.delegate is None:
            return (
                f"Periksa KTP pemilik {self.permit.holder}: NIK harus cocok dengan "
                f"{self.permit.nik_masked}"
            )
        return (
            f"Periksa KTP penerima kuasa {self.delegate.name} (NIK {self.delegate.nik_masked}) "
            f"dan surat kuasa dari {self.permit.holder}, berlaku s.d. "
            f"{self.delegate.expires_at:%Y-%m-%d %H:%M}"
        )

    @property
    def identity_check_en(self) -> str:
        if self.delegate is None:
            return (
                f"Check the owner's KTP ({self.permit.holder}): the NIK must match "
                f"{self.permit.nik_masked}"
            )
        return (
            f"Check the delegate's KTP ({self.delegate.name}, NIK {self.delegate.nik_masked}) "
            f"and the authorisation from {self.permit.holder}, valid until "
            f"{self.delegate.expires_at:%Y-%m-%d %H:%M}"
        )


Verdict = Accepted | Refused


def verify_code(
    code_sha256: str,
    state: DeviceManifest,
    handed_here: Mapping[str, datetime],
    now: datetime,
) -> Verdict:
    """Decide offline whether ``code_sha256`` releases a permit now.

    ``handed_here`` maps the permits this device has handed over to when it did.
    """
    code_sha256 = code_sha256.lower()
    if state.manifest is None:
        return Refused(RefusalReason.NO_MANIFEST)
    permit = code_owners(state.manifest).get(code_sha256)
    retired = state.retired.get(code_sha256)
    permit_id = permit.permit_id if permit is not None else (retired.permit_id if retired else None)
    number = permit.number if permit is not None else (retired.number if retired else None)
    if permit_id is not None and permit_id in handed_here:
        return Refused(RefusalReason.HANDED_OVER_HERE, permit_id, number)
    if permit is None:
        if retired is None:
            return Refused(RefusalReason.UNKNOWN)
        reason = RefusalReason.REISSUED if retired.why == "reissued" else RefusalReason.WITHDRAWN
        return Refused(reason, permit_id, number)
    if permit.code_sha256 == code_sha256:
        return Accepted(code_sha256, permit, None)
    delegate = next(d for d in permit.delegates if d.code_sha256 == code_sha256)
    if now >= delegate.expires_at:
        return Refused(RefusalReason.EXPIRED, permit_id, number)
    return Accepted(code_sha256, permit, delegate)
