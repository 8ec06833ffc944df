"""A pickup code's read-model rows, as fresh as this process's own saves."""

from __future__ import annotations

from api.runtime import Runtime
from projections import queries

# A code issued moments ago (a link sent at staging, opened at once) may not be folded yet.
FRESH_SECONDS = 2.0


async def code_and_permit(
    runtime: Runtime, sha256: str
) -> tuple[queries.CodeRow, queries.PermitRow] | None:
    """The code's row and its permit, or None when either is unknown.

    On a miss, look once more after the read models show what this process has saved (no
    wait when they already do, as for a mistyped or guessed code).
    """
    rows = await _rows(runtime, sha256)
    if rows is None:
        await runtime.runner.reached(FRESH_SECONDS)
        rows = await _rows(runtime, sha256)
    return rows


async def _rows(runtime: Runtime, sha256: str) -> tuple[queries.CodeRow, queries.PermitRow] | None:
    conn = runtime.read_models.conn
    found = await queries.code(conn, sha256)
    permit = await queries.permit(conn, found.permit_id) if found else None
    return (found, permit) if found is not None and permit is not None else None
