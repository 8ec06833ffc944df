"""The notifier's own SQLite file (``notify.db`` beside the read models).

- ``tracking``: the last notification id folded, written in the same transaction as what the
  page changed, so a crash replays a page and never skips one;
- ``recipients``: per permit what the messages need (number, masked holder, contact) and
  the timers' facts (released at, ready until, what was already sent);
- ``links``: the pickup link of a code just issued, written by the issuing request *before*
  the event is saved (the event store keeps only the code's hash). Folding the code's
  `PickupCodeIssued` moves it into the ready message and deletes it; links whose save never
  happened are dropped after a day;
- ``outbox``: one row per message and channel, with ``attempts`` and ``next_try``. Its key
  (message id, channel) makes queuing a message twice impossible; a row is marked sent
  only after its channel's 2xx (or SMTP's 250), and the link is then removed from it. A
  row not sent yet is cancelled when the log makes it obsolete (see `api.notify.fold`).

Not in the event store (sending changes no permit) and not in the read models (a rebuild
would send everything again).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.values import IssuedCode
from projections.identity import StoreIdentity

SCHEMA = """
CREATE TABLE IF NOT EXISTS tracking (one INTEGER PRIMARY KEY CHECK (one = 1), position INTEGER);
CREATE TABLE IF NOT EXISTS built_from (one INTEGER PRIMARY KEY CHECK (one = 1), store TEXT);
CREATE TABLE IF NOT EXISTS recipients (
    permit_id TEXT PRIMARY KEY, site TEXT, number TEXT, holder_masked TEXT,
    phone TEXT, email TEXT, lang TEXT NOT NULL DEFAULT 'id',
    status TEXT, code_sha256 TEXT, ready_until REAL, warned_until REAL,
    released_at REAL, visit TEXT, window TEXT, waited_visit TEXT
);
CREATE TABLE IF NOT EXISTS links (
    code_sha256 TEXT PRIMARY KEY, permit_id TEXT NOT NULL, code TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL, channel TEXT NOT NULL, permit_id TEXT NOT NULL, type TEXT NOT NULL,
    body BLOB NOT NULL, created REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL, sent_at REAL, failed_at REAL, last_error TEXT, cancelled_at REAL,
    UNIQUE (id, channel)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_try) WHERE sent_at IS NULL
    AND failed_at IS NULL AND cancelled_at IS NULL;
"""


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a 2xx marked sent must survive a power cut
    # Deleted rows (links, an erased subject's messages) are overwritten, not left in free pages.
    conn.execute("PRAGMA secure_delete=ON")
    conn.executescript(SCHEMA)
    return conn


class IssuedLinks:
    """The code listener (`PermitService.add_code_listener`) of any process that issues codes.

    It runs in the issuing request's thread, before the event's save; its own short
    connection, so issuers (the server, `drivethru seed`, the demo) need no shared state.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        connect(path).close()

    def __call__(self, issued: IssuedCode) -> None:
        conn = connect(self.path)
        try:
            conn.execute(
                "INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?)",
                (issued.code_sha256, str(issued.permit_id), issued.code, time.time()),
            )
        finally:
            conn.close()


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    id: str
    channel: str
    permit_id: str
    type: str
    body: bytes
    attempts: int
    next_try: float
    sent_at: float | None
    failed_at: float | None
    last_error: str | None


class NotifyStore:
    """The notifier's connection; its methods run in worker threads, one at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path)
        self.lock = threading.Lock()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def ensure_from(self, store: StoreIdentity) -> bool:
        """Follow ``store``'s log; True when the file followed another store, whose position
        and recipients are then dropped (a position from another log would skip this one's
        first events). Messages stay: their ids derive from their cause, so nothing already
        queued is queued again."""
        with self.transaction() as conn:
            row = conn.execute("SELECT store FROM built_from").fetchone()
            other = row is not None and not store.same_store(StoreIdentity.parse(row[0]))
            if other:
                conn.execute("DELETE FROM tracking")
                conn.execute("DELETE FROM recipients")
            conn.execute(
                "INSERT INTO built_from VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET "
                "store = excluded.store",
                (store.text,),
            )
        return other

    def position(self) -> int:
        with self.lock:
            row = self.conn.execute("SELECT position FROM tracking").fetchone()
        return int(row[0]) if row else 0

    def due(self, now: float, limit: int = 50) -> list[OutboxRow]:
        with self.lock:
            rows = self.conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE {_WAITING} AND next_try <= ? "
                "ORDER BY seq LIMIT ?",
                (now, limit),
            ).fetchall()
        return [OutboxRow(*row) for row in rows]

    def next_due(self) -> float | None:
        with self.lock:
            row = self.conn.execute(f"SELECT MIN(next_try) FROM outbox WHERE {_WAITING}").fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def mark_sent(self, seq: int, kept_body: bytes, now: float) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET sent_at = ?, body = ?, attempts = attempts + 1 WHERE seq = ?",
                (now, kept_body, seq),
            )

    def mark_failed_try(self, seq: int, error: str, next_try: float, give_up: bool) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_try = ?, "
                "failed_at = CASE WHEN ? THEN ? END WHERE seq = ?",
                (error[:500], next_try, give_up, next_try, seq),
            )

    def rows(self, *, channel: str | None = None, kind: str | None = None) -> list[OutboxRow]:
        """Outbox rows, newest first (tests, the demo's page)."""
        query = f"SELECT {_COLUMNS} FROM outbox WHERE 1=1"
        args: list[str] = []
        if channel is not None:
            query += " AND channel = ?"
            args.append(channel)
        if kind is not None:
            query += " AND type = ?"
            args.append(kind)
        with self.lock:
            found = self.conn.execute(query + " ORDER BY seq DESC LIMIT 500", args).fetchall()
        return [OutboxRow(*row) for row in found]

    def counts(self) -> dict[str, int]:
        """Messages waiting, sent, failed and cancelled (for /metrics)."""
        with self.lock:
            row = self.conn.execute(
                f"SELECT COUNT(*) FILTER (WHERE {_WAITING}), COUNT(sent_at), COUNT(failed_at), "
                "COUNT(cancelled_at) FROM outbox"
            ).fetchone()
        return {"waiting": row[0], "sent": row[1], "failed": row[2], "cancelled": row[3]}


_WAITING = "sent_at IS NULL AND failed_at IS NULL AND cancelled_at IS NULL"
_COLUMNS = (
    "seq, id, channel, permit_id, type, body, attempts, next_try, sent_at, failed_at, last_error"
)
