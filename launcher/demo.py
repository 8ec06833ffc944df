"""`drivethru demo`: a whole drive-through on this machine, with nothing to set up.

The embedded broker (or Mosquitto at ``--broker``), the server on SQLite, a site in Badung with
permits at several stages, and two lanes whose edge agents watch generated videos of cars
arriving: some show their pickup code, some are known by their plate alone, one has no
permit. A simulated operator hands over what is released. Everything is real processes
talking MQTT and HTTP; only the cameras and the operator are simulated.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import typer
from paho.mqtt.enums import CallbackAPIVersion

from core.contract import ANY_NAME, TopicKind, Topics
from edge_lane.broker import EmbeddedBroker, free_port
from launcher.demo_site import DemoCar, DemoSite, build_site, write_lane_toml, write_site_toml

TOPICS = Topics("badung")


@dataclass
class Tally:
    """What the demo saw, for the live log and the summary."""

    visits: set[str] = field(default_factory=set)
    arrivals: int = 0
    released: dict[str, float] = field(default_factory=dict)
    handed_over: set[str] = field(default_factory=set)
    latencies_ms: list[float] = field(default_factory=list)
    arrival_times: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _render(lane: str, cars: Sequence[DemoCar], path: Path, seed: int) -> str:
    """Render one lane's video (in a worker process: it is the slow part of a first run)."""
    from bench.scenes import CarSpec, lane_video, write_video

    specs = [
        CarSpec(plate=car.plate, scheme=car.scheme, code=car.code, wait_frames=36) for car in cars
    ]
    tmp = path.with_suffix(".partial.avi")
    write_video(lane_video(specs, seed, gap_frames=12, move_frames=10), tmp, fps=10.0)
    tmp.replace(path)
    return lane


def _videos(site: DemoSite, state: Path) -> dict[str, Path]:
    """The lanes' videos, rendered once and kept: the demo's codes repeat run after run."""
    videos: dict[str, Path] = {}
    todo = []
    for index, (lane, cars) in enumerate(site.cars.items()):
        key = hashlib.sha256(repr(cars).encode()).hexdigest()[:12]
        path = state / "video" / f"lane-{lane}-{key}.avi"
        videos[lane] = path
        if not path.exists():
            todo.append((lane, cars, path, 100 + index))
    if todo:
        (state / "video").mkdir(parents=True, exist_ok=True)
        typer.echo(
            f"Membuat video jalur (sekali saja) / rendering lane videos (first run only): "
            f"{', '.join(lane for lane, *_ in todo)} …"
        )
        with ProcessPoolExecutor(max_workers=min(2, len(todo))) as pool:
            for lane in pool.map(_render, *zip(*todo, strict=True)):
                typer.echo(f"  jalur {lane} siap / lane {lane} ready")
    return videos


