"""The device's own record of its handovers and of how the server settled each one.

The shared `edge_lane.outbox.Outbox` carries the messages until the server's ack; this
journal keeps what the officer must still see afterwards (the outcome, a conflict's reason)
and which permits this device has handed over, so a second scan is refused offline.

The two files are written in a fixed order so that a ``kill -9`` between two writes loses
nothing: a handover goes into the journal before the outbox (`pending` lets the device put
back one that missed the outbox), and an ack settles the journal before the outbox entry
is deleted (a settled entry left in the outbox is sent again and acked as a duplicate).
Only hashes of pickup codes are stored, never the code.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

from edge_lane.errors import OutboxError

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS handovers (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        permit_id TEXT NOT NULL,
        number TEXT NOT NULL,
        place TEXT NOT NULL,
        recipient TEXT NOT NULL,
        happened_at TEXT NOT NULL,
        payload BLOB NOT NULL,
        outcome TEXT,
        reason TEXT,
        settled_at TEXT
    )
    """,
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_COLUMNS = "seq, id, permit_id, number, place, recipient, happened_at, payload, outcome, reason"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One handover made on this device; ``outcome`` is None until the server acked it."""

    seq: int
    id: UUID
    permit_id: str
    number: str
    place: str
    recipient: str
    happened_at: datetime
    payload: bytes
    outcome: str | None
    reason: str | None

    @property
    def synced(self) -> bool:
        return self.outcome is not None


class HandoverJournal:
    """Durable (SQLite, WAL, ``synchronous=FULL``); safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except sqlite3.Error as error:
            raise OutboxError(str(path), str(error)) from None

    def record(
        self,
        handover_id: UUID,
        *,
        permit_id: str,
        number: str,
        place: str,
        recipient: str,
        happened_at: datetime,
        payload: bytes,
    ) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO handovers (id, permit_id, number, place, recipient, "
                    "happened_at, payload) VALUES (?,?,?,?,?,?,?)",
                    (str(handover_id), permit_id, number, place, recipient,
                     happened_at.isoformat(), payload),
                )  # fmt: skip
            except sqlite3.Error as error:
                raise OutboxError(str(self.path), str(error)) from None

    def forget(self, handover_id: UUID) -> None:
        """Undo a `record` whose message the outbox refused (it was never sent)."""
        with self._lock:
            self._db.execute(
                "DELETE FROM handovers WHERE id = ? AND outcome IS NULL", (str(handover_id),)
            )

    def settle(self, handover_id: UUID, outcome: str, reason: str | None, at: datetime) -> bool:
        """Keep the server's answer; False when unknown or already settled (a duplicate ack)."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE handovers SET outcome = ?, reason = ?, settled_at = ? "
                "WHERE id = ? AND outcome IS NULL",
                (outcome, reason, at.isoformat(), str(handover_id)),
            )
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('last_sync', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (at.isoformat(),),
            )
            return cursor.rowcount > 0

    def entries(self, *, pending_only: bool = False) -> list[JournalEntry]:
        """Handovers in the order they were made."""
        where = " WHERE outcome IS NULL" if pending_only else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM handovers{where} ORDER BY seq"  # no user input
            ).fetchall()
        return [_entry(row) for row in rows]

    def pending(self) -> list[JournalEntry]:
        return self.entries(pending_only=True)

    def handed_here(self) -> dict[str, datetime]:
        """Permits this device has handed over, with when (first time)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT permit_id, MIN(happened_at) FROM handovers GROUP BY permit_id"
            ).fetchall()
        return {permit_id: datetime.fromisoformat(at) for permit_id, at in rows}

    def last_sync(self) -> datetime | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'last_sync'").fetchone()
        return None if row is None else datetime.fromisoformat(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _entry(row: tuple[object, ...]) -> JournalEntry:
    seq, hid, permit_id, number, place, recipient, happened, payload, outcome, reason = row
    return JournalEntry(
        seq=int(str(seq)), id=UUID(str(hid)), permit_id=str(permit_id), number=str(number),
        place=str(place), recipient=str(recipient),
        happened_at=datetime.fromisoformat(str(happened)),
        payload=bytes(payload) if isinstance(payload, bytes | bytearray | memoryview) else b"",
        outcome=None if outcome is None else str(outcome),
        reason=None if reason is None else str(reason),
    )  # fmt: skip
