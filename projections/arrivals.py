"""Recent arrivals at each lane, folded from the event log like every other read model.

The lane console's live alert, the lane board and the recent-arrivals list used to come from
the memory of the server process that decided the arrival, so a browser connected to another
replica never saw them. They come from the log instead: the outcome of each arrival is in the
`LaneVisit`'s events (`Arrived`, `ArrivalRecorded`), and a manual arrival is a permit's
`Released` with the method ``manual``. Every replica's projection runner folds them into the
``lane_arrivals`` table and hands the page's new arrivals to its own consoles
(`ProjectionRunner.on_arrivals`), whichever replica decided them.

Only the newest `KEEP_PER_LANE` arrivals of a lane are kept: the console shows the latest,
and the board the last few. The rows kept are the newest by position, so a rebuild keeps the
same ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiosqlite
import orjson
from eventsourcing.utils import get_topic

from core.visit import LaneVisit

# The stored topics come from the event classes (made by `@event`, hence getattr), so a
# renamed event fails at import instead of leaving the table empty.
_VISIT_EVENTS: dict[str, str] = {
    get_topic(getattr(LaneVisit, name)): name for name in ("Arrived", "ArrivalRecorded")
}
KEEP_PER_LANE = 50

ARRIVAL_COLUMNS: tuple[str, ...] = (
    "key",
    "position",
    "site",
    "lane",
    "visit",
    "arrival_id",
    "outcome",
    "reason",
    "permits",
    "plate",
    "method",
    "source",
    "at",
)
"""``key`` is the arrival id, or ``manual:{visit}:{permit}`` for a manual release (which has
no arrival message); ``permits`` is a JSON array of permit ids."""

ARRIVALS_SCHEMA = """
CREATE TABLE IF NOT EXISTS lane_arrivals (
    key TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    site TEXT NOT NULL,
    lane TEXT NOT NULL,
    visit TEXT NOT NULL,
    arrival_id TEXT,
    outcome TEXT NOT NULL,
    reason TEXT,
    permits TEXT NOT NULL,
    plate TEXT,
    method TEXT,
    source TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lane_arrivals_by_lane ON lane_arrivals (site, lane, position);
"""

ARRIVAL_INSERT = (
    f"INSERT OR IGNORE INTO lane_arrivals ({', '.join(ARRIVAL_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in ARRIVAL_COLUMNS)})"
)
# The newest KEEP_PER_LANE of a lane stay; parameters: site, lane, site, lane.
ARRIVAL_PRUNE = (
    "DELETE FROM lane_arrivals WHERE site = ? AND lane = ? AND position <= "
    "(SELECT position FROM lane_arrivals WHERE site = ? AND lane = ? "
    f"ORDER BY position DESC LIMIT 1 OFFSET {KEEP_PER_LANE})"
)


def visit_event_name(topic: str) -> str | None:
    """The name of a `LaneVisit` event that records an arrival, else None."""
    return _VISIT_EVENTS.get(topic)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        data = value.get("_data_")
        if value.get("_type_") == "uuid_hex" and isinstance(data, str) and len(data) == 32:
            h = data
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        return str(data)
    return str(value)


@dataclass
class PageArrivals:
    """The arrivals one page records, and the permits it released to each visit."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    released: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(lane, visit) -> permits this page released to that visit."""

    def add_visit_event(self, name: str, position: int, state: dict[str, Any]) -> None:
        """A `LaneVisit` event: its arrival's outcome, if it carries one."""
        arrival_id, outcome = state.get("arrival_id"), state.get("outcome")
        if arrival_id is None or outcome is None:
            return  # an `Arrived` stored before outcomes travelled in it: a record follows
        at = state["arrived_at"] if name == "Arrived" else state["at"]
        self.rows.append(
            (
                str(arrival_id), position, state.get("site", ""), state.get("lane", ""),
                _text(state.get("visit")) or "", str(arrival_id), outcome, state.get("reason"),
                orjson.dumps(state.get("permits") or []).decode(), state.get("plate"),
                state.get("method"), None, _text(at),
            )
        )  # fmt: skip

    def add_release(
        self, position: int, permit_id: str, state: dict[str, Any], row: dict[str, Any]
    ) -> None:
        """A permit's `Released`: kept for the visit's live event; a manual one is an arrival."""
        lane, visit = str(state["lane"]), _text(state["visit"]) or ""
        self.released.setdefault((lane, visit), []).append(permit_id)
        if state.get("method") != "manual":
            return
        self.rows.append(
            (
                f"manual:{visit}:{permit_id}", position, row["site"], lane, visit, None,
                "released", None, orjson.dumps([permit_id]).decode(), row["plate"],
                "manual", "manual", _text(state["timestamp"]),
            )
        )  # fmt: skip


def live_event(values: tuple[Any, ...], released: list[str], window: str | None) -> dict[str, Any]:
    """An arrival row as the consoles' SSE ``arrival`` event."""
    row = dict(zip(ARRIVAL_COLUMNS, values, strict=True))
    return {
        "type": "arrival",
        "lane": row["lane"],
        "window": window,
        "visit": row["visit"],
        "outcome": row["outcome"],
        "reason": row["reason"],
        "permits": orjson.loads(row["permits"]),
        "released": released,
        "plate": row["plate"],
        # A decision without a release method read a refused code, or a plate.
        "method": row["method"] or ("code" if row["outcome"] == "rejected" else "plate"),
        "source": row["source"],
        "at": row["at"],
        "position": row["position"],
    }


RECENT_LIMIT = 20


async def recent_arrivals(
    conn: aiosqlite.Connection, site: str, lane: str, window: str | None, limit: int = RECENT_LIMIT
) -> list[dict[str, Any]]:
    """The lane's latest arrivals, newest first, in the shape of the live events."""
    query = (
        f"SELECT {', '.join(ARRIVAL_COLUMNS)} FROM lane_arrivals WHERE site = ? AND lane = ? "
        "ORDER BY position DESC LIMIT ?"
    )
    async with conn.execute(query, (site, lane, limit)) as cursor:
        rows = await cursor.fetchall()
    found = []
    for row in rows:
        values = tuple(row)
        # Which permits a page released is not kept: a release's arrival names its permits.
        released = orjson.loads(values[8]) if values[6] == "released" else []
        found.append(live_event(values, released, window))
    return found
