"""Ratings and complaints after pickup (SIAP LAPOR style), in a small SQLite file of its own.

Not in the event store: feedback changes no permit, needs no audit of its own and must be
deletable on its own retention clock (UU PDP 27/2022). Not in the read models either: those
are rebuilt from events at will, and a rebuild would lose it. So ``feedback.db`` sits beside
the read-model file; it holds the permit id, the rating, the text and the time, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    permit_id TEXT PRIMARY KEY,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    complaint TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Feedback:
    permit_id: str
    rating: int
    complaint: str
    at: str


class FeedbackStore:
    """One row per permit: a citizen may change their mind, the last word counts.

    Rows older than ``retention`` are deleted whenever feedback is written, and never read
    after it: the file holds no more than the retention period's feedback.
    """

    def __init__(self, path: Path, retention: timedelta = timedelta(days=365)) -> None:
        self.path = path
        self.retention = retention

    def _cutoff(self) -> str:
        # Written as UTC ISO 8601 throughout, so text order is time order.
        return (datetime.now(UTC) - self.retention).isoformat()

    async def _connect(self) -> aiosqlite.Connection:
        # A connection per call: feedback is rare, and this needs no start or stop hook.
        conn = await aiosqlite.connect(self.path)
        await conn.execute(_SCHEMA)
        return conn

    async def record(self, permit_id: str, rating: int, complaint: str) -> Feedback:
        if not 1 <= rating <= 5:
            raise ValueError(f"rating must be 1..5, got {rating}")
        entry = Feedback(permit_id, rating, complaint.strip()[:1000], datetime.now(UTC).isoformat())
        conn = await self._connect()
        try:
            await conn.execute(
                "INSERT OR REPLACE INTO feedback (permit_id, rating, complaint, at) "
                "VALUES (?, ?, ?, ?)",
                (entry.permit_id, entry.rating, entry.complaint, entry.at),
            )
            await conn.execute("DELETE FROM feedback WHERE at < ?", (self._cutoff(),))
            await conn.commit()
        finally:
            await conn.close()
        return entry

    async def of(self, permit_id: str) -> Feedback | None:
        conn = await self._connect()
        try:
            async with conn.execute(
                "SELECT permit_id, rating, complaint, at FROM feedback "
                "WHERE permit_id = ? AND at >= ?",
                (permit_id, self._cutoff()),
            ) as cursor:
                row = await cursor.fetchone()
        finally:
            await conn.close()
        return Feedback(row[0], int(row[1]), row[2], row[3]) if row else None

    async def listed(
        self, since: str, until: str, rating: int | None = None, limit: int = 500
    ) -> list[Feedback]:
        """Feedback given in [``since``, ``until``) (UTC ISO text), newest first."""
        conn = await self._connect()
        try:
            async with conn.execute(
                "SELECT permit_id, rating, complaint, at FROM feedback "
                "WHERE at >= ? AND at >= ? AND at < ? AND (? IS NULL OR rating = ?) "
                "ORDER BY at DESC LIMIT ?",
                (self._cutoff(), since, until, rating, rating, limit),
            ) as cursor:
                rows = await cursor.fetchall()
        finally:
            await conn.close()
        return [Feedback(r[0], int(r[1]), r[2], r[3]) for r in rows]

    async def summary(self) -> tuple[int, float | None]:
        """How many ratings there are and their mean, for the dashboard."""
        conn = await self._connect()
        try:
            async with conn.execute(
                "SELECT COUNT(*), AVG(rating) FROM feedback WHERE at >= ?", (self._cutoff(),)
            ) as cursor:
                row = await cursor.fetchone()
        finally:
            await conn.close()
        return (
            (int(row[0]), float(row[1]) if row and row[1] is not None else None)
            if row
            else (0, None)
        )
