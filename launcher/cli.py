"""The one command line, ``drivethru``: each package's commands, mounted on one root.

Each command imports what it needs when it runs, so that an edge box that installed only
``drivethru[edge]`` can run ``drivethru edge`` without FastAPI or the event store.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="drivethru",
    help="drivethru: layanan ambil izin tanpa turun dari mobil / drive-through permit pickup.",
    no_args_is_help=True,
    add_completion=False,
)


def mount(root: typer.Typer) -> None:
    """Add every package's commands that this install can run to ``root``."""
    from api.commands import register as register_server
    from bench.cli import register as register_bench
    from edge_lane.broker_cli import register as register_broker
    from edge_lane.cli import register as register_edge
    from edge_lane.frigate.cli import register as register_frigate
    from edge_lane.mobile.cli import register as register_mobile
    from launcher.demo_cli import register as register_demo
    from launcher.seed_cli import register as register_seed
    from projections.cli import register as register_projections

    # The reader needs the edge extra (OpenCV); a server installed without it has no `read`.
    try:
        from plate_reader.cli import register as register_read
    except ImportError:
        pass
    else:
        register_read(root)
    register_demo(root)
    register_edge(root)
    register_frigate(root)
    register_mobile(root)
    register_broker(root)
    # Seeding writes through the server's service settings, so it comes with the server extra.
    if register_server(root):
        register_seed(root)
    register_projections(root)
    register_bench(root)


def main() -> None:
    mount(app)
    app()
