"""``drivethru projections rebuild``: the read models built again from the event store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

projections_app = typer.Typer(help="Read model / read models.", no_args_is_help=True)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Berkas SQLite event store / event store SQLite file."),
]
ReadModelsOption = Annotated[
    Path | None,
    typer.Option("--read-models", help="Berkas SQLite read model / read-model SQLite file."),
]
"""The event store and read-model options every command that opens them shares."""


def read_models_path(path: Path | None) -> Path:
    """``--read-models``, else ``DRIVETHRU_READ_MODELS``, else the server's default."""
    return path or Path(os.environ.get("DRIVETHRU_READ_MODELS", "var/read_models.db"))


@projections_app.command("rebuild")
def projections_rebuild(db: DbOption = None, read_models: ReadModelsOption = None) -> None:
    """Bangun ulang read model dari event store / rebuild the read models from the events."""
    import asyncio

    from core.service import PermitLog
    from core.settings import StoreSettings
    from projections.bootstrap import rebuild

    store = StoreSettings.from_environ(os.environ, sqlite_path=db)
    target = read_models_path(read_models)
    log = PermitLog(store)

    async def run() -> None:
        total = log.recorder.max_notification_id() or 0
        with typer.progressbar(length=total, label="Membangun ulang / rebuilding") as bar:
            done = 0

            def progress(position: int, _newest: int) -> None:
                nonlocal done
                bar.update(position - done)
                done = position

            result = await rebuild(log, store, target, progress)
        typer.echo(
            f"{result.events} event -> {target} dalam / in {result.seconds:.1f} s "
            f"({result.events / max(result.seconds, 1e-9):,.0f} event/s)"
        )

    asyncio.run(run())
    log.close()


def register(app: typer.Typer) -> None:
    """Add the ``projections`` commands to the ``drivethru`` app."""
    app.add_typer(projections_app, name="projections")
