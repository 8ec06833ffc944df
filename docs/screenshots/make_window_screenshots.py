"""Screenshots of the window's identity check, candidates and fetch-now (1920x1080), and the
runner's page (phone).

Run: .venv/bin/python docs/screenshots/make_window_screenshots.py  (needs Debian chromium,
mosquitto and playwright in the venv). Starts Mosquitto and a server; the cars arrive as a
lane's edge would send them.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.conftest import LANES, MQTT_USERS, SITE, TEAMS  # noqa: E402
from tests.e2e.test_server_lane_flow import ROOT as TOPICS  # noqa: E402
from tests.e2e.test_server_lane_flow import ack_for, arrival, make_ready  # noqa: E402
from tests.mqtt_peer import MqttPeer  # noqa: E402
from tests.server_process import KEYS, ServerProcess  # noqa: E402
from tests.services import drivethru_acl, running_mosquitto  # noqa: E402

OUT = Path(__file__).resolve().parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def main() -> None:
    acl = drivethru_acl(SITE, LANES, TEAMS)
    with (
        running_mosquitto(MQTT_USERS, acl, bind_client_ids=False) as broker,
        tempfile.TemporaryDirectory() as work,
    ):
        server = ServerProcess(Path(work), broker.url, MQTT_USERS["server"])
        server.start()
        lane = MqttPeer(broker.host, broker.port, "lane-1", MQTT_USERS["lane-1"],
                        [f"{TOPICS}/lanes/1/acks"])  # fmt: skip
        try:
            shoot(server, lane)
        finally:
            lane.close()
            server.stop()


def arrive(lane: MqttPeer, **read: Any) -> None:
    message = arrival(**read)
    lane.publish(f"{TOPICS}/lanes/1/arrivals", json.dumps(message))
    lane.wait_for(ack_for(message["id"]))


def signed_in(page: Page, server: ServerProcess, who: str, path: str) -> None:
    page.goto(f"{server.url}/login?next={path}")
    page.fill("#key", KEYS[who][0])
    page.click("button[type=submit]")
    page.wait_for_url(server.url + path)


def shoot(server: ServerProcess, lane: MqttPeer) -> None:
    delegated = make_ready(server, "DK 5150 UB", slot="R2-02")
    with server.client("officer") as officer:
        delegate = officer.post(
            f"/api/applications/{delegated['permit']['id']}/delegates",
            json={"name": "Ketut Arta", "nik": "5103024506900002",
                  "expires_at": "2099-01-01T00:00:00+08:00"},
        ).json()  # fmt: skip
    make_ready(server, "DK 1234 AB", slot="R1-01")
    make_ready(server, "DK 1234 AD", slot="R1-02")
    make_ready(server, "DK 808 RN", slot="R4-11")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        staff = browser.new_context(viewport={"width": 1920, "height": 1080})
        console = staff.new_page()
        signed_in(console, server, "operator-1", "/lanes/1/console")
        console.wait_for_selector("#live-state.ok")
        arrive(lane, plate="DK808RN", camera="entry")
        console.wait_for_selector("#fetch-now .fetch-item")
        arrive(lane, code=delegate["code"])
        console.wait_for_selector(".permit-card .authorisation")
        arrive(lane, plate="DK1234AX")
        console.wait_for_selector("#candidates-card .candidate")
        console.fill(".permit-card .nik", "5103011204800001")  # the holder's: refused
        console.click(".permit-card .hand")
        console.wait_for_selector(".permit-card .outcome.error")
        console.wait_for_timeout(1800)  # let the arrival flash fade
        console.screenshot(path=OUT / "console-identity-1920.png", full_page=True)

        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2
        )
        runner = phone.new_page()
        signed_in(runner, server, "operator-1", "/runner")
        runner.wait_for_selector("#fetch-now .fetch-item")
        runner.screenshot(path=OUT / "runner-phone.png")
        browser.close()


if __name__ == "__main__":
    main()
