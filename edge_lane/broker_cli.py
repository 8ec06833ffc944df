"""``drivethru broker`` and ``drivethru broker config``: the embedded broker, or Mosquitto's files.

Both take the site's MQTT users and ACL from the site file (edge_lane/mosquitto.py); the
embedded broker itself is edge_lane/broker.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from edge_lane.mosquitto import BrokerSite

broker_app = typer.Typer(
    help="Broker MQTT / the MQTT broker: embedded, or a Mosquitto config.",
    invoke_without_command=True,
)

SiteFileOption = Annotated[
    Path | None,
    typer.Option("--config", help="Berkas situs / the site file (site.toml)."),
]
LaneOption = Annotated[
    list[str] | None, typer.Option("--lane", help="Jalur tambahan / another lane (repeat).")
]
TeamOption = Annotated[
    list[str] | None, typer.Option("--team", help="Tim keliling / a mobile team (repeat).")
]


def _broker_site(
    config: Path | None, lanes: list[str] | None, teams: list[str] | None
) -> BrokerSite:
    """The site's MQTT users and ACL, or a clear exit when the file or a lane is wrong."""
    from edge_lane.errors import ConfigError
    from edge_lane.mosquitto import load_broker_site

    try:
        return load_broker_site(config, lanes=lanes or (), teams=teams or ())
    except ConfigError as error:
        typer.echo("\n".join([error.message, *error.problems]), err=True)
        raise typer.Exit(2) from None


def _broker_passwords(site: BrokerSite) -> dict[str, str]:
    from edge_lane.errors import ConfigError

    try:
        return site.passwords(os.environ)
    except ConfigError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(2) from None


@broker_app.callback(invoke_without_command=True)
def broker(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Alamat / bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port MQTT.")] = 1883,
    config: SiteFileOption = None,
    lane: LaneOption = None,
    team: TeamOption = None,
    allow_remote: Annotated[
        bool,
        typer.Option(help="Izinkan alamat selain loopback / bind beyond loopback (no TLS)."),
    ] = False,
) -> None:
    """Jalankan broker MQTT bawaan / run the embedded MQTT broker (demos, no Mosquitto).

    One login per device with the contract's ACL, passwords from the environment variables
    the site file names (default DRIVETHRU_MQTT_PASSWORD_<USER>).
    """
    if ctx.invoked_subcommand is not None:
        return
    from edge_lane.broker import BrokerError, check_bind, run_broker

    try:
        check_bind(host, allow_remote=allow_remote)
    except BrokerError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    site = _broker_site(config, lane, team)
    run_broker(host, port, _broker_passwords(site), site.access)


@broker_app.command("config")
def broker_config(
    out: Annotated[Path, typer.Option("--out", help="Folder tujuan / output folder.")],
    config: SiteFileOption = None,
    lane: LaneOption = None,
    team: TeamOption = None,
) -> None:
    """Tulis konfigurasi Mosquitto / write mosquitto.conf, acl and passwd for production."""
    from edge_lane.errors import ConfigError
    from edge_lane.mosquitto import write_mosquitto_files

    site = _broker_site(config, lane, team)
    passwords = _broker_passwords(site)
    settings = site.settings
    try:
        files = write_mosquitto_files(
            out,
            site.access,
            passwords,
            host=settings.host,
            port=settings.port,
            persistence=settings.persistence_location,
            bind_client_ids=settings.bind_client_ids,
            plain=settings.plain,
            tls=settings.tls,
        )
    except ConfigError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(2) from None
    if settings.plain_beyond_loopback():
        typer.echo(
            f"PERINGATAN: listener {settings.host}:{settings.port} tanpa TLS, kata sandi "
            "terbaca di jaringan; tambahkan [mosquitto.tls] / WARNING: a plain listener beyond "
            "loopback sends passwords in clear; add [mosquitto.tls] (docs/deploy.md)",
            err=True,
        )
    typer.echo(f"{files.config}\n{files.acl}\n{files.password_file}")
    typer.echo(f"mosquitto -c {files.config}", err=True)


def register(app: typer.Typer) -> None:
    """Add the ``broker`` command (and ``broker config``) to the ``drivethru`` app."""
    app.add_typer(broker_app, name="broker")
