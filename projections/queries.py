"""Read-model queries the API and the bridge use. Each returns frozen dataclasses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from core.plates import MatchKind, match_plate


@dataclass(frozen=True, slots=True)
class PermitRow:
    """A permit as the read models see it (holder name masked)."""

    id: str
    site: str
    reference: str
    number: str
    kind: str
    holder: str
    plate: str | None
    status: str
    fee_rupiah: int | None
    slot: str | None
    lane: str | None
    window: str | None
    visit: str | None
    team: str | None
    team_date: str | None
    team_place: str | None
    recipient: str | None
    handed_over_by: str | None
    conflicts: int
    submitted_at: str | None
    ready_at: str | None
    released_at: str | None
    handed_over_at: str | None
    updated_at: str | None
    version: int

    @classmethod
    def of(cls, row: aiosqlite.Row) -> PermitRow:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class CodeRow:
    code_sha256: str
    permit_id: str
    recipient: str
    delegate_id: str | None
    expires_at: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    version: int
    event: str
    at: str
    detail: dict[str, Any] | None


async def _one(conn: aiosqlite.Connection, sql: str, *args: Any) -> aiosqlite.Row | None:
    async with conn.execute(sql, args) as cursor:
        return await cursor.fetchone()


async def _all(conn: aiosqlite.Connection, sql: str, *args: Any) -> list[aiosqlite.Row]:
    async with conn.execute(sql, args) as cursor:
        return list(await cursor.fetchall())


async def permit(conn: aiosqlite.Connection, permit_id: str) -> PermitRow | None:
    row = await _one(conn, "SELECT * FROM permits WHERE id = ?", permit_id)
    return PermitRow.of(row) if row else None


async def permit_by_number(conn: aiosqlite.Connection, number: str) -> PermitRow | None:
    row = await _one(conn, "SELECT * FROM permits WHERE number = ?", number)
    return PermitRow.of(row) if row else None


async def permits_by_status(
    conn: aiosqlite.Connection, site: str, status: str, limit: int = 200
) -> list[PermitRow]:
    rows = await _all(
        conn,
        "SELECT * FROM permits WHERE site = ? AND status = ? ORDER BY updated_at LIMIT ?",
        site,
        status,
        limit,
    )
    return [PermitRow.of(r) for r in rows]


async def ready_permits(conn: aiosqlite.Connection, site: str) -> list[PermitRow]:
    """Permits waiting at a site: READY, or released to a window but not yet handed over."""
    rows = await _all(
        conn,
        "SELECT * FROM permits WHERE site = ? AND status IN ('ready', 'released')",
        site,
    )
    return [PermitRow.of(r) for r in rows]


async def ready_plates(conn: aiosqlite.Connection, site: str) -> list[str]:
    """The distinct plates of the permits waiting at ``site`` (for lane manifests)."""
    rows = await _all(
        conn,
        "SELECT DISTINCT plate FROM permits WHERE site = ? AND status IN ('ready', 'released') "
        "AND plate IS NOT NULL ORDER BY plate",
        site,
    )
    return [r[0] for r in rows]


async def match_ready_plate(
    conn: aiosqlite.Connection, site: str, read: str
) -> tuple[str, list[PermitRow]]:
    """Match a read plate against the READY plates at a site: (match kind, permits)."""
    waiting = await ready_permits(conn, site)
    plates = {p.plate for p in waiting if p.plate}
    found = match_plate(read, plates)
    if found.kind is MatchKind.AMBIGUOUS:
        # Several plates as near: all of them, for the window to choose among.
        near = set(found.candidates)
        return found.kind.value, [p for p in waiting if p.plate in near]
    if found.plate is None:
        return found.kind.value, []
    return found.kind.value, [p for p in waiting if p.plate == found.plate]


async def code(conn: aiosqlite.Connection, code_sha256: str) -> CodeRow | None:
    row = await _one(conn, "SELECT * FROM pickup_codes WHERE code_sha256 = ?", code_sha256)
    if row is None:
        return None
    return CodeRow(
        row["code_sha256"],
        row["permit_id"],
        row["recipient"],
        row["delegate_id"],
        row["expires_at"],
        bool(row["active"]),
    )


async def active_code_hashes(conn: aiosqlite.Connection, site: str) -> list[str]:
    """Hashes of the codes that may release a permit at ``site`` now (for lane manifests)."""
    rows = await _all(
        conn,
        "SELECT c.code_sha256 FROM pickup_codes c JOIN permits p ON p.id = c.permit_id "
        "WHERE c.active = 1 AND p.site = ? AND p.status IN ('ready', 'released') "
        "ORDER BY c.code_sha256",
        site,
    )
    return [r[0] for r in rows]


async def waiting_codes(conn: aiosqlite.Connection, site: str, limit: int) -> list[tuple[str, str]]:
    """(code hash, permit id) of the codes that may release at ``site``: the READY permits
    first, the ones most recently ready first (their holders are on their way), then the
    released ones (their cars are at a window already)."""
    rows = await _all(
        conn,
        "SELECT c.code_sha256, c.permit_id FROM pickup_codes c "
        "JOIN permits p ON p.id = c.permit_id "
        "WHERE c.active = 1 AND p.site = ? AND p.status IN ('ready', 'released') "
        "ORDER BY p.status = 'ready' DESC, p.ready_at DESC LIMIT ?",
        site,
        limit,
    )
    return [(r[0], r[1]) for r in rows]


async def due_for_expiry(
    conn: aiosqlite.Connection, site: str, now: str, ready_before: str | None
) -> list[str]:
    """Ids of the READY permits at ``site`` whose code expired by ``now``, or READY since
    before ``ready_before`` (uncollected). Times are UTC ISO text, as the rows keep them;
    the permit's own rules decide, this only finds the candidates."""
    rows = await _all(
        conn,
        "SELECT id FROM permits WHERE site = ? AND status = 'ready' "
        "AND (code_expires_at <= ? OR ready_at <= ?) ORDER BY id",
        site,
        now,
        ready_before,
    )
    return [r[0] for r in rows]


