"""Real receivers for the notifier's tests: an HTTP webhook receiver and an SMTP server."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.services import free_port


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    status: int

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class WebhookReceiver:
    """Answers each POST with the next status of ``statuses`` (then 200 for ever).

    ``hold`` makes the receiver wait before answering (``release`` lets it go): a test kills
    the sender while a request is held.
    """

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    hold_after: int | None = None
    """Hold the request after this many have been answered."""
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        receiver = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    answered = len(receiver.received)
                    hold = receiver.hold_after is not None and answered >= receiver.hold_after
                    if hold:
                        receiver.hold_after = None
                if hold:
                    receiver.held.set()
                    receiver.release.wait(30)
                    # The sender was killed meanwhile: this answer reaches nobody.
                    self.close_connection = True
                    return
                with lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append(Received(body, dict(self.headers), status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/drivethru"

    def acked(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        self.messages.append(message_from_bytes(raw))
        return "250 OK"


class SmtpServer:
    """aiosmtpd on a free loopback port, keeping what it is sent.

    With ``tls`` (certificate, key) it offers STARTTLS and refuses mail before it.
    """

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        context = None
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, tls_context=context,
            require_starttls=context is not None,
        )  # fmt: skip
        self.controller.start()

    @property
    def messages(self) -> list[Message]:
        return self.inbox.messages

    def stop(self) -> None:
        self.controller.stop()


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")
