"""The real server process for end-to-end tests: `python -m api serve` on a free port."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx

from tests.services import free_port

KEYS = {
    "officer": ("officer-key-0123456789abcdef", "officer", ()),
    "operator-1": ("operator-1-key-0123456789abcdef", "operator", ("1",)),
    "operator-1b": ("operator-1b-key-0123456789abcdef", "operator", ("1",)),
    "operator-2": ("operator-2-key-0123456789abcdef", "operator", ("2",)),
    "admin": ("admin-key-0123456789abcdef", "admin", ()),
    "device": ("device-key-0123456789abcdef", "device", ()),
}
NIK_KEY = "test-nik-key-0123456789abcdef"


def write_site_toml(path: Path, release_on: str = "code") -> None:
    lines = [
        'site = "badung"',
        f'release_on = "{release_on}"',
        'lanes = [{lane = "1", window = "1"}, {lane = "2", window = "2"}]',
    ]
    # Open every day round the clock but the minute before midnight: the pages say "open"
    # whatever time the tests run.
    lines += [
        "[opening_hours]",
        "days = {"
        + ", ".join(
            f'{day} = "00:00-23:59"' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        )
        + "}",
    ]
    for name, (key, role, lanes) in KEYS.items():
        digest = hashlib.sha256(key.encode()).hexdigest()
        lane_list = ", ".join(f'"{lane}"' for lane in lanes)
        lines += [
            "[[api_keys]]",
            f'name = "{name}"',
            f'role = "{role}"',
            f'sha256 = "{digest}"',
            f"lanes = [{lane_list}]",
        ]
    path.write_text("\n".join(lines) + "\n")


class ServerProcess:
    """Starts, kills and restarts the server with the same files and port."""

    def __init__(
        self,
        workdir: Path,
        broker_url: str | None,
        broker_password: str,
        protocol: str = "5",
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        """``env`` is added to the server's environment last (a PostgreSQL store, a replica's
        broker login)."""
        self.env = dict(env or {})
        self.protocol = protocol
        self.extra_args = extra_args
        self.workdir = workdir
        self.port = free_port()
        self.broker_url = broker_url
        self.broker_password = broker_password
        self.config = workdir / "site.toml"
        if not self.config.exists():
            write_site_toml(self.config)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_for_broker: bool = True) -> None:
        args = [
            sys.executable, "-m", "api", "serve", "--config", str(self.config),
            "--db", str(self.workdir / "events.db"),
            "--read-models", str(self.workdir / "read.db"),
            "--port", str(self.port),
        ]  # fmt: skip
        args += ["--broker", self.broker_url] if self.broker_url else ["--no-broker"]
        args += self.extra_args
        env = {
            **os.environ,
            "DRIVETHRU_NIK_KEY": NIK_KEY,
            "DRIVETHRU_BROKER_PASSWORD": self.broker_password,
            "DRIVETHRU_STORE": "sqlite",
            "DRIVETHRU_BROKER_PROTOCOL": self.protocol,
            **self.env,
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            self._wait_until_ready(wait_for_broker)
        except BaseException:
            self.kill()  # never leave a half-started server behind
            raise

    def _wait_until_ready(self, wait_for_broker: bool) -> None:
        if self.process is None:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    health = json.loads(answer.read())
                if not wait_for_broker or health["broker_connected"]:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {KEYS[who][0]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)
