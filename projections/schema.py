"""The read models' tables. One SQLite file per server node; rebuilt from events at will."""

from __future__ import annotations

from projections.arrivals import ARRIVALS_SCHEMA
from projections.lane_visits import LANE_VISITS_SCHEMA

# Bump when a table changes: a read-model file of another version is dropped and rebuilt.
SCHEMA_VERSION = 5

PERMIT_COLUMNS: tuple[str, ...] = (
    "id",
    "site",
    "reference",
    "number",
    "kind",
    "holder",
    "nik_masked",
    "plate",
    "status",
    "fee_rupiah",
    "slot",
    "code_sha256",
    "code_expires_at",
    "lane",
    "window",
    "visit",
    "team",
    "team_date",
    "team_place",
    "recipient",
    "handed_over_by",
    "handover_channel",
    "conflicts",
    "delegates",
    "submitted_at",
    "verified_at",
    "fee_assessed_at",
    "paid_at",
    "approved_at",
    "printed_at",
    "ready_at",
    "released_at",
    "handed_over_at",
    "closed_at",
    "updated_at",
    "version",
    "timeline",
)
"""``timeline`` holds the permit's events as a JSON array of [version, event, at, detail]:
kept in the permit's own row, it costs nothing extra to write (measured: a separate table
took over half of the projection's write time)."""

_INTEGER_COLUMNS = frozenset({"fee_rupiah", "conflicts", "version", "delegates"})
_PERMIT_COLUMN_DDL = ",\n    ".join(
    f'"{c}" {"INTEGER" if c in _INTEGER_COLUMNS else "TEXT"}' for c in PERMIT_COLUMNS
)

SCHEMA = (
    f"""
CREATE TABLE IF NOT EXISTS tracking (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS store_identity (
    name TEXT PRIMARY KEY,
    identity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS permits (
    {_PERMIT_COLUMN_DDL},
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS pickup_codes (
    code_sha256 TEXT PRIMARY KEY,
    permit_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    delegate_id TEXT,
    expires_at TEXT,
    active INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pickup_codes_by_permit ON pickup_codes (permit_id);
CREATE TABLE IF NOT EXISTS delegates (
    permit_id TEXT NOT NULL,
    delegate_id TEXT NOT NULL,
    name_masked TEXT NOT NULL,
    nik_masked TEXT NOT NULL,
    code_sha256 TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (permit_id, delegate_id)
);
CREATE TABLE IF NOT EXISTS site_counts (
    site TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (site, status)
);
CREATE TABLE IF NOT EXISTS conflicts (
    permit_id TEXT NOT NULL,
    handover_id TEXT NOT NULL,
    by TEXT NOT NULL,
    channel TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    resolved INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (permit_id, handover_id)
);
"""
    + ARRIVALS_SCHEMA
    + LANE_VISITS_SCHEMA
)

# The queries' indexes. A rebuild loads the rows first and indexes them at the end, which
# is faster than keeping the indexes up to date row by row (a bulk load).
INDEXES = """
CREATE INDEX IF NOT EXISTS permits_by_site_status ON permits (site, status);
CREATE INDEX IF NOT EXISTS permits_by_plate ON permits (site, plate, status);
CREATE INDEX IF NOT EXISTS permits_by_team ON permits (team, status);
CREATE INDEX IF NOT EXISTS permits_by_number ON permits (number);
"""

TABLES: tuple[str, ...] = (
    "tracking",
    "store_identity",
    "permits",
    "pickup_codes",
    "delegates",
    "site_counts",
    "conflicts",
    "lane_arrivals",
)
