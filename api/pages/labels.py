"""Words the pages show for stages and events, in Bahasa Indonesia and English."""

from __future__ import annotations

from typing import Any

from api.pages.layout import L, e

STATUS: dict[str, tuple[str, str]] = {
    "submitted": ("Diajukan", "Submitted"),
    "correction_requested": ("Perlu perbaikan berkas", "Correction needed"),
    "documents_verified": ("Berkas terverifikasi", "Documents verified"),
    "fee_assessed": ("Menunggu pembayaran retribusi", "Waiting for fee payment"),
    "fee_paid": ("Retribusi lunas", "Fee paid"),
    "approved": ("Disetujui", "Approved"),
    "rejected": ("Ditolak", "Rejected"),
    "printed": ("Dicetak", "Printed"),
    "ready": ("Siap diambil", "Ready for pickup"),
    "released": ("Di jendela, silakan maju", "At the window, please drive up"),
    "handed_over": ("Sudah diambil", "Collected"),
    "cancelled": ("Dibatalkan", "Cancelled"),
    "expired": ("Kedaluwarsa", "Expired"),
}

EVENTS: dict[str, tuple[str, str]] = {
    "Submitted": ("Permohonan diajukan", "Application submitted"),
    "DocumentsVerified": ("Berkas diverifikasi", "Documents verified"),
    "CorrectionRequested": ("Diminta perbaikan berkas", "Correction requested"),
    "DocumentsResubmitted": ("Berkas dikirim ulang", "Documents resubmitted"),
    "FeeAssessed": ("Retribusi ditetapkan", "Fee assessed"),
    "FeePaid": ("Retribusi dibayar", "Fee paid"),
    "Approved": ("Disetujui", "Approved"),
    "Rejected": ("Ditolak", "Rejected"),
    "Printed": ("Dokumen dicetak", "Document printed"),
    "Staged": ("Disimpan di rak, siap diambil", "Stored on the shelf, ready"),
    "PickupCodeIssued": ("Kode ambil diterbitkan", "Pickup code issued"),
    "PickupCodeReissued": ("Kode ambil diganti", "Pickup code replaced"),
    "PickupCodeExpired": ("Kode ambil kedaluwarsa", "Pickup code expired"),
    "DelegateAuthorised": ("Kuasa pengambilan dicatat", "Delegate authorised"),
    "Released": ("Dikirim ke jendela", "Sent to the window"),
    "ReturnedToStorage": ("Dikembalikan ke rak", "Returned to the shelf"),
    "HandedOver": ("Diserahkan", "Handed over"),
    "HandoverConflictRecorded": ("Serah terima ganda dicatat", "Double handover recorded"),
    "AssignedToTeam": ("Dijadwalkan ke tim keliling", "Assigned to a mobile team"),
    "UnassignedFromTeam": ("Batal ke tim keliling", "Taken off the mobile team"),
    "Cancelled": ("Dibatalkan", "Cancelled"),
    "Expired": ("Kedaluwarsa", "Expired"),
}

METHODS: dict[str, tuple[str, str]] = {
    "code": ("Kode QR", "QR code"),
    "plate": ("Pelat nomor", "Number plate"),
    "manual": ("Manual", "Manual"),
}


def status_label(status: str) -> str:
    return L(*STATUS.get(status, (status, status)))


def event_label(event: str) -> str:
    return L(*EVENTS.get(event, (event, event)))


def rupiah(amount: int | None) -> str:
    return "—" if amount is None else "Rp " + f"{amount:,}".replace(",", ".")


def event_detail(event: str, detail: dict[str, Any] | None) -> str:
    """A short, escaped note beside a timeline entry (the projection already left out secrets)."""
    if not detail:
        return ""
    if event == "FeeAssessed":
        return e(rupiah(detail.get("amount_rupiah")))
    if event == "Staged":
        return L(f"Rak {detail.get('slot')}", f"Slot {detail.get('slot')}")
    if event == "Released":
        method = METHODS.get(str(detail.get("method")), ("?", "?"))
        return L(
            f"Jalur {detail.get('lane')}, jendela {detail.get('window')} ({method[0]})",
            f"Lane {detail.get('lane')}, window {detail.get('window')} ({method[1]})",
        )
    if event == "HandedOver":
        who = detail.get("recipient")
        return L("kepada kuasa", "to the delegate") if who == "delegate" else ""
    if event == "AssignedToTeam":
        return e(f"{detail.get('team')} · {detail.get('date')} · {detail.get('place')}")
    reason = detail.get("reason")
    return e(reason) if reason else ""
