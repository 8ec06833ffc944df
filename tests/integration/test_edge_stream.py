"""A camera stream that drops is reopened and reported, never a crash (a real MJPEG server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from edge_lane.sources import Frame, LiveSource

pytestmark = pytest.mark.timeout(60)


class MjpegCamera:
    """An IP camera on 127.0.0.1 serving multipart JPEG, which can be unplugged and back."""

    def __init__(self) -> None:
        ok, jpeg = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))
        assert ok
        self.jpeg = jpeg.tobytes()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None

    def plug_in(self) -> None:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while camera.server is not None:
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                            + str(len(camera.jpeg)).encode() + b"\r\n\r\n" + camera.jpeg + b"\r\n"
                        )  # fmt: skip
                        time.sleep(0.02)
                except OSError:
                    return

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def unplug(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def take(frames: Iterator[Frame], count: int) -> list[Frame]:
    return [next(frames) for _ in range(count)]


def test_a_dropped_stream_is_reopened_and_reported() -> None:
    camera = MjpegCamera()
    camera.plug_in()
    source = LiveSource("window", f"http://127.0.0.1:{camera.port}/stream.mjpg")
    stop = threading.Event()
    frames = source.frames(stop)
    got: list[Frame] = []
    reader_done = threading.Event()

    def read() -> None:
        try:
            for frame in frames:
                got.append(frame)
                if stop.is_set():
                    return
        finally:
            reader_done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 15
        while len(got) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(got) >= 5, "frames from the live camera"
        assert source.health.ok
        camera.unplug()
        deadline = time.monotonic() + 20
        while source.health.ok and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not source.health.ok, "the drop is reported"
        assert source.health.last_error is not None
        seen = len(got)
        camera.plug_in()  # the same port, as a camera coming back
        deadline = time.monotonic() + 30
        while len(got) <= seen + 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(got) > seen + 3, "frames again after the camera came back"
        assert source.health.ok
        assert source.health.reopens >= 1
        indexes = [f.index for f in got]
        assert indexes == sorted(indexes)  # one stream of frames across the reopen
    finally:
        stop.set()
        camera.unplug()
        reader_done.wait(10)
