"""A data subject's requests (UU PDP 27/2022): everything held about them, and its erasure.

The event log keeps the subject's personal fields sealed under their own key (`core.personal`);
erasing deletes that key, and the read models forget what they showed as they fold the
`DataErased` event. The feedback and complaint text beside them is deleted here.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from core.personal import ERASED
from core.service import PermitLog, PermitService

# Files beside the read models that may hold a subject's data (the server's own places).
FEEDBACK_FILE = "feedback.db"
NOTIFY_FILE = "notify.db"


@dataclass(frozen=True, slots=True)
class Erasure:
    permit_id: UUID
    recorded: bool
    """False when the permit's data had already been erased (its key is deleted again)."""
    feedback_rows: int
    """Feedback and complaint rows deleted (``feedback.db`` is no read model: nothing rebuilds
    it). The read models forget the subject as they fold `DataErased`, even when rebuilt."""


def erase_subject(
    service: PermitService, read_models: Path, permit_id: UUID, by: str, reason: str
) -> Erasure:
    """Erase a permit holder's personal data in the log (by key) and beside the read models."""
    recorded = service.erase_personal_data(permit_id, by, reason)
    feedback = _delete(read_models.parent / FEEDBACK_FILE, "feedback", permit_id)
    return Erasure(permit_id, recorded, feedback)


def export_subject(log: PermitLog, read_models: Path, permit_id: UUID) -> dict[str, Any]:
    """Everything held about the permit's holder, as JSON-ready values.

    Their NIK is held only as a keyed hash (and a masked form), and their pickup code only as
    its SHA-256: neither can be given back, and the export says so.
    """
    events = [
        {
            "version": event.originator_version,
            "event": type(event).__name__,
            "at": _text(vars(event)["timestamp"]),
            "data": {
                key: _text(value)
                for key, value in vars(event).items()
                if key not in ("originator_id", "originator_version", "timestamp")
            },
        }
        for event in log.events.get(permit_id)
    ]
    held: dict[str, Any] = {
        "permit_id": str(permit_id),
        "erased": any(e["event"] == "DataErased" for e in events),
        "erased_reads": ERASED,
        "note": (
            "NIK hanya disimpan sebagai hash berkunci, kode pengambilan hanya sebagai SHA-256 / "
            "the NIK is held only as a keyed hash, the pickup code only as its SHA-256"
        ),
        "events": events,
    }
    if read_models.exists():
        with closing(_open(read_models, read_only=True)) as conn:
            pid = str(permit_id)
            held["read_model"] = _rows(conn, "SELECT * FROM permits WHERE id = ?", pid)
            held["delegates"] = _rows(conn, "SELECT * FROM delegates WHERE permit_id = ?", pid)
            held["pickup_codes"] = _rows(
                conn, "SELECT * FROM pickup_codes WHERE permit_id = ?", pid
            )
            held["lane_arrivals"] = _rows(
                conn, "SELECT * FROM lane_arrivals WHERE permits LIKE ?", f'%"{pid}"%'
            )
    for name, table in ((FEEDBACK_FILE, "feedback"), (NOTIFY_FILE, "recipients")):
        path = read_models.parent / name
        if path.exists():
            with closing(_open(path, read_only=True)) as conn:
                held[table] = _rows(
                    conn, f"SELECT * FROM {table} WHERE permit_id = ?", str(permit_id)
                )
    return held


def _text(value: object) -> object:
    if isinstance(value, datetime | UUID):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    if isinstance(value, dict):
        return {str(k): _text(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_text(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _open(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def _rows(conn: sqlite3.Connection, query: str, *args: object) -> list[dict[str, Any]]:
    try:
        return [dict(row) for row in conn.execute(query, args)]
    except sqlite3.OperationalError:  # a table this file does not have (yet)
        return []


def _delete(path: Path, table: str, permit_id: UUID) -> int:
    if not path.exists():
        return 0
    with closing(_open(path)) as conn:
        conn.execute("PRAGMA secure_delete=ON")
        try:
            return conn.execute(
                f"DELETE FROM {table} WHERE permit_id = ?", (str(permit_id),)
            ).rowcount
        except sqlite3.OperationalError:
            return 0
