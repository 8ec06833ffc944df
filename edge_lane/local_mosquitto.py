"""A Mosquitto broker on this machine, from the config `drivethru broker config` writes.

The one place that starts local Mosquitto processes: the tests, the benchmarks and a
one-box site all run the same generated config, ACL and password file
(`edge_lane.mosquitto`), so the ACL they exercise is the one users get.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from core.broker_acl import SiteAccess
from edge_lane.broker import free_port
from edge_lane.mosquitto import write_mosquitto_files

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class BrokerStartError(RuntimeError):
    """A local broker did not start; carries the tail of its log."""


def mosquitto_binary() -> Path | None:
    """The mosquitto broker binary: Debian puts it in /usr/sbin, which is not always on PATH."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal a process (and its process group), wait a bounded time, then SIGKILL it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)
    # Children left behind by a killed parent go with their group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_for_port(
    host: str, port: int, process: subprocess.Popen[bytes], log: Path, deadline: float
) -> None:
    """Return once ``host:port`` accepts a connection; `BrokerStartError` if ``process``
    exits or ``deadline`` (monotonic) passes first."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerStartError(f"exited with {process.returncode}:\n{log_tail(log)}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerStartError(f"not listening on {host}:{port} in time:\n{log_tail(log)}")


class LocalMosquitto:
    """Mosquitto on a free loopback port, in a directory of its own.

    `stop()` and `kill()` keep the directory so that `start()` / `restart()` resume with the
    same port, sessions and queued messages; `close()` (or leaving the `with`) removes it.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        acl: SiteAccess,
        *,
        bind_client_ids: bool = True,
        extra_lines: Sequence[str] = (),
    ) -> None:
        self.host = LOOPBACK
        self.users = dict(users)
        self.acl = acl
        self.bind_client_ids = bind_client_ids
        self.extra_lines = tuple(extra_lines)
        self.port = 0
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The plain listener as an mqtt:// URL."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def directory(self) -> Path:
        """The directory holding config, passwords, ACL, persistence and log."""
        if self._dir is None:
            raise BrokerStartError("Mosquitto is not started")
        return self._dir

    @property
    def log(self) -> Path:
        return self.directory / "mosquitto.log"

    def listeners(self) -> tuple[int, ...]:
        """The ports `start` waits for."""
        return (self.port,)

    def start(self) -> None:
        """Start the broker (writing its files on the first start) and wait until it listens."""
        if self._process is not None and self._process.poll() is None:
            raise BrokerStartError("Mosquitto is already running")
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerStartError("mosquitto binary not found (apt-get install mosquitto)")
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="drivethru-mosquitto-"))
            try:
                self.write_files(self._dir)
            except BaseException:
                self.close()
                raise
        with self.log.open("ab") as log_file:
            self._process = subprocess.Popen(
                [str(binary), "-c", str(self._dir / "mosquitto.conf")],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        try:
            for port in self.listeners():
                wait_for_port(self.host, port, self._process, self.log, deadline)
        except BaseException:
            self.stop()
            raise

    def write_files(self, directory: Path, extra_lines: Sequence[str] = ()) -> None:
        """The generated config, ACL and passwords, logging to stdout (the log file)."""
        self.port = free_port()
        lines = [
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_timestamp_format %H:%M:%S",
            *self.extra_lines,
            *extra_lines,
        ]
        if os.geteuid() == 0:
            # Mosquitto drops root to the `mosquitto` user, which could not read our 0600
            # files; staying root inside a throwaway directory is the simpler choice.
            lines.append("user root")
        write_mosquitto_files(
            directory,
            self.acl,
            self.users,
            host=self.host,
            port=self.port,
            bind_client_ids=self.bind_client_ids,
            extra_lines=lines,
        )

    def stop(self) -> None:
        """SIGTERM (Mosquitto saves its persistence file), a bounded wait, then SIGKILL."""
        if self._process is not None:
            stop_process(self._process, signal.SIGTERM)
            self._process = None

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would: nothing is saved since the last autosave."""
        if self._process is not None:
            stop_process(self._process, signal.SIGKILL)
            self._process = None

    def restart(self) -> None:
        """Stop and start again on the same ports with the same persistence."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the broker and remove its directory."""
        self.stop()
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
        self.close()
