"""The cars in each lane now: visits with an arrival recorded and no departure yet.

Folded from the `LaneVisit` events: an arrival's outcome (`Arrived` with one, or
`ArrivalRecorded`) puts the car in its lane; `Left` (the edge's `Departure`) takes it out, and
its row goes, so the table holds only the cars still there. A permit of the visit returned to
the shelf (`ReturnedToStorage`: the car left without it) takes the car out too. A departure
may come before its visit's arrival: the visit's first event then has no outcome, and `Left`
follows at once.

Edges that never send departures (older ones, other vendors' devices) would leave their
cars in forever, so the queue counts a car for `STALE_AFTER` at most, and rows older than
`KEEP_FOR` (from the page's newest event, so a rebuild keeps the same rows) are removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
from eventsourcing.utils import get_topic

from core.visit import LaneVisit

STALE_AFTER = timedelta(hours=1)
"""A car not seen leaving after this long is taken for gone (its departure was lost)."""
KEEP_FOR = timedelta(days=1)

_EVENTS = {
    name: cls
    for name, cls in vars(LaneVisit).items()
    if isinstance(cls, type) and issubclass(cls, LaneVisit.Event) and name != "Event"
}
_FOLDED = ("Arrived", "ArrivalRecorded", "Left")
_missing = [name for name in _FOLDED if name not in _EVENTS]
if _missing:
    raise ValueError(f"not events of LaneVisit: {', '.join(_missing)}")
VISIT_TOPICS = {get_topic(_EVENTS[name]): name for name in _FOLDED}
"""The stored topic of each `LaneVisit` event this read model folds -> its name."""

LANE_VISITS_SCHEMA = """
CREATE TABLE IF NOT EXISTS lane_visits (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    lane TEXT NOT NULL,
    visit TEXT NOT NULL,
    arrived_at TEXT
);
CREATE INDEX IF NOT EXISTS lane_visits_by_lane ON lane_visits (site, lane, arrived_at);
"""
"""``id`` is the `LaneVisit`'s id; ``arrived_at`` (UTC ISO text) is None until an arrival's
outcome is recorded on it."""


def _utc(value: Any) -> str:
    text = value.get("_data_") if isinstance(value, dict) else value
    return datetime.fromisoformat(str(text)).astimezone(UTC).isoformat()


def _uuid_text(value: Any) -> str:
    data = value.get("_data_") if isinstance(value, dict) else value
    text = str(data)
    if len(text) == 32:
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return text


@dataclass
class PageVisits:
    """What one page changes in ``lane_visits``, as statements in the page's order."""

    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    newest: str | None = None
    """The page's newest event time (UTC ISO): rows older than it by `KEEP_FOR` go."""

    def add(self, name: str, visit_key: str, state: dict[str, Any]) -> None:
        """A `LaneVisit` event ``name`` of the visit ``visit_key`` (its state decoded)."""
        recorded = _utc(state["timestamp"])
        self.newest = recorded if self.newest is None else max(self.newest, recorded)
        if name == "Arrived":
            with_outcome = state.get("outcome") is not None
            self.statements.append(
                (
                    "INSERT OR IGNORE INTO lane_visits VALUES (?, ?, ?, ?, ?)",
                    (
                        visit_key, state["site"], state["lane"], _uuid_text(state["visit"]),
                        _utc(state["arrived_at"]) if with_outcome else None,
                    ),
                )
            )  # fmt: skip
        elif name == "ArrivalRecorded":
            self.statements.append(
                (
                    "UPDATE lane_visits SET arrived_at = ? WHERE id = ? AND arrived_at IS NULL",
                    (_utc(state["at"]), visit_key),
                )
            )
        else:  # Left
            self.statements.append(("DELETE FROM lane_visits WHERE id = ?", (visit_key,)))

    def car_left(self, site: str, lane: str, visit: str) -> None:
        """A permit released to the visit went back to the shelf: its car left without it."""
        statement = "DELETE FROM lane_visits WHERE site = ? AND lane = ? AND visit = ?"
        self.statements.append((statement, (site, lane, visit)))

    def rows(self) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """The statements to run in order, each with the parameters of a run of it (one
        ``executemany``, not a call per car), the pruning of old rows last."""
        statements = list(self.statements)
        if self.newest is not None:
            cutoff = (datetime.fromisoformat(self.newest) - KEEP_FOR).isoformat()
            statements.append(("DELETE FROM lane_visits WHERE arrived_at < ?", (cutoff,)))
        runs: list[tuple[str, list[tuple[Any, ...]]]] = []
        for statement, parameters in statements:
            if runs and runs[-1][0] == statement:
                runs[-1][1].append(parameters)
            else:
                runs.append((statement, [parameters]))
        return runs


async def cars_in_lanes(
    conn: aiosqlite.Connection, site: str, now: datetime
) -> set[tuple[str, str]]:
    """(lane, visit) of the cars at ``site`` that arrived and have not left, as of ``now``."""
    async with conn.execute(
        "SELECT lane, visit FROM lane_visits WHERE site = ? AND arrived_at >= ?",
        (site, (now - STALE_AFTER).astimezone(UTC).isoformat()),
    ) as cursor:
        return {(lane, visit) for lane, visit in await cursor.fetchall()}
