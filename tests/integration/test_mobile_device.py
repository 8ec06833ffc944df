"""The real team device process against a real Mosquitto, a test peer acting as the server.

`MobileDevice` (also used by the end-to-end tests) runs ``python -m edge_lane.mobile`` and
drives it through its local page, as the officer's browser would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import cv2
import httpx
import numpy as np
import pytest
import segno

from core.codes import PickupCode
from core.contract import (
    DeviceState,
    LaneStatus,
    ManifestDelegate,
    TeamAck,
    TeamHandover,
    TeamManifest,
    TeamPermit,
    Topics,
    decode,
    encode,
)
from edge_lane.mobile.vault import new_key_text
from tests.conftest import MQTT_USERS, SITE
from tests.mqtt_peer import MqttPeer
from tests.services import MosquittoServer, free_port

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
TOPICS = Topics(SITE)
EXIT_MANIFEST = 5
Outcome = Literal["applied", "duplicate", "conflict", "rejected"]


def eventually(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


class MobileDevice:
    """``python -m edge_lane.mobile`` with its own data dir, key and page port."""

    def __init__(self, workdir: Path, broker_url: str, *, retry_seconds: float = 2.0) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "team.toml"
        self.broker_url = broker_url
        self.retry_seconds = retry_seconds
        self.write_config()
        self.env = {
            **os.environ,
            "TEAM_A_PASSWORD": MQTT_USERS["team-a"],
            "DRIVETHRU_MANIFEST_KEY": new_key_text(),
        }
        self.log = workdir / "mobile.log"
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self, camera: Path | None = None) -> None:
        lines = [
            f'site = "{SITE}"', 'team = "a"', 'officer = "Tim A Made"',
            f'data_dir = "{self.workdir / "data"}"', f"display_port = {self.port}",
            f"retry_seconds = {self.retry_seconds}", "rescan_seconds = 60",
            "[broker]", f'url = "{self.broker_url}"', 'username = "team-a"',
            'password_env = "TEAM_A_PASSWORD"',
        ]  # fmt: skip
        if camera is not None:
            lines += ["[camera]", f'source = "{camera}"', "folder_fps = 20"]
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def manifest_file(self) -> Path:
        return self.workdir / "data" / "manifest.enc"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "edge_lane.mobile", "--config", str(self.config)]

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            eventually(self._page_up, 20, "the team page")
        except BaseException:
            self.kill()
            raise

    def _page_up(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"device exited: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/state", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def state(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"{self.url}/state", timeout=5).json()
        return answer

    def scan(self, code: str) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.post(
            f"{self.url}/scan", json={"code": code}, timeout=5
        ).json()
        return answer

    def hand_over(self, code: str) -> dict[str, Any]:
        """Scan, tick the KTP box, press the button; the recorded handover."""
        verdict = self.scan(code)
        assert verdict["ok"], verdict
        answer = httpx.post(
            f"{self.url}/handover",
            json={"code_sha256": verdict["code_sha256"], "id_checked": True,
                  "position": {"lat": -8.58, "lon": 115.18}},
            timeout=5,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        recorded: dict[str, Any] = answer.json()
        return recorded

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def device(tmp_path: Path, mosquitto: MosquittoServer) -> Iterator[MobileDevice]:
    made = MobileDevice(tmp_path, mosquitto.url)
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture
def server_peer(mosquitto: MosquittoServer) -> Iterator[MqttPeer]:
    """Stands in for the server: publishes manifests, hears handovers, answers with acks."""
    peer = MqttPeer(
        mosquitto.host, mosquitto.port, "server", MQTT_USERS["server"],
        [TOPICS.team_handovers("a")], client_id="test-server",
    )  # fmt: skip
    try:
        yield peer
    finally:
        peer.close()


def team_permit(index: int, owner: PickupCode, *delegates: ManifestDelegate) -> TeamPermit:
    return TeamPermit(
        permit_id=f"00000000-0000-4000-8000-{index:012d}", number=f"MPP/BADUNG/{index:04d}",
        holder="I W***** S******", nik_masked="5103********0001", plate="DK1234AB",
        code_sha256=owner.sha256, delegates=list(delegates), place="Balai Desa Mengwi",
        date=datetime.now().date().isoformat(),
    )  # fmt: skip


def publish_manifest(peer: MqttPeer, *permits: TeamPermit) -> TeamManifest:
    manifest = TeamManifest(team="a", permits=list(permits))
    peer.publish(TOPICS.team_manifest("a"), encode(manifest), retain=True)
    return manifest


def test_codes_are_refused_offline_with_their_reason(
    device: MobileDevice, server_peer: MqttPeer, mosquitto: MosquittoServer
) -> None:
    owner, reissued, proxy = PickupCode.generate(), PickupCode.generate(), PickupCode.generate()
    expired = ManifestDelegate(
        delegate_id=proxy.sha256[:12], name="N* M*** A**", nik_masked="5103********0002",
        code_sha256=proxy.sha256, expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )  # fmt: skip
    publish_manifest(server_peer, team_permit(1, reissued), team_permit(2, owner, expired))
    device.start()
    eventually(lambda: len(device.state()["permits"]) == 2, what="the first manifest")
    page = httpx.get(device.url, timeout=5).text
    assert page.index("Belum sinkron") < page.index("not synced")
    assert "http" not in page.lower().replace("http-equiv", "")  # no external assets
    replacement = PickupCode.generate()
    publish_manifest(server_peer, team_permit(1, replacement), team_permit(2, owner, expired))
    eventually(lambda: device.scan(replacement.text)["ok"], what="the second manifest")

    mosquitto.stop()
    eventually(lambda: not device.state()["connected"], what="the device to go offline")
    verdicts = {
        "unknown": device.scan(PickupCode.generate().text),
        "expired": device.scan(proxy.text),
        "reissued": device.scan(reissued.text),
        "malformed": device.scan("DT1:NOT-A-CODE"),
    }
    for reason, verdict in verdicts.items():
        assert not verdict["ok"]
        assert verdict["reason"] == reason
        assert verdict["message_id"]
        assert verdict["message_en"]
    assert verdicts["expired"]["number"] == "MPP/BADUNG/0002"
    assert device.scan(owner.text)["ok"]
    handed = device.hand_over(owner.text)
    again = device.scan(owner.text)
    assert again["reason"] == "handed_over_here"
    assert device.state()["unsynced"] == 1
    # Nothing the officer typed may reach the log.
    assert owner.text not in device.log.read_text()
    assert handed["permit_id"] == team_permit(2, owner).permit_id


def test_handovers_made_offline_are_sent_after_reconnect_in_order_and_end_on_their_acks(
    device: MobileDevice, server_peer: MqttPeer, mosquitto: MosquittoServer
) -> None:
    codes = [PickupCode.generate() for _ in range(5)]
    publish_manifest(server_peer, *(team_permit(i, c) for i, c in enumerate(codes)))
    device.start()
    eventually(lambda: len(device.state()["permits"]) == 5, what="the manifest")
    server_peer.close()
    mosquitto.stop()
    made = [device.hand_over(code.text)["handover_id"] for code in codes[:3]]
    device.kill()  # kill -9 in the middle of the offline day
    device.start()
    made += [device.hand_over(code.text)["handover_id"] for code in codes[3:]]
    assert device.state()["unsynced"] == 5
    mosquitto.start()
    peer = MqttPeer(
        mosquitto.host, mosquitto.port, "server", MQTT_USERS["server"],
        [TOPICS.team_handovers("a")], client_id="test-server",
    )  # fmt: skip
    try:
        received: list[str] = []
        outcomes: list[Outcome] = ["applied", "applied", "conflict", "rejected", "applied"]
        while len(received) < len(made):
            message = peer.wait_for(lambda m: True, timeout=20)
            handover = decode(TeamHandover, message.payload)
            if str(handover.id) not in received:
                received.append(str(handover.id))
            outcome = outcomes[made.index(str(handover.id))]
            ack = TeamAck(id=handover.id, outcome=outcome, reason=f"test {outcome}")
            peer.publish(TOPICS.team_acks("a"), encode(ack))
        assert received == made  # one at a time, in the order they happened
        state = eventually(lambda: (s := device.state())["unsynced"] == 0 and s)
        assert state["last_sync"] is not None
        assert [p["outcome"] for p in state["problems"]] == ["conflict", "rejected"]
    finally:
        peer.close()


def test_a_tampered_manifest_file_is_refused_at_start(
    device: MobileDevice, server_peer: MqttPeer
) -> None:
    publish_manifest(server_peer, team_permit(1, PickupCode.generate()))
    device.start()
    eventually(device.manifest_file.exists, what="the stored manifest")
    device.stop()
    blob = bytearray(device.manifest_file.read_bytes())
    blob[len(blob) // 2] ^= 0x20
    device.manifest_file.write_bytes(bytes(blob))
    refused = subprocess.run(
        device.command(), cwd=ROOT, env=device.env, capture_output=True, timeout=30, check=False
    )
    assert refused.returncode == EXIT_MANIFEST
    message = refused.stderr.decode()
    assert message.index("Manifest tersimpan") < message.index("Stored manifest")
    assert "ditolak" in message
    assert "refused" in message


def test_a_bad_configuration_is_explained(tmp_path: Path) -> None:
    config = tmp_path / "team.toml"
    config.write_text('site = "badung"\nteam = "a"\ncolour = "red"\n[broker]\nurl = "http://x"\n')
    checked = subprocess.run(
        [sys.executable, "-m", "edge_lane.mobile", "--validate-config", str(config)],
        cwd=ROOT, capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert checked.returncode == 2
    errors = checked.stderr.decode()
    assert "colour: kolom tidak dikenal" in errors
    assert "broker.url" in errors


def test_a_code_shown_to_the_camera_is_checked_offline(
    tmp_path: Path, device: MobileDevice, server_peer: MqttPeer, mosquitto: MosquittoServer
) -> None:
    owner = PickupCode.generate()
    publish_manifest(server_peer, team_permit(7, owner))
    device.start()
    eventually(lambda: len(device.state()["permits"]) == 1, what="the manifest")
    device.stop()
    mosquitto.stop()
    frames = tmp_path / "camera"
    frames.mkdir()
    blank = np.full((480, 640, 3), 255, np.uint8)
    qr = segno.make(owner.text, error="m")
    qr.save(str(tmp_path / "qr.png"), scale=8, border=4)
    symbol = np.asarray(cv2.imread(str(tmp_path / "qr.png"), cv2.IMREAD_COLOR), np.uint8)
    for index in range(10):
        frame = blank.copy()
        if index >= 3:  # the citizen holds the code up after a moment; the same code repeats
            height, width = symbol.shape[:2]
            frame[100 : 100 + height, 150 : 150 + width] = symbol
        cv2.imwrite(str(frames / f"{index:03d}.png"), frame)
    device.write_config(camera=frames)
    device.start()
    scan = eventually(lambda: device.state()["last_scan"], what="the camera's scan")
    assert scan["source"] == "camera"
    assert scan["ok"]
    assert scan["permit"]["number"] == "MPP/BADUNG/0007"
    assert "5103********0001" in scan["check_id"]
    assert not device.state()["connected"]


def team_status(mosquitto: MosquittoServer) -> LaneStatus | None:
    """The retained status of team a's device, as a new subscriber (the server) gets it."""
    try:
        peer = MqttPeer(
            mosquitto.host, mosquitto.port, "server", MQTT_USERS["server"],
            [TOPICS.team_status("a")],
        )  # fmt: skip
    except (OSError, TimeoutError):
        return None  # the broker is still starting
    try:
        message = peer.wait_for(lambda m: m.retained, timeout=1)
    except TimeoutError:
        return None
    finally:
        peer.close()
    assert message.json()["v"] == 1
    return decode(LaneStatus, message.payload)


