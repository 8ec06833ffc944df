"""What the device's page shows, as JSON-ready dictionaries built from the device's state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from edge_lane.mobile.journal import JournalEntry
from edge_lane.mobile.manifest import DeviceManifest
from edge_lane.mobile.verify import Accepted, Verdict

# Status of a permit on the page: Bahasa Indonesia / English.
_STATUS: dict[str, str] = {
    "waiting": "menunggu / waiting",
    "unsynced": "diserahkan, belum sinkron / handed over, not synced",
    "applied": "diserahkan, tersinkron / handed over, synced",
    "duplicate": "diserahkan, tersinkron / handed over, synced",
    "conflict": "KONFLIK / CONFLICT",
    "rejected": "DITOLAK SERVER / REJECTED BY SERVER",
}


def verdict_view(verdict: Verdict) -> dict[str, Any]:
    if isinstance(verdict, Accepted):
        permit, delegate = verdict.permit, verdict.delegate
        return {
            "ok": True,
            "code_sha256": verdict.code_sha256,
            "permit": {
                "permit_id": permit.permit_id, "number": permit.number, "holder": permit.holder,
                "nik_masked": permit.nik_masked, "plate": permit.plate, "place": permit.place,
                "date": permit.date,
            },
            "recipient": verdict.recipient,
            "delegate": None if delegate is None else {
                "delegate_id": delegate.delegate_id, "name": delegate.name,
                "nik_masked": delegate.nik_masked, "expires_at": delegate.expires_at.isoformat(),
            },
            "check_id": verdict.identity_check_id,
            "check_en": verdict.identity_check_en,
        }  # fmt: skip
    return {
        "ok": False,
        "reason": verdict.reason.value,
        "permit_id": verdict.permit_id,
        "number": verdict.number,
        "message_id": verdict.message_id,
        "message_en": verdict.message_en,
    }


def _status(entry: JournalEntry | None) -> str:
    if entry is None:
        return "waiting"
    return entry.outcome or "unsynced"


def device_view(
    *,
    site: str,
    team: str,
    state: DeviceManifest,
    entries: Sequence[JournalEntry],
    connected: bool,
    unsynced: int,
    last_sync: datetime | None,
    today: date,
    last_scan: tuple[datetime, str, Verdict] | None,
) -> dict[str, Any]:
    """The page's whole state: today's list, other days, problems, sync figures, last scan."""
    latest: dict[str, JournalEntry] = {}
    for entry in entries:
        latest[entry.permit_id] = entry
    rows: list[dict[str, Any]] = []
    in_manifest: set[str] = set()
    for permit in state.permits():
        in_manifest.add(permit.permit_id)
        status = _status(latest.get(permit.permit_id))
        rows.append({
            "permit_id": permit.permit_id, "number": permit.number, "who": permit.holder,
            "plate": permit.plate, "place": permit.place, "date": permit.date,
            "status": status, "status_text": _STATUS[status],
            "reason": latest[permit.permit_id].reason if permit.permit_id in latest else None,
        })  # fmt: skip
    for entry in entries:
        # Handed over here and gone from the newest manifest: still part of the day's list.
        if entry.permit_id in in_manifest or latest[entry.permit_id] is not entry:
            continue
        status = _status(entry)
        rows.append({
            "permit_id": entry.permit_id, "number": entry.number, "who": None, "plate": None,
            "place": entry.place, "date": entry.happened_at.date().isoformat(),
            "status": status, "status_text": _STATUS[status], "reason": entry.reason,
        })  # fmt: skip
    day = today.isoformat()
    problems = [
        {
            "handover_id": str(entry.id), "permit_id": entry.permit_id, "number": entry.number,
            "outcome": entry.outcome, "reason": entry.reason,
            "happened_at": entry.happened_at.isoformat(),
        }
        for entry in entries
        if entry.outcome in ("conflict", "rejected")
    ]  # fmt: skip
    manifest = state.manifest
    return {
        "site": site,
        "team": team,
        "connected": connected,
        "unsynced": unsynced,
        "last_sync": last_sync.isoformat() if last_sync else None,
        "manifest_at": manifest.at.isoformat() if manifest else None,
        "today": day,
        "permits": [row for row in rows if row["date"] == day],
        "other_days": [row for row in rows if row["date"] != day],
        "handed_over": len(latest),
        "problems": problems,
        "last_scan": None if last_scan is None else {
            "at": last_scan[0].isoformat(), "source": last_scan[1], **verdict_view(last_scan[2]),
        },
    }  # fmt: skip
