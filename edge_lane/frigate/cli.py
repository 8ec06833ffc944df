"""``drivethru frigate``: Frigate NVR's plate reads as a lane's arrivals (docs/frigate.md).

Exit codes as ``drivethru edge``: 0 done, 2 bad configuration, 4 outbox fails.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from edge_lane.errors import ConfigError, OutboxError

EXIT_CONFIG = 2
EXIT_OUTBOX = 4


def frigate_command(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Berkas TOML bridge Frigate / Frigate bridge TOML."),
    ] = None,
    validate_config: Annotated[
        Path | None,
        typer.Option("--validate-config", help="Periksa berkas lalu keluar / check a file, exit."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log rinci / debug log.")
    ] = False,
) -> None:
    """Kedatangan dari Frigate / Frigate's plate reads as a lane's arrivals."""
    from edge_lane.cli import stop_on_signals
    from edge_lane.frigate.bridge import bootstrap
    from edge_lane.frigate.config import load_frigate_settings

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    path = validate_config or config
    if path is None:
        typer.echo("--config atau --validate-config wajib / is required", err=True)
        raise typer.Exit(EXIT_CONFIG)
    try:
        settings = load_frigate_settings(path)
        if validate_config is not None:
            typer.echo(f"{validate_config}: sah / valid")
            return
        bridge = bootstrap(settings)
    except ConfigError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    except OutboxError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(EXIT_OUTBOX) from None
    bridge.run(stop_on_signals())


def register(app: typer.Typer) -> None:
    """Add the ``frigate`` command to the ``drivethru`` app."""
    app.command("frigate")(frigate_command)


def main() -> None:
    """``python -m edge_lane.frigate``: the frigate command on its own."""
    app = typer.Typer(add_completion=False)
    app.command()(frigate_command)
    app()
