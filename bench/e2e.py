"""`drivethru bench e2e`: arrival published -> release received at the lane, the whole system.

One run starts a broker (Mosquitto from the generated config with the contract's ACL, else
the embedded broker) and the real server process on SQLite files in a temporary directory,
seeds READY permits first, and drives N simulated lanes that behave like edges: each arrival
carries the SHA-256 of a seeded pickup code, is kept until its ack arrives and is
republished when unacked after a timeout. The anchor, the broker's own QoS 1 round trip at
the same rate and payload size, is measured in the same run; then the rate is stepped up
until the server no longer keeps up.

The parts: `bench.e2e_broker` (the broker and its logins), `bench.e2e_server` (seeding, the
server process, its CPU), `bench.e2e_load` (the lanes and the floor), `bench.e2e_summary`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.e2e_broker import SITE, Broker, start_broker
from bench.e2e_load import Lanes, broker_round_trip
from bench.e2e_server import cpu_seconds, peak_rss_mb, process_tree, seed, server_process
from bench.e2e_summary import summarise
from core.contract import Arrival, encode

P99_LIMIT_MS = 100.0
KEEP_UP = 0.95
FULL_STEPS = (200, 400, 600, 800, 1000, 1200, 1600)
QUICK_STEPS = (200, 400)


@dataclass
class Site:
    """The run's directory, keys and broker; the server is restarted for each ramp step."""

    workdir: Path
    broker: Broker
    nik_key: str
    lanes: int
    peak_rss_mb: float = 0.0
    seed_seconds: float = 0.0
    seeded: int = 0

    def seed(self, count: int) -> Iterator[str]:
        started = time.perf_counter()
        hashes = seed(self.workdir, self.nik_key, count)
        self.seed_seconds += time.perf_counter() - started
        self.seeded += count
        return iter(hashes)

    @contextlib.contextmanager
    def server(self) -> Iterator[list[int]]:
        with server_process(self.workdir, self.broker, self.nik_key, self.lanes) as process:
            time.sleep(0.5)  # the first manifests go out before measuring
            tree = process_tree(process.pid)
            try:
                yield tree
            finally:
                self.peak_rss_mb = max(self.peak_rss_mb, peak_rss_mb(tree))


def _phase(site: Site, lanes: Lanes, rate: float, seconds: float, drain: float) -> dict[str, Any]:
    """Seed one permit per arrival (so the READY set stays proportional to the load), start
    the server, drive the lanes, stop the server."""
    codes = site.seed(int(rate * seconds))
    with site.server() as tree:
        # Where the two cores go, process by process: the server, its MQTT link, the broker
        # and this load generator (with the embedded broker, when that is the one running).
        parts = {"server": tree[:1], "mqtt_link": tree[1:], "load_generator": [os.getpid()]}
        if site.broker.pid is not None:
            parts["broker"] = [site.broker.pid]
        before = {name: cpu_seconds(pids) for name, pids in parts.items()}
        result = summarise(lanes.run(codes, rate, seconds, drain), rate, seconds)
        used = {name: cpu_seconds(pids) - before[name] for name, pids in parts.items()}
    arrivals = max(1, result["arrivals"])
    cpu = used["server"] + used["mqtt_link"]
    result["server_cpu_ms_per_arrival"] = round(cpu * 1000 / arrivals, 3)
    result["cpu_ms_per_arrival"] = {name: round(t * 1000 / arrivals, 3) for name, t in used.items()}
    result["ok"] = bool(
        result["ack_loss"] == 0
        and result["releases_missing"] == 0
        and result["release_ms"]["p99"] < P99_LIMIT_MS
        and result["achieved_rate"] >= KEEP_UP * rate
    )
    return result


def run(
    quick: bool = False,
    rate: float = 100.0,
    lanes: int = 20,
    seconds: float | None = None,
    steps: Sequence[float] | None = None,
) -> dict[str, object]:
    """Measure the anchor, the run at ``rate`` and the stepped ramp; one JSON-able dict.

    ``steps`` are the ramp's rates above ``rate`` (default: up to 1600/s, quick: 400/s);
    ``()`` skips the ramp. When ``rate`` itself fails, the ramp steps down instead (rate/2,
    rate/4) so that the report still says which load the server sustains.
    """
    duration = seconds if seconds is not None else (5.0 if quick else 20.0)
    step_seconds = min(duration, 2.0 if quick else 3.0)
    ramp_up = list(steps if steps is not None else QUICK_STEPS if quick else FULL_STEPS)
    workdir = Path(tempfile.mkdtemp(prefix="drivethru-bench-e2e-"))
    started = time.perf_counter()
    try:
        broker = start_broker(lanes)
        try:
            site = Site(workdir, broker, secrets.token_hex(16), lanes)
            lanes_ = Lanes(broker, lanes)
            try:
                size = len(encode(Arrival(site=SITE, lane="1", visit=uuid.uuid4(),
                                          code_sha256="0" * 64)))  # fmt: skip
                floor = broker_round_trip(broker, rate, duration, size)
                main = _phase(site, lanes_, rate, duration, 15.0)
                ladder = [r for r in ramp_up if r > rate]
                if not main["ok"] and ramp_up:
                    ladder = [rate / 2, rate / 4]
                ramp = [main]
                for step in ladder:
                    ramp.append(_phase(site, lanes_, step, step_seconds, 10.0))
                    if ramp[-1]["ok"] != main["ok"]:
                        break  # up: the first failure; down: the first success
            finally:
                lanes_.close()
        finally:
            broker.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sustained = max((s["rate"] for s in ramp if s["ok"]), default=0.0)
    release_p99 = main["release_ms"]["p99"]
    return {
        "benchmark": "e2e", "quick": quick, "broker": broker.kind,
        "mqtt_protocol": broker.protocol, "cpus": os.cpu_count(), "lanes": lanes, "rate": rate,
        "seconds": duration, "seeded_permits": site.seeded,
        "seed_seconds": round(site.seed_seconds, 1),
        **{k: main[k] for k in ("arrivals", "acks", "releases", "see_operator", "republished")},
        "release_ms": main["release_ms"], "ack_ms": main["ack_ms"],
        "broker_round_trip_ms": floor,
        "release_p99_over_broker_p99": round(release_p99 / max(floor["p99"], 0.001), 1),
        "ack_loss": main["ack_loss"], "releases_missing": main["releases_missing"],
        "published_rate": main["published_rate"], "achieved_rate": main["achieved_rate"],
        "max_sustained_rate": sustained, "steps": ramp,
        "server_cpu_ms_per_arrival": main["server_cpu_ms_per_arrival"],
        "cpu_ms_per_arrival": main["cpu_ms_per_arrival"],
        "server_peak_rss_mb": site.peak_rss_mb,
        "total_seconds": round(time.perf_counter() - started, 1),
        "targets": {
            "p99_le_25ms_at_100_per_s": rate >= 100 and release_p99 <= 25.0,
            "sustained_ge_1000_per_s": sustained >= 1000,
            "ack_loss_zero": all(s["ack_loss"] == 0 for s in ramp if s["ok"] or s is main),
        },
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="drivethru bench e2e", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON (always)")
    parser.add_argument("--quick", action="store_true", help="short run, two ramp steps")
    parser.add_argument("--rate", type=float, default=100.0, help="arrivals/s across lanes")
    parser.add_argument("--lanes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.quick, args.rate, args.lanes, args.seconds)))


if __name__ == "__main__":
    main()
