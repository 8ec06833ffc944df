"""Real servers for the integration tests: PostgreSQL, Mosquitto and the embedded broker.

Each server runs on 127.0.0.1 on a free port in its own temporary directory and is always
stopped: a bounded wait after a polite signal, then SIGKILL. `require_service` turns a missing
binary into a skip with a reason, or into a failure when DRIVETHRU_REQUIRE_SERVICES=1 (CI).
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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import psycopg
import pytest
from psycopg import sql

from core.broker_acl import SiteAccess, site_access
from core.contract import Topics
from edge_lane.broker import EmbeddedBroker, free_port
from edge_lane.local_mosquitto import (
    LOOPBACK,
    START_TIMEOUT,
    BrokerStartError,
    LocalMosquitto,
    log_tail,
    mosquitto_binary,
    stop_process,
    wait_for_port,
)

__all__ = [
    "BrokerEndpoint",
    "EmbeddedBroker",
    "MosquittoServer",
    "PostgresServer",
    "ServiceError",
    "drivethru_acl",
    "free_port",
    "require_service",
]

REQUIRE_SERVICES_ENV = "DRIVETHRU_REQUIRE_SERVICES"
# One place starts local processes of the services: the product's, shared with the benches.
_log_tail = log_tail
_stop_process = stop_process
_wait_for_port = wait_for_port


class ServiceError(BrokerStartError):
    """A test service could not be started; carries the tail of its log."""


@dataclass(frozen=True)
class BrokerEndpoint:
    """Where a test broker listens and who may log in, whichever broker it is."""

    kind: Literal["mosquitto", "embedded"]
    host: str
    port: int
    users: Mapping[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        """The listener as an mqtt:// URL."""
        return f"mqtt://{self.host}:{self.port}"


def _is_root() -> bool:
    return os.geteuid() == 0


def postgres_bin_dir() -> Path | None:
    """The directory holding initdb and postgres: the highest Debian version, else PATH."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))

    debian = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if (d / "initdb").exists()]
    if debian:
        return max(debian, key=version)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _service_available(name: str) -> bool:
    if name == "postgres":
        return postgres_bin_dir() is not None
    if name == "mosquitto":
        return mosquitto_binary() is not None and shutil.which("mosquitto_passwd") is not None
    return shutil.which(name) is not None


def require_service(name: str, reason: str) -> None:
    """Skip the test when service `name` is missing, or fail when CI requires services.

    `name` is "postgres", "mosquitto" or the name of any binary on PATH (e.g. "openssl").
    """
    if _service_available(name):
        return
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV}=1 requires it)", pytrace=False)
    pytest.skip(reason)


def _run(args: Sequence[str | Path], *, user: str | None = None, cwd: Path | None = None) -> None:
    """Run a setup command, raising ServiceError with its output when it fails."""
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        timeout=60,
        check=False,
        user=user,
        extra_groups=[] if user else None,
        cwd=cwd,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")
        raise ServiceError(f"{Path(str(args[0])).name} failed ({result.returncode}): {output}")


class PostgresServer:
    """A throwaway PostgreSQL cluster on loopback, run as the `postgres` user when we are root."""

    user = "postgres"

    def __init__(self, password: str = "drivethru-test-secret") -> None:
        self.host = LOOPBACK
        self.port = 0
        self.password = password
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        # PostgreSQL refuses to run as root, so root runs it as the postgres system user.
        self._run_as = "postgres" if _is_root() else None

    @property
    def directory(self) -> Path:
        """The temporary directory holding the cluster, its socket and its log."""
        if self._dir is None:
            raise ServiceError("PostgreSQL is not started")
        return self._dir

    def start(self) -> None:
        """Create a cluster in a fresh temporary directory and wait until it accepts logins."""
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise ServiceError("PostgreSQL binaries (initdb, postgres) not found")
        self._dir = Path(tempfile.mkdtemp(prefix="drivethru-pg-"))
        try:
            self._start(bin_dir, self._dir)
        except BaseException:
            self.stop()
            raise

    def _start(self, bin_dir: Path, directory: Path) -> None:
        data, sockets, log = directory / "data", directory / "sockets", directory / "postgres.log"
        sockets.mkdir()
        password_file = directory / "password"
        password_file.write_text(self.password + "\n")
        if self._run_as:
            owner = pwd.getpwnam(self._run_as)
            for path in (directory, sockets, password_file):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        _run(
            [
                bin_dir / "initdb",
                "-D",
                data,
                "-U",
                self.user,
                "--pwfile",
                password_file,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            user=self._run_as,
            cwd=directory,
        )
        password_file.unlink()
        # Sockets only on loopback and in our directory; passwords over TCP so that a
        # test passing the wrong one fails as it would in production.
        (data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        self.port = free_port()
        with log.open("wb") as log_file:
            self._process = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-c",
                    f"listen_addresses={LOOPBACK}",
                    "-c",
                    f"port={self.port}",
                    "-c",
                    f"unix_socket_directories={sockets}",
                    # Durability is not under test here; speed is welcome.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=self._run_as,
                extra_groups=[] if self._run_as else None,
                cwd=directory,
                start_new_session=True,
            )
        self._wait_until_ready(log)

    def _wait_until_ready(self, log: Path) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServiceError(
                    f"postgres exited with {self._process.returncode}:\n{_log_tail(log)}"
                )
            try:
                with self.connect():
                    return
            except psycopg.OperationalError as error:
                last_error = error
                time.sleep(0.1)
        raise ServiceError(f"postgres not ready: {last_error}\n{_log_tail(log)}")

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection as the superuser."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname,
            connect_timeout=2,
            autocommit=True,
        )

    def create_database(self, name: str) -> str:
        """Create an empty database and return its name."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"database name must be a lower-case identifier, got {name!r}")
        with self.connect() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def eventsourcing_env(self, dbname: str) -> dict[str, str]:
        """The environment for eventsourcing's PostgreSQL persistence on database `dbname`."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_CONNECT_TIMEOUT": "5",
        }

    def stop(self) -> None:
        """Stop the server at once (like `pg_ctl stop -m immediate`) and remove its directory."""
        if self._process is not None:
            # SIGQUIT is PostgreSQL's immediate shutdown, what `pg_ctl -m immediate` sends.
            _stop_process(self._process, signal.SIGQUIT)
            self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def drivethru_acl(
    site: str,
    lanes: Sequence[str],
    teams: Sequence[str],
    servers: Sequence[str] = ("server", "server-2"),
) -> SiteAccess:
    """The contract's ACL for one site's server replicas, lanes and teams (core.broker_acl)."""
    return site_access(Topics(site), lanes, teams, servers)


def _make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1/localhost; returns (ca, cert, key)."""
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    extensions = directory / "server.ext"
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    ca_extensions = (
        *("-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
    )
    ca_files: list[str | Path] = ["-keyout", ca_key, "-out", ca_cert, "-days", "2"]
    _run(["openssl", "req", "-x509", *ec, *ca_files, "-subj", "/CN=test CA", *ca_extensions])
    _run(["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"])
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        "subjectKeyIdentifier=hash\n"
    )
    signing: list[str | Path] = ["-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial"]
    output: list[str | Path] = ["-out", cert, "-days", "2", "-extfile", extensions]
    _run(["openssl", "x509", "-req", "-in", csr, *signing, *output])
    return ca_cert, cert, key


