"""``drivethru mobile --config team.toml``: the mobile team's device.

`register(app)` adds the command to the ``drivethru`` typer app; ``python -m edge_lane.mobile``
runs it alone. Exit codes: 0 done, 2 bad configuration (or key), 3 camera cannot be opened,
4 outbox or journal fails, 5 the stored manifest is refused (tampered or unreadable).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edge_lane.cli import stop_on_signals
from edge_lane.errors import ConfigError, EdgeError, OutboxError, SourceError
from edge_lane.logs import LogFormat, setup_logging
from edge_lane.mobile.config import TeamSettings, load_team_settings
from edge_lane.mobile.errors import ManifestVaultError

if TYPE_CHECKING:
    from edge_lane.mobile.device import TeamDevice
    from edge_lane.mobile.scanner import CodeScanner

EXIT_CONFIG = 2
EXIT_SOURCE = 3
EXIT_OUTBOX = 4
EXIT_MANIFEST = 5


def mobile_command(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Berkas TOML tim / team TOML file.")
    ] = None,
    validate_config: Annotated[
        Path | None,
        typer.Option("--validate-config", help="Periksa berkas lalu keluar / check a file, exit."),
    ] = None,
    new_key: Annotated[
        bool, typer.Option("--new-key", help="Cetak kunci manifest baru / print a new key.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log rinci / debug log.")
    ] = False,
    log_format: Annotated[
        LogFormat, typer.Option(help="Bentuk log / log lines: text or json (one a line).")
    ] = LogFormat.TEXT,
) -> None:
    """Jalankan perangkat tim keliling / run the mobile team's device (offline handovers)."""
    setup_logging(log_format, verbose=verbose)
    if new_key:
        from edge_lane.mobile.vault import new_key_text

        typer.echo(new_key_text())
        return
    path = validate_config or config
    if path is None:
        typer.echo("Berikan --config / give --config FILE", err=True)
        raise typer.Exit(EXIT_CONFIG)
    try:
        settings = load_team_settings(path)
    except ConfigError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    if validate_config is not None:
        typer.echo(f"{validate_config}: sah / valid")
        return
    setup_logging(
        log_format, verbose=verbose, context={"site": settings.site, "team": settings.team}
    )
    raise typer.Exit(run_mobile(settings))


def run_mobile(settings: TeamSettings) -> int:
    """Bootstrap and run the device until SIGTERM/SIGINT; the exit code."""
    from edge_lane.mobile.device import bootstrap
    from edge_lane.mobile.page import TeamPage

    try:
        device = bootstrap(settings)
        page = TeamPage(device, settings.display_port)
        scanner = _scanner(settings, device)
    except ManifestVaultError as error:
        typer.echo(error.message, err=True)
        return EXIT_MANIFEST
    except ConfigError as error:
        typer.echo(error.message, err=True)
        return EXIT_CONFIG
    except SourceError as error:
        typer.echo(error.message, err=True)
        return EXIT_SOURCE
    except OutboxError as error:
        typer.echo(error.message, err=True)
        return EXIT_OUTBOX
    except OSError as error:  # the page's port is taken
        typer.echo(f"Halaman tidak bisa dibuka / page cannot start: {error}", err=True)
        return EXIT_CONFIG
    except EdgeError as error:  # pragma: no cover - every subclass is listed above
        typer.echo(error.message, err=True)
        return 1
    stop = stop_on_signals()
    page.start()
    if scanner is not None:
        scanner.start(stop)
    try:
        device.run(stop)
    finally:
        stop.set()
        if scanner is not None:
            scanner.join(5)
        page.stop()
    return 0


def _scanner(settings: TeamSettings, device: TeamDevice) -> CodeScanner | None:
    """The camera's scanner when a camera is configured; OpenCV loads only then."""
    if settings.camera is None:
        return None
    from edge_lane.mobile.scanner import CodeScanner, plate_reader_codes
    from edge_lane.sources import open_source

    return CodeScanner(
        device,
        open_source(settings.camera),
        plate_reader_codes(),
        rescan_seconds=settings.rescan_seconds,
    )


def register(app: typer.Typer) -> None:
    """Add the ``mobile`` command to the ``drivethru`` app."""
    app.command("mobile")(mobile_command)


def main() -> None:
    """``python -m edge_lane.mobile``: the mobile command on its own."""
    app = typer.Typer(add_completion=False)
    app.command()(mobile_command)
    app()
