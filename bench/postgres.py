"""A throwaway PostgreSQL cluster for the benchmarks: loopback, a temporary directory.

PostgreSQL refuses to run as root, so root runs it as the ``postgres`` system user. The
cluster keeps PostgreSQL's default durability (fsync, synchronous commit), as a site would:
a benchmark of several servers on one store measures the store's commits too. Logins on
loopback are trusted: nothing but this machine's benchmark reaches the port.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from edge_lane.broker import free_port

HOST = "127.0.0.1"
USER = "postgres"


def bin_dir() -> Path | None:
    """The directory of initdb and postgres: the highest Debian version, else PATH."""
    debian = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if (d / "initdb").exists()]
    if debian:
        return max(debian, key=lambda d: tuple(int(n) for n in re.findall(r"\d+", d.parent.name)))
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class BenchPostgres:
    """Start with `start()`, always `stop()`; `create_database` makes an empty store."""

    def __init__(self) -> None:
        self.port = 0
        self.directory: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._run_as = USER if os.geteuid() == 0 else None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        binaries = bin_dir()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package postgresql)")
        self.directory = directory = Path(tempfile.mkdtemp(prefix="drivethru-bench-pg-"))
        data, sockets = directory / "data", directory / "sockets"
        sockets.mkdir()
        if self._run_as:
            owner = pwd.getpwnam(self._run_as)
            for path in (directory, sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run([binaries / "initdb", "-D", data, "-U", USER, "--auth=trust", "--no-sync"])
        self.port = free_port()
        with (directory / "postgres.log").open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(binaries / "postgres"), "-D", str(data),
                    "-c", f"listen_addresses={HOST}", "-c", f"port={self.port}",
                    "-c", f"unix_socket_directories={sockets}", "-c", "max_connections=200",
                ],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                user=self._run_as, extra_groups=[] if self._run_as else None, cwd=directory,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}")
            try:
                with self.connect():
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _run(self, args: list[str | Path]) -> None:
        subprocess.run(
            [str(a) for a in args], check=True, capture_output=True, timeout=120,
            user=self._run_as, extra_groups=[] if self._run_as else None, cwd=self.directory,
        )  # fmt: skip

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=HOST, port=self.port, user=USER, dbname=dbname, connect_timeout=2,
            autocommit=True,
        )  # fmt: skip

    def create_database(self, name: str) -> str:
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def environment(self, dbname: str) -> dict[str, str]:
        """`drivethru serve`'s store settings (`StoreSettings.from_environ`)."""
        return {
            "DRIVETHRU_STORE": "postgres",
            "DRIVETHRU_PG_HOST": HOST,
            "DRIVETHRU_PG_PORT": str(self.port),
            "DRIVETHRU_PG_DBNAME": dbname,
            "DRIVETHRU_PG_USER": USER,
        }

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
