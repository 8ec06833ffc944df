"""The queue at each lane now and how long it takes to serve a car.

A car is a visit. It is in the lane from its first arrival the server recorded until the
edge says it left (`projections.lane_visits`), whatever the arrival matched: a car whose
plate matched nothing waits in the line too. A visit with permits released to it is in
the lane until they are handed over or back on the shelf, which also covers the manual
arrivals ("I'm here", the window's own), which make no `LaneVisit`. Its service time is from
its first release to its last handover.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiosqlite

from projections.lane_visits import cars_in_lanes

WINDOW = timedelta(hours=1)
"""Service times older than this are not in the median: the lane's pace now."""
DEFAULT_SERVICE_SECONDS = 180.0
"""Assumed per car while a lane has served none in the last hour (a fresh morning)."""


@dataclass(frozen=True, slots=True)
class VisitRow:
    """One permit's part in a visit, as the read models hold it."""

    lane: str
    visit: str
    status: str
    released_at: str | None
    handed_over_at: str | None


@dataclass(frozen=True, slots=True)
class LaneQueue:
    """One lane now: cars in it, the last hour's median service time, the wait it makes."""

    lane: str
    cars: int
    """Visits in the lane now: arrived and not left, and not served yet."""
    served_last_hour: int
    median_service_seconds: float | None
    """None when no car was served at this lane in the last hour."""
    eta_seconds: int
    """How long a car joining now waits for its turn: ``cars`` times the median (or
    `DEFAULT_SERVICE_SECONDS` while there is none)."""

    @property
    def eta_minutes(self) -> int:
        """The wait in whole minutes, rounded up: ``±6 menit``."""
        return math.ceil(self.eta_seconds / 60)


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def queues_from(
    rows: Iterable[VisitRow],
    lanes: Sequence[str],
    now: datetime,
    default_service_seconds: float = DEFAULT_SERVICE_SECONDS,
    open_visits: Iterable[tuple[str, str]] = (),
) -> dict[str, LaneQueue]:
    """Each lane's queue from its permits' rows (released now, or handed over lately) and
    its ``open_visits``: (lane, visit) of the cars that arrived and have not left."""
    waiting: dict[str, set[str]] = {lane: set() for lane in lanes}
    spans: dict[tuple[str, str], list[datetime]] = {}
    for row in rows:
        if row.lane not in waiting:
            continue
        if row.status == "released":
            waiting[row.lane].add(row.visit)
            continue
        start, end = _moment(row.released_at), _moment(row.handed_over_at)
        if start is None or end is None or end < start:
            continue
        seen = spans.setdefault((row.lane, row.visit), [start, end])
        seen[0], seen[1] = min(seen[0], start), max(seen[1], end)
    cutoff = now - WINDOW
    # A visit with a permit still at the window is not served yet, whatever else it took.
    served: dict[str, list[float]] = {lane: [] for lane in lanes}
    for (lane, visit), (start, end) in spans.items():
        if visit not in waiting[lane] and end >= cutoff:
            served[lane].append((end - start).total_seconds())
    # A car served and not seen leaving yet is on its way out: it holds no one up.
    for lane, visit in open_visits:
        if lane in waiting and (lane, visit) not in spans:
            waiting[lane].add(visit)
    found = {}
    for lane in lanes:
        times = served[lane]
        median = statistics.median(times) if times else None
        per_car = median if median is not None else default_service_seconds
        cars = len(waiting[lane])
        found[lane] = LaneQueue(lane, cars, len(times), median, round(cars * per_car))
    return found


async def lane_queues(
    conn: aiosqlite.Connection,
    site: str,
    lanes: Sequence[str],
    now: datetime,
    default_service_seconds: float = DEFAULT_SERVICE_SECONDS,
) -> dict[str, LaneQueue]:
    """Each lane's queue at ``site`` now, from the read models."""
    # Handed over since the window opened, by their last release: a car served within
    # the hour may have been released a little before it.
    since = (now - WINDOW).astimezone(UTC).isoformat()
    async with conn.execute(
        "SELECT lane, COALESCE(visit, id), status, released_at, handed_over_at FROM permits "
        "WHERE site = ? AND status = 'released' AND lane IS NOT NULL "
        "UNION ALL "
        "SELECT lane, COALESCE(visit, id), status, released_at, handed_over_at FROM permits "
        "WHERE site = ? AND status = 'handed_over' AND handed_over_at >= ? "
        "AND lane IS NOT NULL AND released_at IS NOT NULL",
        (site, site, since),
    ) as cursor:
        rows = [VisitRow(*row) for row in await cursor.fetchall()]
    open_visits = await cars_in_lanes(conn, site, now)
    return queues_from(rows, lanes, now, default_service_seconds, open_visits)