def run_demo(
    state: Path, *, duration: float | None, headless: bool, broker_url: str | None, port: int
) -> int:
    """Run the drive-through; returns the exit code (0: every ready car was released)."""
    for name in ("events.db", "events.db-wal", "events.db-shm", "read.db", "read.db-wal",
                 "read.db-shm", "outbox-1.db", "outbox-2.db", "feedback.db", "notify.db",
                 "notify.db-wal", "notify.db-shm"):  # fmt: skip
        (state / name).unlink(missing_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    passwords = {user: secrets.token_urlsafe(12) for user in ("server", "lane-1", "lane-2", "demo")}
    keys = {
        role: f"demo-{role}-{secrets.token_urlsafe(18)}"
        for role in ("officer", "operator", "admin")
    }
    site = build_site(state / "events.db")
    videos = _videos(site, state)
    broker: EmbeddedBroker | None = None
    processes: list[subprocess.Popen[bytes]] = []
    observer: mqtt.Client | None = None
    tally = Tally()
    try:
        if broker_url is None:
            broker = EmbeddedBroker(passwords)
            broker.start()
            broker_url = broker.url
            protocol = "3.1.1"
        else:
            protocol = "5"
        env = {**os.environ,
               "DRIVETHRU_DEMO_LOGINS": ";".join(f"{r}={k}" for r, k in keys.items()),
               "DRIVETHRU_BROKER_PASSWORD": passwords["server"],
               "DRIVETHRU_BROKER_PROTOCOL": protocol}  # fmt: skip
        write_site_toml(state / "site.toml", keys)
        server_log = (state / "server.log").open("wb")
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "api",
                    "serve",
                    "--config",
                    str(state / "site.toml"),
                    "--db",
                    str(state / "events.db"),
                    "--read-models",
                    str(state / "read.db"),
                    "--broker",
                    broker_url,
                    "--port",
                    str(port),
                    "--demo",
                ],
                env=env,
                stdout=server_log,
                stderr=subprocess.STDOUT,
            )
        )
        base = f"http://127.0.0.1:{port}"
        _wait_for(base, processes[0], state / "server.log")
        observer = _observe(broker_url, passwords["demo"], protocol, tally, base, keys["operator"])
        for lane, video in videos.items():
            config = write_lane_toml(
                state / f"lane-{lane}.toml", lane, video, broker_url, protocol,
                state / f"outbox-{lane}.db", free_port(),
            )  # fmt: skip
            lane_env = {**env, "DRIVETHRU_LANE_PASSWORD": passwords[f"lane-{lane}"]}
            log = (state / f"edge-{lane}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "launcher", "edge", "--config", str(config)],
                    env=lane_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        _print_welcome(base, keys, state, headless)
        started = time.monotonic()
        expected = set(site.ready_on_camera)
        while duration is None or time.monotonic() - started < duration:
            time.sleep(1.0)
            with tally.lock:
                done = expected <= set(tally.released) and expected <= tally.handed_over
            _progress(tally, len(expected))
            if headless and done and time.monotonic() - started > 5:
                break
        typer.echo("")
    except KeyboardInterrupt:
        typer.echo("\nBerhenti / stopping …")
    finally:
        if observer is not None:
            observer.loop_stop()
            observer.disconnect()
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        if broker is not None:
            broker.stop()
    return _summary(tally, site)


def _wait_for(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise typer.Exit(_fail(f"server berhenti / server exited:\n{log.read_text()[-2000:]}"))
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:
                if json.loads(answer.read()).get("broker_connected"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise typer.Exit(_fail("server tidak siap / server did not come up"))


def _fail(message: str) -> int:
    typer.secho(message, fg="red", err=True)
    return 1


def _observe(
    url: str, password: str, protocol: str, tally: Tally, base: str, operator_key: str
) -> mqtt.Client:
    """Watch the site's traffic for the log, and play the operator at the windows."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"demo-{uuid.uuid4().hex[:6]}",
        protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311,
    )  # fmt: skip
    client.username_pw_set("demo", password)

    def on_connect(c: mqtt.Client, *_: Any) -> None:
        c.subscribe(TOPICS.all_arrivals, qos=1)
        c.subscribe(TOPICS.releases(ANY_NAME), qos=1)

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        parsed = TOPICS.parse(message.topic)
        if parsed is None or parsed[0] not in (TopicKind.ARRIVALS, TopicKind.RELEASES):
            return  # route by topic: the embedded broker is generous with retained messages
        kind, lane = parsed
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        now = time.time()
        with tally.lock:
            if kind is TopicKind.ARRIVALS:
                tally.arrivals += 1
                tally.visits.add(body.get("visit", ""))
                sent = datetime.fromisoformat(body["at"]).timestamp()
                tally.arrival_times.setdefault(body.get("visit", ""), sent)
                how = (
                    "kode/code"
                    if body.get("code_sha256")
                    else f"plat/plate {body['plate']['text']}"
                )
                typer.echo(f"\r[jalur {lane}] kedatangan / arrival: {how}" + " " * 20)
                return
            permits = body.get("permits", [])
            if not permits:
                if body.get("see_operator"):
                    typer.echo(f"\r[jalur {lane}] silakan ke petugas / see operator" + " " * 20)
                return
            sent_at = tally.arrival_times.get(body.get("visit", ""))
            for permit in permits:
                if permit["id"] not in tally.released:
                    tally.released[permit["id"]] = now
                    if sent_at is not None:
                        tally.latencies_ms.append((now - sent_at) * 1000)
            typer.echo(
                f"\r[jalur {lane}] DIRILIS / RELEASED {permits[0]['number']} slot "
                f"{permits[0]['slot']} → jendela {body['window']}" + " " * 10
            )
        threading.Timer(1.5, _hand_over, (base, operator_key, lane, permits, tally)).start()

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(*_host_port(url))
    client.loop_start()
    return client


def _host_port(url: str) -> tuple[str, int]:
    rest = url.split("://", 1)[1]
    host, _, port = rest.partition(":")
    return host, int(port or 1883)


def _hand_over(base: str, key: str, lane: str, permits: list[dict[str, Any]], tally: Tally) -> None:
    """The simulated operator: checks the KTP, hands the permit through the window."""
    for permit in permits:
        # The simulated operator has no KTP to type: an override, recorded as such.
        body = json.dumps({"permit_id": permit["id"], "handover_id": f"demo-{permit['id']}",
                           "recipient": "owner",
                           "override_reason": "demo: operator simulasi / simulated operator"}
                          ).encode()  # fmt: skip
        request = urllib.request.Request(
            f"{base}/api/lanes/{lane}/handover", data=body, method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except OSError:
            continue
        with tally.lock:
            tally.handed_over.add(permit["id"])
        typer.echo(f"\r[jalur {lane}] diserahkan / handed over {permit['number']}" + " " * 20)


def _print_welcome(base: str, keys: dict[str, str], state: Path, headless: bool) -> None:
    typer.secho("\ndrivethru demo — Mal Pelayanan Publik Badung", bold=True)
    # One-click sign-in links: the demo's keys are behind /demo/login (only with --demo).
    for label, path in (
        ("Konsol jendela / window console (jalur 1)", "/demo/login/operator?next=/lanes/1/console"),
        ("Layar jalur / lane board (jalur 1)", "/demo/login/operator?next=/lanes/1/board"),
        ("Back office", "/demo/login/officer?next=/office"),
        ("Dasbor / dashboard", "/demo/login/admin?next=/dashboard"),
        ("Pemberitahuan / notifications (demo outbox)", "/demo/outbox"),
        ("API (OpenAPI)", "/docs"),
    ):
        typer.echo(f"  {label:<44} {base}{path}")
    typer.echo("  Kunci masuk / login keys (demo only):")
    for role, key in keys.items():
        typer.echo(f"    {role:<9} {key}")
    typer.echo(f"  Log: {state}/server.log, {state}/edge-1.log, {state}/edge-2.log")
    if not headless:
        typer.echo("  Ctrl-C untuk berhenti / to stop\n")


def _progress(tally: Tally, expected: int) -> None:
    with tally.lock:
        line = (
            f"mobil/cars {len(tally.visits)}  kedatangan/arrivals {tally.arrivals}  "
            f"dirilis/released {len(tally.released)}/{expected}  "
            f"diserahkan/handed over {len(tally.handed_over)}"
        )
    sys.stdout.write("\r" + line)
    sys.stdout.flush()


def _summary(tally: Tally, site: DemoSite) -> int:
    expected = set(site.ready_on_camera)
    with tally.lock:
        missing = expected - set(tally.released)
        median = statistics.median(tally.latencies_ms) if tally.latencies_ms else None
        summary = {
            "cars_seen": len(tally.visits),
            "arrivals": tally.arrivals,
            "releases": len(tally.released),
            "handovers": len(tally.handed_over),
            "ready_cars": len(expected),
            "not_released": sorted(missing),
            "median_arrival_to_release_ms": round(median, 1) if median is not None else None,
        }
    typer.secho("\nRingkasan / summary", bold=True)
    typer.echo(json.dumps(summary, indent=2))
    return 0 if not missing else 1
