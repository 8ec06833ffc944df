"""The durable outbox: every arrival is on disk before it is published, until the server acks.

A broker's PUBACK is not enough (DESIGN.md, "Delivery guarantees"): paho's queue dies with a
``kill -9`` of the edge, and a broker may drop queued messages. So each arrival goes into a
SQLite file (WAL, ``synchronous=FULL`` for the insert) first, is republished after every
reconnect and when unacked for a while, and leaves only when the server's ack names its id.
The outbox is bounded: when full, the oldest entries are kept and the new one is refused.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from edge_lane.errors import OutboxError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL,
    sent REAL,
    attempts INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One arrival waiting for its ack; ``sent`` is when it was last published (epoch s)."""

    seq: int
    id: UUID
    topic: str
    payload: bytes
    created: float
    sent: float | None
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    depth: int
    refused: int
    acked: int


class Outbox:
    """A bounded, durable queue of messages keyed by id; safe to share between threads."""

    def __init__(
        self, path: Path, max_entries: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self.refused = 0
        self.acked = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            # An acked arrival's plate is overwritten, not left in the file's free pages.
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as error:
            raise OutboxError(str(path), str(error)) from None

    def add(self, message_id: UUID, topic: str, payload: bytes) -> bool:
        """Store a message durably; False when the outbox is full (the message is refused)."""
        with self._lock:
            depth = self._depth()
            if depth >= self.max_entries:
                self.refused += 1
                return False
            try:
                self._db.execute(
                    "INSERT OR IGNORE INTO outbox (id, topic, payload, created) VALUES (?,?,?,?)",
                    (str(message_id), topic, payload, self._clock()),
                )
            except sqlite3.Error as error:
                raise OutboxError(str(self.path), str(error)) from None
            return True

    def due(self, retry_after: float | None = None, limit: int = 500) -> list[OutboxEntry]:
        """Entries to publish, oldest first: never sent, or (with ``retry_after``) sent longer
        ago than that many seconds; with ``retry_after=None``, every entry (after a reconnect)."""
        query = "SELECT seq, id, topic, payload, created, sent, attempts FROM outbox"
        params: tuple[object, ...] = ()
        if retry_after is not None:
            query += " WHERE sent IS NULL OR sent <= ?"
            params = (self._clock() - retry_after,)
        query += " ORDER BY seq LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*params, limit)).fetchall()
        return [
            OutboxEntry(seq, UUID(mid), topic, bytes(payload), created, sent, attempts)
            for seq, mid, topic, payload, created, sent, attempts in rows
        ]

    def mark_sent(self, message_id: UUID) -> None:
        """Record a publish attempt, so the periodic retry waits before the next one."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET sent = ?, attempts = attempts + 1 WHERE id = ?",
                (self._clock(), str(message_id)),
            )

    def ack(self, message_id: UUID) -> str | None:
        """Forget an acknowledged message: the topic it went to, or None when it was not (or
        no longer) here."""
        with self._lock:
            found = self._db.execute(
                "SELECT topic FROM outbox WHERE id = ?", (str(message_id),)
            ).fetchone()
            if found is None:
                return None
            self._db.execute("DELETE FROM outbox WHERE id = ?", (str(message_id),))
            self.acked += 1
            if self._depth() == 0:
                # Nothing waits: empty the write-ahead log too, so that no plate outlives
                # its ack in the files (the lane keeps no personal data once delivered).
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            topic: str = found[0]
            return topic

    def depth(self) -> int:
        with self._lock:
            return self._depth()

    def counts(self) -> OutboxCounts:
        with self._lock:
            return OutboxCounts(self._depth(), self.refused, self.acked)

    def _depth(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
