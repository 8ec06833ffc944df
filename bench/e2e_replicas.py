"""`drivethru bench e2e --replicas N`: N servers on one PostgreSQL store against one, same run.

The same lanes, broker and load as `bench.e2e`, but the store is PostgreSQL and every server
runs as a replica (``sole_writer = false``: cached permits are fast-forwarded from the store,
read models of its own, arrivals split by the shared subscription). One server and then N
servers are measured in the same run, each on a fresh database, at the main rate (latency)
and up a ramp of rates (the top sustained rate), with the CPU seconds of every process:
servers, their MQTT links, PostgreSQL, Mosquitto and this load generator. From those the
report says where the limit is: the machine's cores, one server's GIL, PostgreSQL or the
broker.

Permits are seeded on a SQLite store on tmpfs (`bench.e2e_server.seed`) and their events copied to
PostgreSQL in large transactions: seeding through the service on PostgreSQL costs ~35 ms a
permit here, minutes per ramp step.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from bench.e2e import KEEP_UP, P99_LIMIT_MS
from bench.e2e_broker import HOST, SITE, Broker, start_broker
from bench.e2e_load import Lanes, broker_round_trip
from bench.e2e_server import (
    cpu_seconds,
    peak_rss_mb,
    process_tree,
    seed,
    server_ready,
    terminate,
    wait_until,
    write_site_toml,
)
from bench.e2e_summary import summarise
from bench.limits import machine_busy_seconds, where_the_limit_is
from bench.postgres import BenchPostgres
from core.contract import Arrival, encode
from edge_lane.broker import free_port

FULL_STEPS = (200, 400, 600, 800, 1000, 1200, 1600)
QUICK_STEPS = (200, 400, 600)
TRANSFER_PAGE = 5000


def server_users(replicas: int) -> list[str]:
    """One broker login per replica, as the contract's ACL has them: server, server-2, …"""
    return ["server", *(f"server-{n}" for n in range(2, replicas + 1))]


class PgStore:
    """The run's PostgreSQL database, filled from a SQLite store the seeding writes."""

    def __init__(self, pg: BenchPostgres, dbname: str, shadow: Path, nik_key: str) -> None:
        from core.service import PermitLog
        from core.settings import StoreSettings

        self.pg, self.dbname, self.shadow, self.nik_key = pg, dbname, shadow, nik_key
        shadow.mkdir(parents=True, exist_ok=True)
        store = StoreSettings(
            backend="postgres", postgres_host=HOST, postgres_port=pg.port,
            postgres_dbname=dbname, postgres_user="postgres",
        )  # fmt: skip
        self._log = PermitLog(store)  # creates the events table
        self._copied = 0

    def seed(self, count: int) -> Iterator[str]:
        hashes = seed(self.shadow, self.nik_key, count)
        self._copy_new_events()
        return iter(hashes)

    def _copy_new_events(self) -> None:
        from projections.log import SqliteFileSource

        source = SqliteFileSource(str(self.shadow / "events.db"), "stored_events")
        try:
            while page := source.select_after(self._copied, TRANSFER_PAGE):
                events = [
                    StoredEvent(UUID(str(e.originator_id)), e.originator_version, e.topic, e.state)
                    for e in page
                ]
                self._log.recorder.insert_events(events)
                self._copied = page[-1].id
        finally:
            source.close()

    def close(self) -> None:
        self._log.close()


