"""`drivethru serve` and `drivethru seed`: the server process and its seeding tool."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr, ValidationError

from api.settings import BrokerSettings, ServerSettings
from core.settings import ServiceSettings, StoreSettings
from edge_lane.broker_url import TlsSetupError, client_tls_context
from edge_lane.logs import LogFormat, setup_logging


def service_settings(db: Path | None, demo: bool) -> ServiceSettings:
    store = StoreSettings.from_environ(os.environ, sqlite_path=db)
    if demo:
        return ServiceSettings.for_demo(store)
    key = os.environ.get("DRIVETHRU_NIK_KEY")
    if not key:
        typer.echo(
            "Setel DRIVETHRU_NIK_KEY / set DRIVETHRU_NIK_KEY (16+ characters, kept secret)",
            err=True,
        )
        raise typer.Exit(2)
    try:
        return ServiceSettings(store=store, nik_key=SecretStr(key))
    except ValidationError as error:
        typer.echo(error.errors()[0]["msg"], err=True)
        raise typer.Exit(2) from None


def build_settings(
    config: Path | None,
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
    """Settings from the TOML file, then flags, then secrets from the environment."""
    broker_settings: BrokerSettings | None = None
    if not no_broker:
        username = os.environ.get("DRIVETHRU_BROKER_USERNAME", "server")
        broker_settings = BrokerSettings(
            url=broker or os.environ.get("DRIVETHRU_BROKER_URL", "mqtt://127.0.0.1:1883"),
            username=username,
            password=SecretStr(os.environ.get("DRIVETHRU_BROKER_PASSWORD", "")),
            protocol=os.environ.get("DRIVETHRU_BROKER_PROTOCOL", "5"),
            # One session per replica: two servers with one client id would take each
            # other's session over and over (docs/server.md, "Replicas").
            client_id=os.environ.get("DRIVETHRU_BROKER_CLIENT_ID", f"drivethru-{username}"),
        )
    if read_models is None and os.environ.get("DRIVETHRU_READ_MODELS"):
        read_models = Path(os.environ["DRIVETHRU_READ_MODELS"])
    overrides: dict[str, object] = {
        "site": site, "read_models": read_models, "host": host, "port": port,
        "log_format": log_format,
    }  # fmt: skip
    service = service_settings(db, demo)
    values: dict[str, Any] = {}
    if config is not None:
        try:
            with config.open("rb") as handle:
                values = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as error:
            typer.echo(f"konfigurasi tidak terbaca / cannot read {config}: {error}", err=True)
            raise typer.Exit(2) from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["service"] = service
    if demo and os.environ.get("DRIVETHRU_DEMO_LOGINS"):
        # "role=key;role=key", set by `drivethru demo` for its one-click sign-in links.
        pairs = (item.partition("=") for item in os.environ["DRIVETHRU_DEMO_LOGINS"].split(";"))
        values["demo_logins"] = {role: key for role, _, key in pairs if role and key}
    if broker_settings is None:
        values["broker"] = None
    else:
        from_file = values.get("broker") or {}
        values["broker"] = {
            **broker_settings.model_dump(),
            **_tls_files_from_environment(),
            **({} if broker else from_file),
            "password": broker_settings.password,
        }
    try:
        settings = ServerSettings.model_validate(values)
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(p) for p in problem["loc"])
            typer.echo(f"konfigurasi salah / bad config: {where}: {problem['msg']}", err=True)
        raise typer.Exit(2) from None
    if settings.broker is not None and settings.broker.tls:
        try:  # here, not in the link process, which would retry a missing file forever
            client_tls_context(settings.broker.tls_files)
        except TlsSetupError as error:
            typer.echo(error.message, err=True)
            raise typer.Exit(2) from None
    from api.notify.channels import build_channel
    from api.notify.settings import NotifySettingsError

    for channel in settings.notify:
        try:  # a webhook's secret is read now: a missing one stops the start, not a send
            build_channel(channel)
        except NotifySettingsError as error:
            typer.echo(f"konfigurasi salah / bad config: notify: {error}", err=True)
            raise typer.Exit(2) from None
    return settings


def _tls_files_from_environment() -> dict[str, Path]:
    """``DRIVETHRU_BROKER_CA_FILE``, ``_CERT_FILE`` and ``_KEY_FILE``, for ``--broker mqtts://``."""
    names = {"ca_file": "CA_FILE", "cert_file": "CERT_FILE", "key_file": "KEY_FILE"}
    found = {key: os.environ.get(f"DRIVETHRU_BROKER_{name}") for key, name in names.items()}
    return {key: Path(value) for key, value in found.items() if value}


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
        import uvicorn

        from api.app import create_app

        settings = build_settings(
            config, site, broker, db, read_models, host, port, no_broker, demo, log_format
        )
        if validate_config:
            typer.echo("konfigurasi sah / config is valid")
            return
        setup_logging(settings.log_format, context={"site": settings.site})
        uvicorn.run(
            create_app(settings), host=settings.host, port=settings.port, log_level="warning",
            # uvicorn's lines go through the one setup above, in the same format.
            log_config=None,
        )  # fmt: skip

    @app.command("seed")
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
        from api.seed import as_json_line, seed_on_store, seed_through_api

        if api is not None:
            if not key:
                typer.echo("--key wajib dengan --api / --key is required with --api", err=True)
                raise typer.Exit(2)
            for permit in seed_through_api(api, key, site, ready):
                typer.echo(as_json_line(permit))
            return
        from api.notify.store import IssuedLinks
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
