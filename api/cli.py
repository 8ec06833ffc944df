"""The one command line, ``drivethru``, and its subcommands.

Each subcommand imports what it needs when it runs, so that an edge box that installed only
``drivethru[edge]`` can run ``drivethru edge`` without FastAPI or the event store.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from edge_lane.mosquitto import BrokerSite

app = typer.Typer(
    name="drivethru",
    help="drivethru: layanan ambil izin tanpa turun dari mobil / drive-through permit pickup.",
    no_args_is_help=True,
    add_completion=False,
)
code_app = typer.Typer(help="Kode pengambilan / pickup codes.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmark (JSON) / benchmarks printing JSON.", no_args_is_help=True)
projections_app = typer.Typer(help="Read model / read models.", no_args_is_help=True)
app.add_typer(code_app, name="code")
app.add_typer(bench_app, name="bench")
app.add_typer(projections_app, name="projections")
broker_app = typer.Typer(
    help="Broker MQTT / the MQTT broker: embedded, or a Mosquitto config.",
    invoke_without_command=True,
)
app.add_typer(broker_app, name="broker")

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Berkas SQLite event store / event store SQLite file."),
]
ReadModelsOption = Annotated[
    Path | None,
    typer.Option("--read-models", help="Berkas SQLite read model / read-model SQLite file."),
]


@code_app.command("new")
def code_new(
    png: Annotated[Path | None, typer.Option(help="Tulis QR ke PNG / write the QR as PNG.")] = None,
    scale: Annotated[int, typer.Option(help="Piksel per modul / pixels per module.")] = 12,
) -> None:
    """Buat kode baru / make a new pickup code (printed, and as a QR if --png)."""
    import segno

    from core.codes import PickupCode

    code = PickupCode.generate()
    typer.echo(code.text)
    if png is not None:
        qr = segno.make(code.text, error="m", micro=False)
        qr.save(str(png), scale=scale, border=4)
        typer.echo(f"QR versi {qr.version} ({qr.mode}) -> {png}", err=True)


@code_app.command("check")
def code_check(code: str) -> None:
    """Periksa format kode / check a pickup code's format (exit 1 if malformed)."""
    from core.codes import PickupCode
    from core.errors import PickupCodeError

    try:
        parsed = PickupCode.parse(code)
    except PickupCodeError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"sah / valid  sha256={parsed.sha256}")


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


@projections_app.command("rebuild")
def projections_rebuild(db: DbOption = None, read_models: ReadModelsOption = None) -> None:
    """Bangun ulang read model dari event store / rebuild the read models from the events."""
    import asyncio

    from core.service import PermitLog
    from core.settings import StoreSettings
    from projections.identity import store_identity
    from projections.runner import ProjectionRunner
    from projections.store import ReadModels

    store = StoreSettings.from_environ(os.environ, sqlite_path=db)
    target = read_models or Path(os.environ.get("DRIVETHRU_READ_MODELS", "var/read_models.db"))
    log = PermitLog(store)

    async def rebuild() -> None:
        async with ReadModels(target) as models:
            runner = ProjectionRunner(log.recorder, log.mapper.transcoder, models)
            total = log.recorder.max_notification_id() or 0
            with typer.progressbar(length=total, label="Membangun ulang / rebuilding") as bar:
                done = 0

                def progress(position: int, _newest: int) -> None:
                    nonlocal done
                    bar.update(position - done)
                    done = position

                result = await runner.rebuild(progress)
            await models.record_store_identity(store_identity(log.recorder, store).text)
        typer.echo(
            f"{result.events} event -> {target} dalam / in {result.seconds:.1f} s "
            f"({result.events / max(result.seconds, 1e-9):,.0f} event/s)"
        )

    asyncio.run(rebuild())
    log.close()


@app.command("read")
def read(
    paths: Annotated[list[Path], typer.Argument(help="Gambar atau folder / images or folders.")],
    expected: Annotated[
        Path | None, typer.Option(help="Plat yang diharapkan, satu per baris / expected plates.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines (the default).")] = True,
) -> None:
    """Baca QR dan plat dari gambar / read pickup QR codes and plates from images."""
    from plate_reader.cli import read_files

    raise typer.Exit(read_files(paths, expected_file=expected, out=sys.stdout))


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


@app.command("demo")
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
        from api.demo_lifecycle import run_lifecycle_demo

        run_lifecycle_demo(
            db or state / "lifecycle.db", read_models or state / "lifecycle-read.db",
            permits=permits,
        )  # fmt: skip
        return
    from api.demo import run_demo

    raise typer.Exit(
        run_demo(state, duration=duration, headless=headless, broker_url=broker, port=port)
    )


def main() -> None:
    from edge_lane.cli import register as register_edge
    from edge_lane.frigate.cli import register as register_frigate
    from edge_lane.mobile.cli import register as register_mobile

    register_edge(app)
    register_frigate(app)
    register_mobile(app)
    # The server commands need the server extra; an edge box runs without them.
    try:
        from api.backup_cli import register as register_backup
        from api.history_cli import register as register_history
        from api.privacy_cli import register as register_privacy
        from api.serve import register as register_server
    except ImportError:
        pass
    else:
        register_server(app)
        register_history(app)
        register_backup(app)
        register_privacy(app)
    app()
