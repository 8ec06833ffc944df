"""Where the runner reads the notification log from.

Through the library's recorder in general (PostgreSQL, in-memory stores). For a SQLite file
the same rows are read with one plain query: the recorder builds a UUID and a dataclass per
row, which made reading the slowest stage of a rebuild (measured: 9 µs of 13 µs per event).
The query is the recorder's own (`select_notifications`), on a read-only connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.sqlite import SQLiteApplicationRecorder


class LogEntry(NamedTuple):
    """One notification as the fold needs it."""

    id: int
    originator_id: str
    """As stored: 32 hex digits (see `originator_key`)."""
    originator_version: int
    topic: str
    state: bytes


Entry = LogEntry | Notification


class NotificationSource(Protocol):
    def select_after(self, position: int, limit: int) -> Sequence[Entry]: ...

    def max_id(self) -> int: ...


class RecorderSource:
    """The library's recorder: works for every store."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self._recorder = recorder

    def select_after(self, position: int, limit: int) -> Sequence[Entry]:
        return self._recorder.select_notifications(
            start=position, limit=limit, inclusive_of_start=False
        )

    def max_id(self) -> int:
        return self._recorder.max_notification_id() or 0


class SqliteFileSource:
    """A SQLite event store file read directly, read-only."""

    def __init__(self, db_name: str, table: str) -> None:
        self.db_name = db_name
        self.table = table
        self._connection = sqlite3.connect(
            f"file:{db_name}?mode=ro", uri=True, check_same_thread=False
        )
        self._lock = threading.Lock()  # called from worker threads, one at a time
        self._select = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        self._max = f"SELECT MAX(rowid) FROM {table}"

    def select_after(self, position: int, limit: int) -> Sequence[Entry]:
        with self._lock:
            return list(
                map(LogEntry._make, self._connection.execute(self._select, (position, limit)))
            )

    def max_id(self) -> int:
        with self._lock:
            found = self._connection.execute(self._max).fetchone()
        return int(found[0] or 0)

    def close(self) -> None:
        self._connection.close()


def originator_key(originator_id: object) -> str:
    """An aggregate id as the read models write it: a UUID's usual dashed form.

    The SQLite store keeps UUIDs as 32 hex digits; the fold dashes each once per page
    rather than the source dashing every row (measured: half of the read stage).
    """
    if isinstance(originator_id, str) and len(originator_id) == 32:
        h = originator_id
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return str(originator_id)


def source_for(recorder: ApplicationRecorder) -> NotificationSource:
    """The fastest source that reads ``recorder``'s log."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        db_name = str(getattr(recorder.datastore.pool, "db_name", ""))
        if db_name and ":memory:" not in db_name and "mode=memory" not in db_name:
            return SqliteFileSource(db_name, recorder.events_table_name)
    return RecorderSource(recorder)
