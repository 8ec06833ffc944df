"""The lane display: what to hand over at which window, in the log and on a local web page.

The page is served by the edge itself with the standard library (127.0.0.1 only), full
screen, big text readable from a car, Bahasa Indonesia first and English below. A tiny inline
script polls ``/state`` (JSON); there are no external assets.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from uuid import UUID

from core.contract import Release
from core.plates import display_plate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DisplayState:
    """What the lane display shows now; ``seq`` grows with every change."""

    seq: int
    headline: str
    detail_id: str
    detail_en: str
    see_operator: bool
    visit: str | None


IDLE = DisplayState(0, "", "Selamat datang", "Welcome", False, None)


def describe_release(release: Release) -> DisplayState:
    """The display text for a release: plate, window, number of permits, or see the operator."""
    plate = display_plate(release.plate) if release.plate else ""
    if release.see_operator or not release.permits:
        return DisplayState(
            0, plate, "Silakan ke petugas", "Please see the operator", True, str(release.visit)
        )
    count = len(release.permits)
    return DisplayState(
        0,
        plate,
        f"Jendela {release.window} — {count} izin",
        f"Window {release.window} — {count} permit{'s' if count != 1 else ''}",
        False,
        str(release.visit),
    )


class LaneDisplay:
    """The current display state, shared between the MQTT thread and the web page."""

    # Visits whose car has left, remembered so that a release sent again after the car left
    # (the server answers an arrival sent again with its first release) is not shown.
    ENDED_KEPT = 64

    def __init__(self, lane: str) -> None:
        self.lane = lane
        self._lock = threading.Lock()
        self._state = IDLE
        self._ended: deque[str] = deque(maxlen=self.ENDED_KEPT)

    @property
    def state(self) -> DisplayState:
        with self._lock:
            return self._state

    def show_release(self, release: Release) -> DisplayState:
        """Show a release and log it as one line."""
        state = describe_release(release)
        with self._lock:
            if state.visit in self._ended:
                log.info("rilis kunjungan selesai / release of an ended visit: %s", state.visit)
                return self._state
            self._state = state = _with_seq(state, self._state.seq + 1)
        parts = [p for p in (state.headline, state.detail_id) if p]
        log.info("LAYAR / DISPLAY: %s (%s)", " — ".join(parts), state.detail_en)
        return state

    def visit_ended(self, visit: UUID) -> None:
        """Back to the welcome text once the car the display was for has left."""
        with self._lock:
            self._ended.append(str(visit))
            if self._state.visit == str(visit):
                self._state = _with_seq(IDLE, self._state.seq + 1)


def _with_seq(state: DisplayState, seq: int) -> DisplayState:
    return DisplayState(
        seq, state.headline, state.detail_id, state.detail_en, state.see_operator, state.visit
    )


_PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>Jalur {lane} / Lane {lane}</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
html,body{{margin:0;height:100%;background:#000;color:#fff;font-family:sans-serif}}
main{{display:flex;flex-direction:column;justify-content:center;align-items:center;
height:100%;text-align:center}}
#plate{{font-size:14vw;font-weight:bold;letter-spacing:.05em}}
#id{{font-size:8vw}} #en{{font-size:4.5vw;color:#bbb;margin-top:2vh}}
.op{{background:#8a1c00}} footer{{position:fixed;bottom:1vh;width:100%;text-align:center;
color:#666;font-size:2vw}}
</style></head>
<body><main><div id="plate"></div><div id="id">Selamat datang</div>
<div id="en">Welcome</div></main><footer>Jalur / Lane {lane}</footer>
<script>
let seq=-1;
async function tick(){{try{{const r=await fetch('/state',{{cache:'no-store'}});
const s=await r.json();if(s.seq!==seq){{seq=s.seq;
document.getElementById('plate').textContent=s.headline;
document.getElementById('id').textContent=s.detail_id;
document.getElementById('en').textContent=s.detail_en;
document.body.className=s.see_operator?'op':'';}}}}catch(e){{}}}}
tick();setInterval(tick,1000);
</script></body></html>
"""


def _no_metrics() -> str:
    return ""


class _Handler(BaseHTTPRequestHandler):
    display: ClassVar[LaneDisplay]
    metrics: ClassVar[Callable[[], str]] = staticmethod(_no_metrics)

    def do_GET(self) -> None:
        if self.path == "/metrics":
            body = type(self).metrics().encode()
            self._send(200, "text/plain; version=0.0.4; charset=utf-8", body)
        elif self.path == "/state":
            body = json.dumps(asdict(self.display.state), ensure_ascii=False).encode()
            self._send(200, "application/json; charset=utf-8", body)
        elif self.path in ("/", "/index.html"):
            self._send(
                200, "text/html; charset=utf-8", _PAGE.format(lane=self.display.lane).encode()
            )
        else:
            self._send(404, "text/plain; charset=utf-8", b"tidak ada / not found")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("display http: " + format, *args)


class DisplayServer:
    """The display page on 127.0.0.1:``port`` (0 picks a free port) in a daemon thread."""

    def __init__(self, display: LaneDisplay, port: int) -> None:
        self._handler: type[_Handler] = type(
            "LaneDisplayHandler", (_Handler,), {"display": display}
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="lane-display", daemon=True
        )

    def serve_metrics(self, render: Callable[[], str]) -> None:
        """Answer ``/metrics`` with ``render()`` (Prometheus text), called per request."""
        self._handler.metrics = staticmethod(render)

    def start(self) -> None:
        self._thread.start()
        log.info("layar jalur / lane display: http://127.0.0.1:%d/", self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
