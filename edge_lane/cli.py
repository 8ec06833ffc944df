"""``drivethru edge``: run a lane agent from a TOML file, from flags, or from both.

`register(app)` adds the command to the ``drivethru`` typer app; ``python -m edge_lane`` runs
it alone. Exit codes: 0 done, 2 bad configuration, 3 source cannot be opened, 4 outbox fails.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from edge_lane.config import LaneSettings
from edge_lane.errors import ConfigError, EdgeError, OutboxError, SourceError
from edge_lane.logs import LogFormat, setup_logging

EXIT_CONFIG = 2
EXIT_SOURCE = 3
EXIT_OUTBOX = 4


def _overrides(
    *,
    site: str | None,
    lane: str | None,
    source: str | None,
    broker: str | None,
    username: str | None,
    password_env: str | None,
    pace: str | None,
    outbox: Path | None,
    display_port: int | None,
    max_frames: int | None,
    base: dict[str, Any],
) -> dict[str, Any]:
    """The flags given, as a table to lay over the file's."""
    out: dict[str, Any] = {}
    for key, value in (("site", site), ("lane", lane), ("display_port", display_port)):
        if value is not None:
            out[key] = value
    if max_frames is not None:
        out["max_frames"] = max_frames
    broker_table = {
        k: v
        for k, v in (("url", broker), ("username", username), ("password_env", password_env))
        if v is not None
    }
    if broker_table:
        out["broker"] = broker_table
    if outbox is not None:
        out["outbox"] = {"path": str(outbox)}
    cameras = list(base.get("cameras", []))
    if source is not None:
        # One --source replaces the file's cameras with a single window camera.
        first = dict(cameras[0]) if cameras and isinstance(cameras[0], dict) else {}
        first.update({"source": source})
        first.setdefault("name", "window")
        first.setdefault("role", "window")
        cameras = [first]
    if pace is not None:
        cameras = [{**camera, "pace": pace} for camera in cameras if isinstance(camera, dict)]
    if cameras:
        out["cameras"] = cameras
    return out


def edge_command(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Berkas TOML jalur / lane TOML file.")
    ] = None,
    validate_config: Annotated[
        Path | None,
        typer.Option("--validate-config", help="Periksa berkas lalu keluar / check a file, exit."),
    ] = None,
    site: Annotated[str | None, typer.Option(help="Lokasi / site.")] = None,
    lane: Annotated[str | None, typer.Option(help="Jalur / lane.")] = None,
    source: Annotated[
        str | None, typer.Option(help="Kamera, URL, video, atau folder / camera, URL, file, dir.")
    ] = None,
    broker: Annotated[str | None, typer.Option(help="mqtt://HOST:PORT atau mqtts://.")] = None,
    username: Annotated[str | None, typer.Option(help="Nama pengguna MQTT / username.")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Variabel berisi kata sandi / env var with the password.")
    ] = None,
    realtime: Annotated[
        bool | None,
        typer.Option("--realtime/--fast", help="Laju asli atau secepatnya / native or fast."),
    ] = None,
    outbox: Annotated[Path | None, typer.Option(help="Berkas outbox SQLite / outbox file.")] = None,
    display_port: Annotated[
        int | None, typer.Option(help="Port layar jalur / lane display port.")
    ] = None,
    max_frames: Annotated[
        int | None, typer.Option(help="Berhenti setelah N frame / stop after N frames.")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log rinci / debug log.")
    ] = False,
    log_format: Annotated[
        LogFormat, typer.Option(help="Bentuk log / log lines: text or json (one a line).")
    ] = LogFormat.TEXT,
) -> None:
    """Jalankan agen jalur / run the lane agent (camera → reader → MQTT)."""
    from edge_lane.config import build_settings, merge, read_config_file

    setup_logging(log_format, verbose=verbose)
    if validate_config is not None:
        try:
            build_settings(read_config_file(validate_config), origin=str(validate_config))
        except ConfigError as error:
            typer.echo(error.message, err=True)
            raise typer.Exit(EXIT_CONFIG) from None
        typer.echo(f"{validate_config}: sah / valid")
        return
    pace = None if realtime is None else ("realtime" if realtime else "fast")
    try:
        base = read_config_file(config) if config is not None else {}
        flags = _overrides(
            site=site,
            lane=lane,
            source=source,
            broker=broker,
            username=username,
            password_env=password_env,
            pace=pace,
            outbox=outbox,
            display_port=display_port,
            max_frames=max_frames,
            base=base,
        )
        settings = build_settings(merge(base, flags), origin=str(config or "flags"))
        setup_logging(
            log_format, verbose=verbose, context={"site": settings.site, "lane": settings.lane}
        )
        raise typer.Exit(run_lane(settings))
    except ConfigError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def run_lane(settings: LaneSettings) -> int:
    """Bootstrap and run a lane until SIGTERM/SIGINT or the end of its sources; the exit code."""
    from edge_lane.agent import bootstrap

    try:
        agent = bootstrap(settings)
    except ConfigError as error:
        typer.echo(error.message, err=True)
        return EXIT_CONFIG
    except SourceError as error:
        typer.echo(error.message, err=True)
        return EXIT_SOURCE
    except OutboxError as error:
        typer.echo(error.message, err=True)
        return EXIT_OUTBOX
    except EdgeError as error:  # pragma: no cover - every subclass is listed above
        typer.echo(error.message, err=True)
        return 1
    stop = stop_on_signals()
    agent.run(stop)
    return 0


def register(app: typer.Typer) -> None:
    """Add the ``edge`` command to the ``drivethru`` app."""
    app.command("edge")(edge_command)


def main() -> None:
    """``python -m edge_lane``: the edge command on its own."""
    app = typer.Typer(add_completion=False)
    app.command()(edge_command)
    app()


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM or SIGINT sets, so a device's loop stops cleanly."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger(__name__).info("sinyal %d, berhenti / signal, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop
