"""`drivethru serve`: the server process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from api.config import ConfigError, ServeFlags, load_server_settings, load_service_settings
from api.settings import ServerSettings
from core.settings import ServiceSettings
from edge_lane.logs import LogFormat


def service_settings(db: Path | None, demo: bool) -> ServiceSettings:
    """The service's settings, or exit 2 saying what is missing (`api.config`)."""
    try:
        return load_service_settings(db, demo, os.environ)
    except ConfigError as error:
        _refuse(error)


def build_settings(
    config_file: Path | None,
    site: str | None,
    broker: str | None,
    db: Path | None,
    read_models: Path | None,
    host: str | None,
    port: int | None,
    no_broker: bool,
    demo: bool = False,
    log_format: LogFormat | None = None,
) -> ServerSettings:
    """The server's settings from its flags, site.toml and the environment, or exit 2
    saying what is wrong (`api.config`)."""
    flags = ServeFlags(
        config=config_file, site=site, broker=broker, db=db, read_models=read_models,
        host=host, port=port, no_broker=no_broker, demo=demo, log_format=log_format,
    )  # fmt: skip
    try:
        return load_server_settings(flags, os.environ)
    except ConfigError as error:
        _refuse(error)


def _refuse(error: ConfigError) -> NoReturn:
    for line in error.lines:
        typer.echo(line, err=True)
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        config: Annotated[Path | None, typer.Option(help="site.toml")] = None,
        site: Annotated[str | None, typer.Option(help="Kode situs / site id.")] = None,
        broker: Annotated[str | None, typer.Option(help="mqtt://HOST:PORT")] = None,
        db: Annotated[Path | None, typer.Option(help="Event store SQLite file.")] = None,
        read_models: Annotated[Path | None, typer.Option(help="Read-model SQLite file.")] = None,
        host: Annotated[str | None, typer.Option(help="Alamat / bind address.")] = None,
        port: Annotated[int | None, typer.Option(help="Port HTTP.")] = None,
        no_broker: Annotated[bool, typer.Option(help="Tanpa MQTT / API only.")] = False,
        validate_config: Annotated[
            bool, typer.Option("--validate-config", help="Periksa saja / only check the config.")
        ] = False,
        demo: Annotated[
            bool, typer.Option(help="Kunci NIK demo; hanya untuk demo / the demo's NIK key.")
        ] = False,
        log_format: Annotated[
            LogFormat | None,
            typer.Option(help="Bentuk log / log lines: text or json (one a line)."),
        ] = None,
    ) -> None:
        """Jalankan server / run the server: API, MQTT bridge, read models."""
        settings = build_settings(
            config, site, broker, db, read_models, host, port, no_broker, demo, log_format
        )
        if validate_config:
            typer.echo("konfigurasi sah / config is valid")
            return
        # Imported here: the other commands (and an edge box's) need no web server.
        from api.bootstrap import run_server

        run_server(settings)
