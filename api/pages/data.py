"""Read-model queries only the pages need (the shared ones live in projections.queries)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from projections.queries import PermitRow

ACTIVE = ("submitted", "correction_requested", "documents_verified", "fee_assessed",
          "fee_paid", "approved", "printed", "ready", "released")  # fmt: skip


async def _all(conn: aiosqlite.Connection, sql: str, *args: Any) -> list[aiosqlite.Row]:
    async with conn.execute(sql, args) as cursor:
        return list(await cursor.fetchall())


async def active_permits(
    conn: aiosqlite.Connection, site: str, limit: int = 200
) -> list[PermitRow]:
    """Applications still moving, newest change first (the office's default tab)."""
    marks = ", ".join("?" for _ in ACTIVE)
    rows = await _all(
        conn,
        f"SELECT * FROM permits WHERE site = ? AND status IN ({marks}) "  # only '?' marks
        "ORDER BY updated_at DESC LIMIT ?",
        site, *ACTIVE, limit,
    )  # fmt: skip
    return [PermitRow.of(r) for r in rows]


@dataclass(frozen=True, slots=True)
class DelegateView:
    """What the window may see of a delegate: masked name and NIK, and the expiry."""

    delegate_id: str
    name_masked: str
    nik_masked: str
    expires_at: str


async def delegates_of(
    conn: aiosqlite.Connection, permit_ids: list[str]
) -> dict[str, list[DelegateView]]:
    if not permit_ids:
        return {}
    marks = ", ".join("?" for _ in permit_ids)
    rows = await _all(
        conn,
        "SELECT permit_id, delegate_id, name_masked, nik_masked, expires_at FROM delegates "
        f"WHERE permit_id IN ({marks})",  # only '?' marks
        *permit_ids,
    )
    found: dict[str, list[DelegateView]] = {}
    for r in rows:
        found.setdefault(r[0], []).append(DelegateView(r[1], r[2], r[3], r[4]))
    return found


@dataclass(frozen=True, slots=True)
class Visit:
    """One release to a window and, if it happened, the handover: the service-time unit."""

    lane: str | None
    method: str | None
    released_at: str | None
    handed_over_at: str | None
    status: str


async def visits(conn: aiosqlite.Connection, site: str) -> list[Visit]:
    """Every permit released at ``site`` with its last release method (from its timeline)."""
    rows = await _all(
        conn,
        "SELECT lane, released_at, handed_over_at, status, timeline FROM permits "
        "WHERE site = ? AND released_at IS NOT NULL",
        site,
    )
    found = []
    for lane, released_at, handed_over_at, status, timeline in rows:
        method = None
        for _version, event, _at, detail in json.loads(timeline or "[]"):
            if event == "Released" and detail:
                method = detail.get("method")
        found.append(Visit(lane, method, released_at, handed_over_at, status))
    return found
