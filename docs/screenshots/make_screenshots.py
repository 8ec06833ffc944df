"""Screenshots of every page (phone 390x844, and 1920x1080 for the staff screens).

Run: .venv/bin/python docs/screenshots/make_screenshots.py  (needs Debian chromium and
playwright in the venv). Starts a server without a broker; the car arrives by manual lookup.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.test_server_lane_flow import make_ready  # noqa: E402
from tests.server_process import KEYS, ServerProcess  # noqa: E402

OUT = Path(__file__).resolve().parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PHONE = {"width": 390, "height": 844}
SCREEN = {"width": 1920, "height": 1080}


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        server = ServerProcess(Path(work), None, "")
        server.start(wait_for_broker=False)
        try:
            shoot(server)
        finally:
            server.stop()


def shoot(server: ServerProcess) -> None:
    ready = make_ready(server, "AB 1234 XY", slot="R2-14")
    waiting = make_ready(server, "DK 777 KD", slot="R1-03")
    with server.client("officer") as officer:
        officer.post("/api/applications", json={"reference": "LAP-NEW-1", "kind": "IMB",
                     "applicant_name": "Made Wirawan", "nik": "5103010101800003"})  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        citizen = browser.new_context(viewport=PHONE, is_mobile=True, device_scale_factor=2)
        page = citizen.new_page()
        page.goto(f"{server.url}/p/{waiting['code']}")
        page.screenshot(path=OUT / "citizen-ready-phone.png", full_page=True)
        page.click("#lang-switch")
        page.screenshot(path=OUT / "citizen-ready-phone-en.png")
        page.click("#lang-switch")
        page.goto(f"{server.url}/login")
        page.screenshot(path=OUT / "login-phone.png")

        staff = browser.new_context(viewport=SCREEN)
        console = staff.new_page()  # signed in as admin: the pages' session cookie
        console.goto(f"{server.url}/login?next=/lanes/1/console")
        console.fill("#key", KEYS["admin"][0])
        console.click("button[type=submit]")
        console.wait_for_selector("#live-state.ok")
        board = staff.new_page()
        board.set_viewport_size(SCREEN)
        board.goto(f"{server.url}/lanes/1/board")
        console.bring_to_front()
        console.fill("#lookup-value", "AB 1234 XY")
        console.click("#lookup button")
        console.wait_for_selector(".permit-card")
        console.wait_for_timeout(1800)  # let the arrival flash fade
        console.screenshot(path=OUT / "console-1920.png")
        board.wait_for_selector(".board-plate")
        board.screenshot(path=OUT / "board-1920.png")
        console.locator(".nik").first.fill("800001")  # the KTP's last six digits
        console.locator(".hand").first.click()
        console.wait_for_selector(".outcome.ok")
        office = staff.new_page()
        office.goto(f"{server.url}/office")
        office.screenshot(path=OUT / "office-1920.png")
        office.set_viewport_size(PHONE)
        office.screenshot(path=OUT / "office-phone.png")
        dash = staff.new_page()
        dash.goto(f"{server.url}/dashboard")
        dash.screenshot(path=OUT / "dashboard-1920.png", full_page=True)
        page.goto(f"{server.url}/p/{ready['code']}")
        page.screenshot(path=OUT / "citizen-collected-phone.png", full_page=True)
        browser.close()
    print("\n".join(sorted(str(p.relative_to(ROOT)) for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
