"""The e2e bench's server: seeded permits, the real `drivethru serve`, its CPU and memory."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pydantic import SecretStr

from bench.e2e_broker import HOST, SITE, Broker
from core.broker_acl import SERVER_USER
from edge_lane.broker import free_port


def wait_until(
    ready: Callable[[], bool], seconds: float, process: subprocess.Popen[bytes], name: str
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        if ready():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not start in {seconds} s")


def terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def seed(workdir: Path, nik_key: str, count: int) -> list[str]:
    """READY permits made on a store; returns the SHA-256 of each pickup code.

    Seeding on tmpfs and copying the file to the run's disk directory avoids one fsync per
    command (~3 ms here) while the server still runs on a real disk.
    """
    from bench.seed import seed_on_store
    from core.service import PermitService
    from core.settings import ServiceSettings, StoreSettings

    shm = Path("/dev/shm")
    scratch = Path(tempfile.mkdtemp(prefix="drivethru-seed-", dir=shm if shm.is_dir() else None))
    try:
        if (workdir / "events.db").exists():  # more permits for the next step, same store
            _copy(workdir / "events.db", scratch / "events.db")
        store = StoreSettings(backend="sqlite", sqlite_path=scratch / "events.db")
        service = PermitService(ServiceSettings(store=store, nik_key=SecretStr(nik_key)))
        try:
            codes = [p.code for p in seed_on_store(service, SITE, count)]
        finally:
            service.close()
        _copy(scratch / "events.db", workdir / "events.db")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [hashlib.sha256(code.encode()).hexdigest() for code in codes]


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup: consistent whatever is left in the source's WAL."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def write_site_toml(path: Path, lanes: int) -> None:
    lane_list = ", ".join(f'{{lane = "{n}", window = "{n}"}}' for n in range(1, lanes + 1))
    path.write_text(f'site = "{SITE}"\nrelease_on = "code"\nlanes = [{lane_list}]\n')


@contextlib.contextmanager
def server_process(
    workdir: Path, broker: Broker, nik_key: str, lanes: int
) -> Iterator[subprocess.Popen[bytes]]:
    """`drivethru serve` on a free port, until the bridge is connected; stopped on exit."""
    write_site_toml(workdir / "site.toml", lanes)
    port = free_port()
    args = [
        sys.executable, "-m", "api", "serve", "--config", str(workdir / "site.toml"),
        "--db", str(workdir / "events.db"), "--read-models", str(workdir / "read.db"),
        "--port", str(port), "--broker", f"mqtt://{HOST}:{broker.port}",
    ]  # fmt: skip
    env = {
        **os.environ, "DRIVETHRU_NIK_KEY": nik_key, "DRIVETHRU_STORE": "sqlite",
        "DRIVETHRU_BROKER_PASSWORD": broker.users[SERVER_USER],
        "DRIVETHRU_BROKER_PROTOCOL": broker.protocol,
    }  # fmt: skip
    log = (workdir / "server.log").open("ab")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)

    try:
        try:
            wait_until(functools.partial(server_ready, port), 60, process, "the server")
        except (RuntimeError, TimeoutError) as error:
            tail = (workdir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{error}:\n{tail}") from None
        yield process
    finally:
        terminate(process)
        log.close()


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (the 3rd field is index 0)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its children: the server and its MQTT link process (api/mqtt_child.py)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(_stat(int(entry.name))[1]) == pid:
                    children.append(int(entry.name))
    return [pid, *children]


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of the processes, from /proc."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat(pid)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pids: Sequence[int]) -> float:
    """The processes' peak resident sizes, added up."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def server_ready(port: int) -> bool:
    """The server on ``port`` is connected to the broker and has loaded the waiting permits,
    as after any start (api/runtime.py)."""
    with (
        contextlib.suppress(OSError, ValueError),
        urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as answer,
    ):
        health = json.loads(answer.read())
        return bool(health.get("broker_connected") and health.get("warm"))
    return False
