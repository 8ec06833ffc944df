"""``drivethru seed``: READY permits with their codes, on a store or through a server's API.

A launcher command, not a server one: it writes load-run and demo data (bench/seed.py) on
the store the way an officer would, and the server package never imports bench.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def seed(
    site: Annotated[str, typer.Option(help="Kode situs / site id.")] = "badung",
    ready: Annotated[int, typer.Option(help="Izin siap / permits to make READY.")] = 10,
    db: Annotated[Path | None, typer.Option(help="Event store SQLite file.")] = None,
    api: Annotated[str | None, typer.Option(help="http://HOST:PORT of a server.")] = None,
    key: Annotated[str | None, typer.Option(help="Officer API key (with --api).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines.")] = True,
    demo: Annotated[bool, typer.Option(help="Kunci NIK demo / the demo NIK key.")] = False,
    notify_db: Annotated[
        Path | None,
        typer.Option(
            help="notify.db beside the server's read models: its notifier gets "
            "the links of the codes issued here (with --db)."
        ),
    ] = None,
    contact: Annotated[
        str | None,
        typer.Option(help="+62… or an e-mail given to every seeded permit (with --db)."),
    ] = None,
) -> None:
    """Buat izin siap ambil / make permits READY (one JSON line each, with its code)."""
    from bench.seed import as_json_line, seed_on_store, seed_through_api

    if api is not None:
        if not key:
            typer.echo("--key wajib dengan --api / --key is required with --api", err=True)
            raise typer.Exit(2)
        for permit in seed_through_api(api, key, site, ready):
            typer.echo(as_json_line(permit))
        return
    from api.notify.store import IssuedLinks
    from api.serve import service_settings
    from core.contact import Contact
    from core.service import PermitService

    service = PermitService(service_settings(db, demo))
    if notify_db is not None:
        service.add_code_listener(IssuedLinks(notify_db))
    given = None
    if contact:
        phone = contact if contact.startswith("+") else None
        given = Contact.parse(phone, None if phone else contact)
    try:
        contacts = [given] * ready if given else []
        for permit in seed_on_store(service, site, ready, contacts=contacts):
            sys.stdout.write(as_json_line(permit) + "\n")
    finally:
        service.close()


def register(app: typer.Typer) -> None:
    """Add the ``seed`` command to the ``drivethru`` app."""
    app.command("seed")(seed)
