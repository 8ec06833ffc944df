"""``drivethru bench store|reader|notify|edge|e2e``: the benchmarks, each printing JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

bench_app = typer.Typer(help="Benchmark (JSON) / benchmarks printing JSON.", no_args_is_help=True)


@bench_app.command("store")
def bench_store(
    json_out: Annotated[bool, typer.Option("--json", help="Cetak JSON / print JSON.")] = True,
    quick: Annotated[bool, typer.Option(help="Selesai < 60 s / finish in under 60 s.")] = False,
    events: Annotated[int | None, typer.Option(help="Events for the rebuild log.")] = None,
) -> None:
    """Event store and projection throughput, with anchors measured in the same run."""
    from bench.store import run

    result = run(quick=quick, rebuild_events=events)
    typer.echo(json.dumps(result, indent=None if json_out else 2))


@bench_app.command("reader")
def bench_reader(
    json_out: Annotated[bool, typer.Option("--json", help="Cetak JSON / print JSON.")] = True,
    quick: Annotated[bool, typer.Option(help="Selesai < 60 s / finish in under 60 s.")] = False,
    real: Annotated[
        Path | None,
        typer.Option(
            help="Folder foto nyata berlabel / folder of labelled real photos (labels.tsv or "
            "plates in file names)."
        ),
    ] = None,
) -> None:
    """QR and plate read rates and times against zxing-cpp, OpenCV and RapidOCR alone."""
    from bench.reader import run

    typer.echo(json.dumps(run(quick=quick, real=real), indent=None if json_out else 2))


@bench_app.command("notify")
def bench_notify(
    json_out: Annotated[bool, typer.Option("--json", help="Cetak JSON / print JSON.")] = True,
    permits: Annotated[int, typer.Option(help="READY permits with contacts.")] = 1000,
) -> None:
    """The notifier's fold and outbox, against the read models' fold of the same log."""
    from bench.notify import run

    typer.echo(json.dumps(run(permits), indent=None if json_out else 2))


@bench_app.command("edge")
def bench_edge(
    json_out: Annotated[bool, typer.Option("--json", help="Cetak JSON / print JSON.")] = True,
    quick: Annotated[bool, typer.Option(help="Selesai < 60 s / finish in under 60 s.")] = False,
) -> None:
    """One lane at 1280x720: frames/s, CPU ms per frame, RSS, arrival latency."""
    from bench.edge import run

    typer.echo(json.dumps(run(quick=quick), indent=None if json_out else 2))


@bench_app.command("e2e")
def bench_e2e(
    json_out: Annotated[bool, typer.Option("--json", help="Cetak JSON / print JSON.")] = True,
    quick: Annotated[bool, typer.Option(help="Selesai < 60 s / finish in under 60 s.")] = False,
    rate: Annotated[
        float, typer.Option(help="Kedatangan per detik / arrivals per second.")
    ] = 100.0,
    lanes: Annotated[int, typer.Option(help="Jalur simulasi / simulated lanes.")] = 20,
    seconds: Annotated[
        float | None, typer.Option(help="Lama per tahap / seconds per step.")
    ] = None,
    replicas: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server replika di PostgreSQL / servers on one PostgreSQL store, "
            "against one server in the same run (docs/bench_e2e.md).",
        ),
    ] = 1,
) -> None:
    """Arrival published -> release received at the lane, with the broker's round trip."""
    if replicas > 1:
        from bench import e2e_replicas

        replicated = e2e_replicas.run(replicas, quick, rate, lanes, seconds)
        typer.echo(json.dumps(replicated, indent=None if json_out else 2))
        return
    from bench.e2e import run

    result = run(quick=quick, rate=rate, lanes=lanes, seconds=seconds)
    typer.echo(json.dumps(result, indent=None if json_out else 2))


def register(app: typer.Typer) -> None:
    """Add the ``bench`` commands to the ``drivethru`` app."""
    app.add_typer(bench_app, name="bench")
