"""The embedded MQTT broker (amqtt) for the demo and for machines without Mosquitto.

Known amqtt 0.12 faults the clients must live with (see docs/services.md):
- with anonymous access it never queues QoS 1 messages for offline sessions, so this broker
  always requires a username and password;
- it sends retained messages to clients whose subscriptions do not match, and it sets the
  retain flag on messages queued for an offline session, so clients route by topic on receipt
  and do not read meaning into the retain flag;
- it speaks MQTT 3.1.1 only.
Given a `SiteAccess`, it enforces the contract's ACL (core.broker_acl) for publish, subscribe
and delivery, the same table the generated Mosquitto ACL file holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from core.broker_acl import SiteAccess

logger = logging.getLogger(__name__)

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


class BrokerError(RuntimeError):
    """The embedded broker could not start or stop, or was asked to run unsafely."""


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def check_bind(host: str, *, allow_remote: bool) -> None:
    """Refuse an address beyond loopback unless the operator said so (no TLS here)."""
    if host in LOOPBACK_HOSTS or allow_remote:
        return
    raise BrokerError(
        f"Broker bawaan hanya untuk mesin ini; {host!r} bisa dijangkau dari jaringan tanpa TLS. "
        "Pakai Mosquitto (`drivethru broker config`) atau tambahkan --allow-remote. / "
        f"The embedded broker is for this machine only; {host!r} is reachable from the network "
        "without TLS. Use Mosquitto (`drivethru broker config`) or pass --allow-remote."
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class PasswordAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """amqtt authentication against an in-memory username -> password map."""

    @dataclass
    class Config:
        """The users allowed to connect."""

        users: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool | None:
        """Accept a session whose username is known and whose password matches."""
        users: dict[str, str] = self.config.users
        expected = users.get(session.username or "")
        if expected is None:
            return False
        given = (session.password or "").encode()
        return hmac.compare_digest(given, expected.encode())


class ContractAclPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """amqtt topic checks from the contract's ACL: one `DeviceAccess` per user.

    amqtt's own `TopicAccessControlListPlugin` takes per-user topic lists too, but with its
    own matching; this one asks core's table, so both brokers decide alike. A user the site
    does not know may do nothing.
    """

    @dataclass
    class Config:
        """The site's ACL."""

        access: Any = None

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:
        """Whether `session`'s user may do `action` on `topic`."""
        access: SiteAccess = self.config.access
        device = access.of(session.username or "") if session is not None else None
        if device is None or not topic:
            return False
        if action == Action.PUBLISH:
            return device.may_publish(topic)
        if action == Action.SUBSCRIBE:
            return device.may_subscribe(topic)
        if action == Action.RECEIVE:
            return device.may_read(topic)
        return False


def broker_config(
    host: str,
    port: int,
    users: Mapping[str, str] | None = None,
    password_file: Path | None = None,
    access: SiteAccess | None = None,
) -> dict[str, Any]:
    """The amqtt 0.12 configuration: one TCP listener, authenticated sessions only.

    `users` maps usernames to passwords; `password_file` is amqtt's own format
    (`user:argon2-or-bcrypt-hash` lines). At least one of them is required. With `access`,
    every publish, subscribe and delivery is checked against that ACL.
    """
    plugins: dict[str, Any] = {}
    if access is not None:
        plugins[f"{__name__}.ContractAclPlugin"] = {"access": access}
    if users:
        plugins[f"{__name__}.PasswordAuthPlugin"] = {"users": dict(users)}
    if password_file is not None:
        plugins["amqtt.plugins.authentication.FileAuthPlugin"] = {
            "password_file": str(password_file)
        }
    if not plugins:
        # Anonymous sessions get no offline queue in amqtt: refuse to run that way.
        raise BrokerError("the embedded broker needs users or a password file")
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        # Sessions of persistent clients are kept until they come back.
        "session_expiry_interval": None,
        "plugins": plugins,
    }


class EmbeddedBroker:
    """An amqtt broker on one TCP listener; `start()`/`stop()` run it on a background thread."""

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        password_file: Path | None = None,
        access: SiteAccess | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.users: dict[str, str] = dict(users or {})
        self._config = broker_config(host, self.port, self.users, password_file, access)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The listener as an mqtt:// URL."""
        return f"mqtt://{self.host}:{self.port}"

    async def serve_forever(self) -> None:
        """Serve on the running event loop until cancelled or `stop()` is called."""
        await self._serve(started=None)

    async def _serve(self, started: threading.Event | None) -> None:
        broker = Broker(self._config, loop=asyncio.get_running_loop())
        self._stopped = asyncio.Event()
        await broker.start()  # returns once the listener is bound
        logger.info("embedded MQTT broker listening on %s", self.url)
        if started is not None:
            started.set()
        try:
            await self._stopped.wait()
        finally:
            await broker.shutdown()
            logger.info("embedded MQTT broker on %s stopped", self.url)

    def start(self) -> None:
        """Start serving on a background thread; returns once the listener is up."""
        if self._thread is not None:
            raise BrokerError("the embedded broker is already running")
        started = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(started))
            except BaseException as error:
                failure.append(error)
            finally:
                started.set()
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=main, name="embedded-mqtt-broker", daemon=True)
        self._thread.start()
        if not started.wait(_START_TIMEOUT) or failure or not self._thread.is_alive():
            self.stop()
            raise BrokerError(f"the embedded broker did not start on {self.url}") from (
                failure[0] if failure else None
            )

    def stop(self) -> None:
        """Shut the broker down and join its thread (bounded wait)."""
        loop, thread, stopped = self._loop, self._thread, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if thread is not None:
            thread.join(_STOP_TIMEOUT)
            if thread.is_alive():
                raise BrokerError("the embedded broker did not stop in time")
        self._loop = self._thread = self._stopped = None

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


def run_broker(host: str, port: int, users: dict[str, str], access: SiteAccess) -> None:
    """Run the embedded broker in the foreground until Ctrl-C, enforcing `access`."""
    broker = EmbeddedBroker(users, host, port, access=access)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(broker.serve_forever())
