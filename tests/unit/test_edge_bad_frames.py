"""Bad frames at the edge: converted or skipped with a logged reason, never the lane's end."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_lane import sources
from edge_lane.agent import bootstrap
from edge_lane.config import CameraSettings, LaneSettings, OutboxSettings, Pace
from edge_lane.sources import FolderSource, LiveSource, SourceHealth
from plate_reader import PlateRead, QrRead
from plate_reader.frames import as_frame

pytestmark = pytest.mark.timeout(60)


def _folder(root: Path) -> Path:
    """Frames as files: good ones in several formats, and two that are not images."""
    folder = root / "frames"
    folder.mkdir()
    frame = np.full((120, 160, 3), 128, np.uint8)
    cv2.imwrite(str(folder / "a_good.png"), frame)
    cv2.imwrite(str(folder / "b_16bit.png"), frame.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "c_alpha.png"), cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(folder / "d_grey.png"), frame[:, :, 0])
    (folder / "e_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png at all")
    (folder / "f_empty.jpg").write_bytes(b"")
    return folder


def test_a_folder_converts_what_it_can_and_skips_corrupt_files_with_a_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = FolderSource("window", _folder(tmp_path), Pace.FAST, 10.0)
    with caplog.at_level(logging.WARNING, logger="edge_lane.sources"):
        frames = list(source.frames(threading.Event()))
    assert len(frames) == 4
    for frame in frames:
        assert frame.image.dtype == np.uint8
        assert frame.image.shape == (120, 160, 3)
        assert int(frame.image.mean()) == 128
    assert (source.health.frames, source.health.skipped) == (4, 2)
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 2
    assert "e_corrupt.png" in skipped[0]
    assert "bukan gambar / not an image" in skipped[0]


def test_a_repeated_skip_reason_is_logged_once_a_minute_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    health = SourceHealth(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="edge_lane.sources"):
        for _ in range(100):
            health.skip("cam: unsupported shape")
        health.skip("cam: another reason")
        now[0] = 61.0
        health.skip("cam: unsupported shape")
    assert health.skipped == 102
    assert [r.getMessage() for r in caplog.records] == [
        "bingkai dilewati / frame skipped: cam: unsupported shape",
        "bingkai dilewati / frame skipped: cam: another reason",
        "bingkai dilewati / frame skipped: cam: unsupported shape (+99 serupa / more like it)",
    ]


class _Capture:
    """A camera whose driver hands over odd frames: 16-bit, BGRA, a bad shape, then drops."""

    def __init__(self, target: object) -> None:
        self._frames: list[object] = [
            np.full((48, 64), 40000, np.uint16),
            np.zeros((48, 64, 4), np.uint8),
            np.zeros((48, 64, 2), np.uint8),
            np.zeros((48, 64, 3), np.uint8),
        ]

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, object]:
        return (True, self._frames.pop(0)) if self._frames else (False, None)

    def release(self) -> None:
        return


def test_a_live_camera_skips_a_frame_it_cannot_convert_without_reopening(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sources.cv2, "VideoCapture", _Capture)
    camera = LiveSource("window", 0)
    stop = threading.Event()
    delivered = []
    for frame in camera.frames(stop):
        delivered.append(frame.image)
        if len(delivered) == 3:
            stop.set()
    assert [image.shape for image in delivered] == [(48, 64, 3)] * 3
    assert all(image.dtype == np.uint8 for image in delivered)
    assert camera.health.skipped == 1
    assert camera.health.reopens == 0


class _PickyReader:
    """A reader that refuses some frames, as `plate_reader.Reader` refuses what it cannot read."""

    def __init__(self) -> None:
        self.calls = 0

    def read_qr(self, frame: object) -> tuple[QrRead, ...]:
        self.calls += 1
        if self.calls % 2:
            as_frame(np.zeros((4, 4), np.int64))  # raises FrameError
        return ()

    def read_plates(
        self, frame: object, expected: Collection[str] | None = None
    ) -> tuple[PlateRead, ...]:
        return ()


def test_the_lane_loop_skips_frames_the_reader_refuses_and_keeps_going(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "lane"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(8):
        cv2.imwrite(str(folder / f"{index:02}.png"), rng.integers(0, 256, (90, 160, 3), np.uint8))
    settings = LaneSettings(
        site="badung",
        lane="1",
        cameras=[CameraSettings(name="window", source=str(folder), pace=Pace.FAST)],
        outbox=OutboxSettings(path=tmp_path / "outbox.db"),
    )
    reader = _PickyReader()
    agent = bootstrap(settings, readers={"window": reader})
    with caplog.at_level(logging.WARNING, logger="edge_lane.sources"):
        agent._watch("window", threading.Event())
    assert reader.calls >= 4  # the startup frames are read, every other one refused
    health = agent.sources["window"].health
    assert health.frames == 8
    assert health.skipped == (reader.calls + 1) // 2
    assert agent.frames == 8 - health.skipped
    assert any("tipe data tidak didukung" in r.getMessage() for r in caplog.records)
