"""``drivethru demo``: the whole drive-through, or only the permit lifecycle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from projections.cli import DbOption, ReadModelsOption


def demo(
    duration: Annotated[
        float | None, typer.Option(help="Berhenti setelah N detik / stop after N seconds.")
    ] = None,
    headless: Annotated[
        bool, typer.Option(help="Tanpa interaksi; ringkasan di akhir / summary at the end.")
    ] = False,
    broker: Annotated[
        str | None, typer.Option(help="mqtt://HOST:PORT (default: the embedded broker)")
    ] = None,
    port: Annotated[int, typer.Option(help="Port HTTP server.")] = 8080,
    state: Annotated[Path, typer.Option(help="Folder data demo / demo data folder.")] = Path(
        "var/demo"
    ),
    lifecycle: Annotated[
        bool, typer.Option(help="Hanya siklus izin / only the permit lifecycle, no lanes.")
    ] = False,
    db: DbOption = None,
    read_models: ReadModelsOption = None,
    permits: Annotated[int, typer.Option(help="Izin (--lifecycle) / permits.")] = 3,
) -> None:
    """Demo drive-through lengkap / the whole drive-through on this machine."""
    if lifecycle:
        from launcher.demo_lifecycle import run_lifecycle_demo

        run_lifecycle_demo(
            db or state / "lifecycle.db", read_models or state / "lifecycle-read.db",
            permits=permits,
        )  # fmt: skip
        return
    from launcher.demo import run_demo

    raise typer.Exit(
        run_demo(state, duration=duration, headless=headless, broker_url=broker, port=port)
    )


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the ``drivethru`` app."""
    app.command("demo")(demo)
