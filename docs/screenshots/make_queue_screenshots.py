"""Screenshots of the queue, "I'm here" and complaints: the citizen's wait and button, the
lane board's wait, the office's complaints screen and the answer on the citizen's page.

Run: .venv/bin/python docs/screenshots/make_queue_screenshots.py  (needs Debian chromium and
playwright in the venv). Starts a server without a broker, as tests/e2e/test_here_page.py does.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.test_complaints_page import collected  # noqa: E402
from tests.e2e.test_server_lane_flow import make_ready  # noqa: E402
from tests.server_process import KEYS, ServerProcess  # noqa: E402

OUT = Path(__file__).resolve().parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        server = ServerProcess(Path(work), None, "")
        server.start(wait_for_broker=False)
        try:
            unhappy = collected(server, "DK 1111 AA")
            waiting = make_ready(server, "DK 2468 KL")["code"]
            coming = make_ready(server, "DK 1357 MN", slot="R1-02")["code"]
            with server.client() as citizen:
                citizen.post("/api/lanes/2/here", json={"code": waiting})
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                phone = browser.new_context(
                    viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2
                )
                page = phone.new_page()
                page.goto(f"{server.url}/p/{coming}")
                page.locator("#here").screenshot(path=OUT / "citizen-here-phone.png")
                page.goto(f"{server.url}/p/{unhappy}")
                page.locator(".star").nth(1).click()
                page.fill("#complaint", "Menunggu lama di jendela 1")
                page.locator("#feedback button[type=submit]").click()
                page.wait_for_selector("#feedback strong")

                staff = browser.new_context(viewport={"width": 1920, "height": 1080})
                office = staff.new_page()
                office.goto(f"{server.url}/login?next=/lanes/2/board")
                office.fill("#key", KEYS["admin"][0])
                office.click("button[type=submit]")
                office.wait_for_selector("#board-queue")
                office.screenshot(path=OUT / "board-queue-1920.png")
                office.goto(f"{server.url}/office/complaints")
                row = office.locator("#complaints tbody tr[data-id]").first
                row.locator("[name=answer]").fill(
                    "Mohon maaf, jendela 1 kini dilayani dua petugas."
                )
                row.locator("form[data-action=answer] button").click()
                office.wait_for_selector("#complaints tr[data-state=answered]")
                office.screenshot(path=OUT / "office-complaints-1920.png", full_page=True)
                page.goto(f"{server.url}/p/{unhappy}?v={uuid.uuid4().hex[:4]}")
                page.locator("#complaint").screenshot(path=OUT / "citizen-answer-phone.png")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