def status_is(mosquitto: MosquittoServer, state: DeviceState) -> Callable[[], LaneStatus | None]:
    def check() -> LaneStatus | None:
        status = team_status(mosquitto)
        return status if status is not None and status.state is state else None

    return check


def test_the_device_says_online_on_every_connect_and_offline_when_it_dies(
    device: MobileDevice, mosquitto: MosquittoServer
) -> None:
    device.start()
    first = eventually(status_is(mosquitto, DeviceState.ONLINE), what="online at start")
    device.kill()  # kill -9: no goodbye, the broker publishes the last will
    eventually(status_is(mosquitto, DeviceState.OFFLINE), what="the will after kill -9")
    device.start()
    again = eventually(status_is(mosquitto, DeviceState.ONLINE), what="online after restart")
    assert again.id != first.id
    assert again.at >= first.at
    mosquitto.restart()  # a reconnect says online again, whatever the broker kept
    eventually(lambda: device.state()["connected"], 30, "the device to reconnect")
    eventually(
        lambda: (s := status_is(mosquitto, DeviceState.ONLINE)()) is not None and s.id != again.id,
        30,
        "online after the broker came back",
    )
    device.stop()  # a clean stop says offline itself
    eventually(status_is(mosquitto, DeviceState.OFFLINE), what="offline after a clean stop")