async def timeline(conn: aiosqlite.Connection, permit_id: str) -> list[TimelineEntry]:
    """The permit's events, oldest first, with the details a citizen may see."""
    row = await _one(conn, "SELECT timeline FROM permits WHERE id = ?", permit_id)
    if row is None:
        return []
    return [
        TimelineEntry(version, event, at, detail)
        for version, event, at, detail in json.loads(row[0])
    ]


async def site_counts(conn: aiosqlite.Connection, site: str) -> dict[str, int]:
    rows = await _all(conn, "SELECT status, n FROM site_counts WHERE site = ? AND n != 0", site)
    return {r[0]: int(r[1]) for r in rows}


async def open_conflicts(conn: aiosqlite.Connection) -> list[dict[str, str]]:
    rows = await _all(conn, "SELECT * FROM conflicts WHERE resolved = 0 ORDER BY at")
    return [dict(r) for r in rows]


@dataclass(frozen=True, slots=True)
class TeamDelegate:
    delegate_id: str
    name_masked: str
    nik_masked: str
    code_sha256: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class TeamPermitRow:
    """What a mobile team carries for one permit (its manifest entry)."""

    permit_id: str
    number: str
    holder: str
    nik_masked: str
    plate: str | None
    code_sha256: str
    team: str
    date: str
    place: str
    delegates: tuple[TeamDelegate, ...]


async def team_permits(conn: aiosqlite.Connection, site: str) -> dict[str, list[TeamPermitRow]]:
    """The READY permits assigned to each team at ``site``."""
    rows = await _all(
        conn,
        "SELECT id, number, holder, nik_masked, plate, code_sha256, team, team_date, team_place "
        "FROM permits WHERE site = ? AND team IS NOT NULL AND status IN ('ready', 'released') "
        "ORDER BY team, number",
        site,
    )
    delegates: dict[str, list[TeamDelegate]] = {}
    if rows:
        marks = ", ".join("?" for _ in rows)
        for d in await _all(
            conn,
            f"SELECT * FROM delegates WHERE permit_id IN ({marks})",  # only '?' marks
            *[r[0] for r in rows],
        ):
            delegates.setdefault(d["permit_id"], []).append(
                TeamDelegate(
                    d["delegate_id"],
                    d["name_masked"],
                    d["nik_masked"],
                    d["code_sha256"],
                    d["expires_at"],
                )
            )
    teams: dict[str, list[TeamPermitRow]] = {}
    for r in rows:
        teams.setdefault(r["team"], []).append(
            TeamPermitRow(
                r["id"],
                r["number"],
                r["holder"],
                r["nik_masked"] or "",
                r["plate"],
                r["code_sha256"],
                r["team"],
                r["team_date"] or "",
                r["team_place"] or "",
                tuple(delegates.get(r["id"], ())),
            )
        )
    return teams


async def team_progress(conn: aiosqlite.Connection, site: str) -> dict[str, tuple[int, int]]:
    """Per mobile team: (permits still to hand over, permits handed over)."""
    rows = await _all(
        conn,
        "SELECT team, SUM(status IN ('ready', 'released')), SUM(status = 'handed_over') "
        "FROM permits WHERE site = ? AND team IS NOT NULL GROUP BY team ORDER BY team",
        site,
    )
    return {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows}