@contextlib.contextmanager
def replica_processes(
    workdir: Path, broker: Broker, store: PgStore, lanes: int, replicas: int
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``replicas`` servers on the store, each with its read models and broker login."""
    started: list[tuple[subprocess.Popen[bytes], int, Path]] = []
    logs = []
    try:
        for user in server_users(replicas):
            home = workdir / user
            home.mkdir(parents=True, exist_ok=True)
            write_site_toml(home / "site.toml", lanes)
            # Several servers write the store: cached permits are fast-forwarded from it.
            config = home / "site.toml"
            config.write_text("sole_writer = false\n" + config.read_text())
            port = free_port()
            args = [
                sys.executable, "-m", "api", "serve", "--config", str(config),
                "--read-models", str(home / "read.db"), "--port", str(port),
                "--broker", f"mqtt://{HOST}:{broker.port}",
            ]  # fmt: skip
            env = {
                **os.environ, **store.pg.environment(store.dbname),
                "DRIVETHRU_NIK_KEY": store.nik_key, "DRIVETHRU_BROKER_PASSWORD": broker.users[user],
                "DRIVETHRU_BROKER_USERNAME": user, "DRIVETHRU_BROKER_PROTOCOL": broker.protocol,
            }  # fmt: skip
            log = (home / "server.log").open("ab")
            logs.append(log)
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
            started.append((process, port, home))
        for process, port, home in started:
            try:
                wait_until(functools.partial(server_ready, port), 90, process, "a replica")
            except (RuntimeError, TimeoutError) as error:
                tail = (home / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{error}:\n{tail}") from None
        yield [process for process, _, _ in started]
    finally:
        for process, _, _ in started:
            terminate(process)
        for log in logs:
            log.close()


@dataclass
class Deployment:
    """One configuration of the run: ``replicas`` servers on their own database."""

    workdir: Path
    broker: Broker
    pg: BenchPostgres
    store: PgStore
    lanes: int
    replicas: int
    peak_rss_mb: float = 0.0
    seed_seconds: float = 0.0
    seeded: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)

    def phase(self, lanes: Lanes, rate: float, seconds: float, drain: float) -> dict[str, Any]:
        """Seed, start the replicas, drive the lanes, stop them; figures and CPU by process."""
        started = time.perf_counter()
        codes = self.store.seed(int(rate * seconds))
        self.seed_seconds += time.perf_counter() - started
        self.seeded += int(rate * seconds)
        with replica_processes(
            self.workdir, self.broker, self.store, self.lanes, self.replicas
        ) as servers:
            time.sleep(0.5)  # the first manifests go out before measuring
            trees = [process_tree(s.pid) for s in servers]
            parts: dict[str, list[int]] = {
                "servers": [tree[0] for tree in trees],
                "mqtt_links": [pid for tree in trees for pid in tree[1:]],
                "load_generator": [os.getpid()],
            }
            if self.pg.pid is not None:
                parts["postgres"] = process_tree(self.pg.pid)
            if self.broker.pid is not None:
                parts["broker"] = [self.broker.pid]
            each = {f"server_{n + 1}": tree[:1] for n, tree in enumerate(trees)}
            before = {name: cpu_seconds(pids) for name, pids in {**parts, **each}.items()}
            wall, machine = time.perf_counter(), machine_busy_seconds()
            result = summarise(lanes.run(codes, rate, seconds, drain), rate, seconds)
            wall, machine = time.perf_counter() - wall, machine_busy_seconds() - machine
            used = {
                name: cpu_seconds(pids) - before[name] for name, pids in {**parts, **each}.items()
            }
            self.peak_rss_mb = max(self.peak_rss_mb, sum(peak_rss_mb(t) for t in trees))
        arrivals = max(1, result["arrivals"])
        result["server_cpu_ms_per_arrival"] = round(
            (used["servers"] + used["mqtt_links"]) * 1000 / arrivals, 3
        )
        result["cpu_ms_per_arrival"] = {
            name: round(used[name] * 1000 / arrivals, 3) for name in parts
        }
        # Of the whole run's time: how much of one core each part kept busy.
        result["core_share"] = {name: round(t / wall, 2) for name, t in used.items()}
        # The machine is shared: what every other process used in the meantime.
        ours = sum(used[name] for name in parts)
        result["core_share"]["other_processes"] = round(max(0.0, machine - ours) / wall, 2)
        # Kept up: every arrival answered, at the rate offered, whatever the tail latency.
        result["kept_up"] = bool(
            result["ack_loss"] == 0
            and result["releases_missing"] == 0
            and result["achieved_rate"] >= KEEP_UP * rate
        )
        result["ok"] = result["kept_up"] and result["release_ms"]["p99"] < P99_LIMIT_MS
        self.steps.append(result)
        return result


def measure(
    deployment: Deployment,
    lanes: Lanes,
    rate: float,
    duration: float,
    step_seconds: float,
    ramp_up: Sequence[float],
) -> dict[str, Any]:
    """The main rate, then the ramp up while the servers keep up (throughput: the highest
    rate kept up, whatever the p99); if the main rate misses the p99 line, the ramp also
    steps down (rate/2, rate/4) until one meets it, as `bench.e2e` does."""
    main = deployment.phase(lanes, rate, duration, 15.0)
    for step in [r for r in ramp_up if r > rate]:
        if not deployment.phase(lanes, step, step_seconds, 10.0)["kept_up"]:
            break
    if not any(s["ok"] for s in deployment.steps):
        for step in (rate / 2, rate / 4):
            if deployment.phase(lanes, step, step_seconds, 10.0)["ok"]:
                break
    sustained = max((s["rate"] for s in deployment.steps if s["ok"]), default=0.0)
    kept_up = max((s["rate"] for s in deployment.steps if s["kept_up"]), default=0.0)
    return {"main": main, "max_sustained_rate": sustained, "max_kept_up_rate": kept_up}


def run(
    replicas: int = 2,
    quick: bool = False,
    rate: float = 100.0,
    lanes: int = 20,
    seconds: float | None = None,
    steps: Sequence[float] | None = None,
) -> dict[str, object]:
    """One server, then ``replicas`` servers, on PostgreSQL: one JSON-able dict.

    The top level has `bench.e2e`'s fields for the ``replicas`` servers; ``replicas``
    compares them with one server in the same run and says where the limit is.
    """
    duration = seconds if seconds is not None else (5.0 if quick else 20.0)
    step_seconds = min(duration, 2.0 if quick else 3.0)
    ramp_up = list(steps if steps is not None else QUICK_STEPS if quick else FULL_STEPS)
    nik_key = secrets.token_hex(16)
    workdir = Path(tempfile.mkdtemp(prefix="drivethru-bench-replicas-"))
    started = time.perf_counter()
    cpus = os.cpu_count() or 1
    results: dict[int, tuple[Deployment, dict[str, Any]]] = {}
    pg = BenchPostgres()
    try:
        broker = start_broker(lanes, server_users(replicas))
        try:
            pg.start()
            lanes_ = Lanes(broker, lanes)
            try:
                size = len(encode(Arrival(site=SITE, lane="1", visit=uuid.uuid4(),
                                          code_sha256="0" * 64)))  # fmt: skip
                floor = broker_round_trip(broker, rate, duration, size)
                for count in (1, replicas):
                    dbname = pg.create_database(f"replicas_{count}_{uuid.uuid4().hex[:8]}")
                    home = workdir / f"replicas-{count}"
                    store = PgStore(pg, dbname, home / "seed", nik_key)
                    try:
                        deployment = Deployment(home, broker, pg, store, lanes, count)
                        results[count] = (
                            deployment,
                            measure(deployment, lanes_, rate, duration, step_seconds, ramp_up),
                        )
                    finally:
                        store.close()
            finally:
                lanes_.close()
        finally:
            pg.stop()
            broker.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return report(results, replicas, broker, floor, cpus, rate, lanes, duration, quick, started)


def report(
    results: dict[int, tuple[Deployment, dict[str, Any]]],
    replicas: int,
    broker: Broker,
    floor: dict[str, float | int],
    cpus: int,
    rate: float,
    lanes: int,
    duration: float,
    quick: bool,
    started: float,
) -> dict[str, object]:
    many, one = results[replicas], results[1]
    deployment, measured = many
    main = measured["main"]
    sustained = measured["max_sustained_rate"]
    # Throughput is the highest rate kept up (every arrival answered at the rate offered);
    # the p99 line is judged apart, in max_sustained_rate and the release_ms ratio.
    kept_up, one_kept_up = measured["max_kept_up_rate"], one[1]["max_kept_up_rate"]
    ratio = round(kept_up / one_kept_up, 2) if one_kept_up else None
    release_p99 = main["release_ms"]["p99"]

    def summary(count: int) -> dict[str, Any]:
        d, m = results[count]
        return {
            "servers": count,
            "max_sustained_rate": m["max_sustained_rate"],
            "max_kept_up_rate": m["max_kept_up_rate"],
            "release_ms": m["main"]["release_ms"],
            "ack_ms": m["main"]["ack_ms"],
            "server_cpu_ms_per_arrival": m["main"]["server_cpu_ms_per_arrival"],
            "cpu_ms_per_arrival": m["main"]["cpu_ms_per_arrival"],
            "limit": where_the_limit_is(d.steps, cpus),
            "steps": d.steps,
        }

    return {
        "benchmark": "e2e", "quick": quick, "broker": broker.kind,
        "mqtt_protocol": broker.protocol, "cpus": cpus, "lanes": lanes, "rate": rate,
        "seconds": duration, "store": "postgres", "seeded_permits": deployment.seeded,
        "seed_seconds": round(deployment.seed_seconds, 1),
        **{k: main[k] for k in ("arrivals", "acks", "releases", "see_operator", "republished")},
        "release_ms": main["release_ms"], "ack_ms": main["ack_ms"],
        "broker_round_trip_ms": floor,
        "release_p99_over_broker_p99": round(release_p99 / max(float(floor["p99"]), 0.001), 1),
        "ack_loss": main["ack_loss"], "releases_missing": main["releases_missing"],
        "published_rate": main["published_rate"], "achieved_rate": main["achieved_rate"],
        "max_sustained_rate": sustained, "steps": deployment.steps,
        "server_cpu_ms_per_arrival": main["server_cpu_ms_per_arrival"],
        "cpu_ms_per_arrival": main["cpu_ms_per_arrival"],
        "server_peak_rss_mb": deployment.peak_rss_mb,
        "total_seconds": round(time.perf_counter() - started, 1),
        "targets": {
            "p99_le_25ms_at_100_per_s": rate >= 100 and release_p99 <= 25.0,
            "sustained_ge_1000_per_s": sustained >= 1000,
            "ack_loss_zero": all(
                s["ack_loss"] == 0 for d, _ in results.values() for s in d.steps if s["ok"]
            ),
            "replicas_ge_1_6x_one": ratio is not None and ratio >= 1.6,
        },
        "replicas": {
            "servers": replicas,
            "throughput_ratio": ratio,
            "why": (
                f"{replicas} servers kept up with {kept_up:.0f}/s, one with {one_kept_up:.0f}/s "
                f"(x{ratio if ratio is not None else 'n/a'}). One server's limit: "
                f"{where_the_limit_is(one[0].steps, cpus)['verdict']}. {replicas} servers': "
                f"{where_the_limit_is(deployment.steps, cpus)['verdict']}."
            ),
            "release_p99_ratio": round(
                release_p99 / max(one[1]["main"]["release_ms"]["p99"], 0.001), 2
            ),
            "one": summary(1),
            "many": summary(replicas),
        },
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="drivethru bench e2e --replicas", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON (always)")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="short run, three ramp steps")
    parser.add_argument("--rate", type=float, default=100.0, help="arrivals/s across lanes")
    parser.add_argument("--lanes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--steps", type=str, default=None, help="ramp rates, e.g. 200,400")
    args = parser.parse_args(argv)
    steps = [float(s) for s in args.steps.split(",")] if args.steps else None
    print(json.dumps(run(args.replicas, args.quick, args.rate, args.lanes, args.seconds, steps)))


if __name__ == "__main__":
    main()
