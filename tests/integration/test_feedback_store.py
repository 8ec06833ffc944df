"""Feedback after pickup: one row per permit, and nothing kept past its retention."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.pages.feedback import FeedbackStore


async def test_the_last_word_counts_and_old_feedback_is_deleted(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.db", retention=timedelta(days=30))
    await store.record("p1", 2, "lama / slow")
    await store.record("p1", 5, "  cepat / quick  ")
    given = await store.of("p1")
    assert given is not None
    assert (given.rating, given.complaint) == (5, "cepat / quick")

    # Feedback older than the retention period, as a year-old file would hold it.
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    with sqlite3.connect(tmp_path / "feedback.db") as conn:
        conn.execute("INSERT INTO feedback VALUES ('p0', 1, 'nama saya Budi', ?)", (old,))
    assert await store.of("p0") is None  # past its time: not shown even before deletion
    assert await store.summary() == (1, 5.0)

    await store.record("p2", 4, "")
    with sqlite3.connect(tmp_path / "feedback.db") as conn:
        kept = [row[0] for row in conn.execute("SELECT permit_id FROM feedback ORDER BY 1")]
    assert kept == ["p1", "p2"]
    assert await store.summary() == (2, 4.5)