class MosquittoServer(LocalMosquitto):
    """`edge_lane.local_mosquitto.LocalMosquitto`, optionally with a TLS listener from a test
    CA (``ca_file``, on ``tls_port``) beside the plain one."""

    def __init__(
        self,
        users: Mapping[str, str],
        acl: SiteAccess,
        *,
        tls: bool = False,
        bind_client_ids: bool = True,
    ) -> None:
        super().__init__(users, acl, bind_client_ids=bind_client_ids)
        self.tls = tls
        self.tls_port: int | None = None
        self.ca_file: Path | None = None

    def listeners(self) -> tuple[int, ...]:
        return (self.port,) if self.tls_port is None else (self.port, self.tls_port)

    def write_files(self, directory: Path, extra_lines: Sequence[str] = ()) -> None:
        tls: list[str] = []
        if self.tls:
            self.ca_file, cert, key = _make_certificates(directory)
            self.tls_port = free_port()
            tls = [
                f"listener {self.tls_port} {self.host}",
                f"cafile {self.ca_file}",
                f"certfile {cert}",
                f"keyfile {key}",
            ]
        super().write_files(directory, [*extra_lines, *tls])


@contextlib.contextmanager
def running_postgres(password: str = "drivethru-test-secret") -> Iterator[PostgresServer]:
    """A started PostgresServer, stopped and removed on exit."""
    with PostgresServer(password) as server:
        yield server


@contextlib.contextmanager
def running_mosquitto(
    users: Mapping[str, str], acl: SiteAccess, *, tls: bool = False, bind_client_ids: bool = True
) -> Iterator[MosquittoServer]:
    """A started MosquittoServer, stopped and removed on exit."""
    with MosquittoServer(users, acl, tls=tls, bind_client_ids=bind_client_ids) as server:
        yield server


@contextlib.contextmanager
def running_embedded_broker(
    users: Mapping[str, str], access: SiteAccess | None = None
) -> Iterator[EmbeddedBroker]:
    """A started EmbeddedBroker on a free loopback port, `access` its ACL; stopped on exit."""
    broker = EmbeddedBroker(users, host=LOOPBACK, port=free_port(), access=access)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
