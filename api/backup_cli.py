"""``drivethru backup`` and ``drivethru restore``: the event store to a file and back.

The store is chosen as for ``serve`` (``--db``, or ``DRIVETHRU_STORE`` and the
``DRIVETHRU_DB`` / ``DRIVETHRU_PG_*`` variables); see api/backup.py for how.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from api.backup import (
    BackupError,
    BackupResult,
    RestoreResult,
    backup_store,
    restore_postgres,
    restore_sqlite,
    rewind_notifier,
)
from core.settings import StoreSettings
from projections.cli import DbOption, read_models_path


def _report(result: BackupResult | RestoreResult) -> None:
    """One JSON line: what the backup holds, or what the restore put in place."""
    typer.echo(json.dumps(asdict(result), default=str))


def register(app: typer.Typer) -> None:
    @app.command("backup")
    def backup(
        out: Annotated[Path, typer.Option("--out", help="Berkas cadangan baru / new backup file.")],
        db: DbOption = None,
    ) -> None:
        """Cadangkan event store / back up the event store while the server runs.

        SQLite: an online copy of one snapshot. PostgreSQL: pg_dump --format=custom. The read
        models are not backed up: they are rebuilt from the events.
        """
        store = StoreSettings.from_environ(os.environ, sqlite_path=db)
        try:
            result = backup_store(store, out)
        except BackupError as error:
            typer.echo(error.message, err=True)
            raise typer.Exit(2) from None
        _report(result)

    @app.command("restore")
    def restore(
        backup: Annotated[Path, typer.Argument(help="Berkas cadangan / the backup file.")],
        db: DbOption = None,
        read_models: Annotated[
            Path | None,
            typer.Option("--read-models", help="Read model yang dihapus / read models to remove."),
        ] = None,
        replace: Annotated[
            bool,
            typer.Option(help="Geser store lama ke samping / move an existing store aside."),
        ] = False,
    ) -> None:
        """Pulihkan event store / put a backup in place (server stopped); read models rebuild.

        The read models (and their -wal/-shm) are removed, so `drivethru serve` rebuilds
        them from the restored events; the notifier's position is brought back to the backup.
        """
        store = StoreSettings.from_environ(os.environ, sqlite_path=db)
        models = read_models_path(read_models)
        try:
            if store.backend == "sqlite":
                result = restore_sqlite(backup, store.sqlite_path, models, replace=replace)
            elif store.backend == "postgres":
                result = restore_postgres(backup, store, models)
                rewind_notifier(models.parent / "notify.db", _last_notification_id(store))
            else:
                raise BackupError("store di memori / an in-memory store cannot be restored")
        except BackupError as error:
            typer.echo(error.message, err=True)
            raise typer.Exit(2) from None
        _report(result)


def _last_notification_id(store: StoreSettings) -> int:
    from core.service import PermitLog

    log = PermitLog(store)
    try:
        return log.recorder.max_notification_id() or 0
    finally:
        log.close()
