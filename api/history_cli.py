"""``drivethru history PERMIT_NUMBER [--at TIME]``: a permit's audit trail from the command line.

Prints what ``GET /api/applications/{id}/events`` answers (JSON): the events with who did
what and the state after each, up to ``--at`` when given; the last event's ``state`` is the
permit as it stood then. The permit is found by its number in the read models (opened
read-only: nothing there is changed), or given by its id.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from api.history import CLOCK, events_until, permit_events
from core.errors import DrivethruError


class PermitLookupError(DrivethruError):
    """A permit number the read models do not know, or know twice."""

    code = "permit_not_found"


def permit_id_of(number: str, read_models: Path) -> UUID:
    """The id of the permit numbered ``number``; an id is taken as it is."""
    try:
        return UUID(number)
    except ValueError:
        pass
    if not read_models.exists():
        raise PermitLookupError(
            f"Read model {read_models} tidak ada / not found (drivethru projections rebuild)"
        )
    # Read-only: `ReadModels.open` would rebuild a file of another schema version.
    with sqlite3.connect(f"file:{read_models}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT id FROM permits WHERE number = ?", (number,)).fetchall()
    if len(rows) != 1:
        found = "tidak ditemukan / not found" if not rows else "lebih dari satu / more than one"
        raise PermitLookupError(f"Izin nomor {number!r}: {found} in {read_models}")
    return UUID(rows[0][0])


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant with its zone; a time without one is ambiguous and refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} bukan waktu RFC 3339 / not an RFC 3339 time (e.g. 2026-12-01T10:32:00+08:00)"
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            f"{text!r} tanpa zona waktu / has no time zone: add +08:00 (WITA), +07:00 (WIB), "
            "+09:00 (WIT) or Z"
        )
    return moment


def register(app: typer.Typer) -> None:
    @app.command("history")
    def history(
        permit: Annotated[str, typer.Argument(help="Nomor izin / permit number (or its id).")],
        at: Annotated[
            str | None,
            typer.Option(help="Keadaan pada saat ini / the state at this instant (RFC 3339)."),
        ] = None,
        db: Annotated[Path | None, typer.Option(help="Event store SQLite file.")] = None,
        read_models: Annotated[
            Path | None, typer.Option(help="Read-model SQLite file (to find the number).")
        ] = None,
    ) -> None:
        """Riwayat izin / a permit's events, who did what, and its state at an instant."""
        from api.routes.history import PermitEventOut, PermitHistoryOut
        from core.service import PermitLog
        from core.settings import StoreSettings

        instant = parse_instant(at) if at is not None else None
        models = read_models or Path(os.environ.get("DRIVETHRU_READ_MODELS", "var/read_models.db"))
        store = StoreSettings.from_environ(os.environ, sqlite_path=db)
        try:
            permit_id = permit_id_of(permit, models)
        except DrivethruError as error:
            typer.echo(error.message, err=True)
            raise typer.Exit(1) from None
        log = PermitLog(store)
        try:
            trail = permit_events(log, permit_id)
            if instant is not None:
                trail = events_until(trail, instant)
        except DrivethruError as error:
            typer.echo(error.message, err=True)
            raise typer.Exit(1) from None
        finally:
            log.close()
        answer = PermitHistoryOut(
            id=permit_id,
            number=trail[-1].state.number,
            clock=CLOCK,
            at=instant,
            events=[PermitEventOut.of(event) for event in trail],
        )
        typer.echo(answer.model_dump_json(indent=2))
