"""The retained manifests: what each lane and each mobile team should expect."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from core.contract import LaneManifest, ManifestDelegate, TeamManifest, TeamPermit
from projections import queries


async def lane_manifest(conn: aiosqlite.Connection, site: str) -> LaneManifest:
    """Hashes of the codes and the plates of the permits waiting at ``site``."""
    return LaneManifest(
        site=site,
        code_hashes=await queries.active_code_hashes(conn, site),
        plates=await queries.ready_plates(conn, site),
    )


async def team_manifests(
    conn: aiosqlite.Connection, site: str, previously: set[str]
) -> dict[str, TeamManifest]:
    """Each team's manifest; a team in ``previously`` with nothing left gets an empty one."""
    teams = await queries.team_permits(conn, site)
    return {
        team: TeamManifest(team=team, permits=[_team_entry(p) for p in teams.get(team, [])])
        for team in sorted(set(teams) | previously)
    }


def _team_entry(row: queries.TeamPermitRow) -> TeamPermit:
    return TeamPermit(
        permit_id=row.permit_id,
        number=row.number,
        holder=row.holder,
        nik_masked=row.nik_masked,
        plate=row.plate,
        code_sha256=row.code_sha256,
        place=row.place,
        date=row.date,
        delegates=[
            ManifestDelegate(
                delegate_id=d.delegate_id,
                name=d.name_masked,
                nik_masked=d.nik_masked,
                code_sha256=d.code_sha256,
                expires_at=datetime.fromisoformat(d.expires_at),
            )
            for d in row.delegates
        ],
    )
