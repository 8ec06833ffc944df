"""``drivethru privacy erase`` and ``drivethru privacy export``: a data subject's requests.

The store is chosen as for ``serve`` (``--db``, or ``DRIVETHRU_STORE`` and the
``DRIVETHRU_DB`` / ``DRIVETHRU_PG_*`` variables); erasing needs ``DRIVETHRU_NIK_KEY`` as
``serve`` does. A permit is named by its number (found in the read models) or its id.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from api.history_cli import permit_id_of
from core.errors import DrivethruError
from projections.cli import DbOption, ReadModelsOption, read_models_path

privacy_app = typer.Typer(
    help="Data pribadi (UU PDP) / a data subject's requests: export and erasure.",
    no_args_is_help=True,
)
PermitArgument = Annotated[
    str, typer.Option("--permit", help="Nomor izin atau id / permit number or id.")
]


@privacy_app.command("erase")
def erase(
    permit: PermitArgument,
    reason: Annotated[str, typer.Option(help="Mengapa / why: the request or the purpose met.")],
    by: Annotated[str, typer.Option(help="Siapa / who erases (an officer's name).")] = "admin",
    db: DbOption = None,
    read_models: ReadModelsOption = None,
    demo: Annotated[bool, typer.Option(help="Kunci NIK demo / the demo's NIK key.")] = False,
) -> None:
    """Hapus data pribadi pemegang izin / erase a permit holder's personal data (by key)."""
    from api.privacy import erase_subject
    from api.serve import service_settings
    from core.service import PermitService

    models = read_models_path(read_models)
    try:
        permit_id = permit_id_of(permit, models)
    except DrivethruError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    service = PermitService(service_settings(db, demo))
    try:
        erased = erase_subject(service, models, permit_id, by, reason)
    except DrivethruError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    finally:
        service.close()
    typer.echo(json.dumps(asdict(erased), default=str))


@privacy_app.command("export")
def export(
    permit: PermitArgument,
    out: Annotated[
        Path | None, typer.Option(help="Berkas JSON / JSON file (default: stdout).")
    ] = None,
    db: DbOption = None,
    read_models: ReadModelsOption = None,
) -> None:
    """Semua data tentang pemegang izin / everything held about a permit's holder, as JSON."""
    from api.privacy import export_subject
    from core.service import PermitLog
    from core.settings import StoreSettings

    models = read_models_path(read_models)
    store = StoreSettings.from_environ(os.environ, sqlite_path=db)
    log = PermitLog(store)
    try:
        permit_id = permit_id_of(permit, models)
        held = export_subject(log, models, permit_id)
    except DrivethruError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    finally:
        log.close()
    if not held["events"]:
        typer.echo(f"Izin {permit} tidak ada / no such permit", err=True)
        raise typer.Exit(1)
    text = json.dumps(held, indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    app.add_typer(privacy_app, name="privacy")
