"""The team's local page (127.0.0.1 only, stdlib http.server, no external assets).

``GET /`` the page, ``GET /state`` its JSON, ``POST /scan`` ``{"code": ...}`` checks a typed
code offline, ``POST /handover`` ``{"code_sha256", "id_checked", "position"?}`` records one.
The page only ever posts a typed code once; from then on it works with the code's hash.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from pydantic import ValidationError

from core.contract import GeoPoint
from edge_lane.mobile.device import TeamDevice
from edge_lane.mobile.errors import HandoverRefusedError
from edge_lane.mobile.page_html import PAGE
from edge_lane.mobile.view import device_view, verdict_view

log = logging.getLogger(__name__)
MAX_BODY = 16 * 1024


def page_view(device: TeamDevice) -> dict[str, Any]:
    scan = device.last_scan
    now = device.clock()
    return device_view(
        site=device.settings.site,
        team=device.settings.team,
        state=device.state,
        entries=device.journal_entries(),
        connected=device.link.connected,
        unsynced=device.outbox.depth(),
        last_sync=device.journal.last_sync(),
        today=now.astimezone().date(),
        last_scan=None if scan is None else (scan.at, scan.source, scan.verdict),
    )


class _Handler(BaseHTTPRequestHandler):
    device: ClassVar[TeamDevice]
    html: ClassVar[bytes]

    def do_GET(self) -> None:
        if self.path == "/state":
            self._json(200, page_view(self.device))
        elif self.path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", self.html)
        else:
            self._json(404, {"error": "tidak ada / not found"})

    def do_POST(self) -> None:
        body = self._body()
        if body is None:
            self._json(400, {"error": "JSON tidak sah / invalid JSON body"})
        elif self.path == "/scan":
            code = body.get("code")
            if not isinstance(code, str):
                self._json(400, {"error": "code wajib / code is required"})
                return
            self._json(200, verdict_view(self.device.check_code(code, "typed")))
        elif self.path == "/handover":
            self._hand_over(body)
        else:
            self._json(404, {"error": "tidak ada / not found"})

    def _hand_over(self, body: dict[str, Any]) -> None:
        code_sha256, id_checked = body.get("code_sha256"), body.get("id_checked")
        if not isinstance(code_sha256, str) or not isinstance(id_checked, bool):
            self._json(400, {"error": "code_sha256 dan id_checked wajib / are required"})
            return
        position = None
        if body.get("position") is not None:
            try:
                position = GeoPoint.model_validate(body["position"])
            except ValidationError:
                self._json(400, {"error": "posisi tidak sah / invalid position"})
                return
        try:
            handover = self.device.hand_over(code_sha256, id_checked=id_checked, position=position)
        except HandoverRefusedError as refused:
            self._json(409, {"error": refused.message})
            return
        self._json(
            200,
            {
                "handover_id": str(handover.id),
                "permit_id": handover.permit_id,
                "happened_at": handover.happened_at.isoformat(),
            },
        )

    def _body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        try:
            parsed = json.loads(self.rfile.read(length) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return parsed if isinstance(parsed, dict) else None

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False, default=_iso).encode()
        self._send(status, "application/json; charset=utf-8", body)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Never at info: a request line could carry what an officer typed.
        log.debug("page http: " + format, *args)


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


class TeamPage:
    """The page on 127.0.0.1:``port`` (0 picks a free port) in a daemon thread."""

    def __init__(self, device: TeamDevice, port: int) -> None:
        html = PAGE.encode()
        handler = type("TeamPageHandler", (_Handler,), {"device": device, "html": html})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="team-page", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        log.info("halaman tim / team page: http://127.0.0.1:%d/", self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
