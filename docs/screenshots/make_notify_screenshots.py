"""Screenshots of the notifications: the demo's outbox page and the citizen's contact card.

Run: .venv/bin/python docs/screenshots/make_notify_screenshots.py  (needs Debian chromium and
playwright in the venv). Starts a demo server without a broker, on permits seeded with
contacts, as `drivethru demo` does.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.test_demo_outbox import _demo_server  # noqa: E402
from tests.notify_peers import wait_until  # noqa: E402

OUT = Path(__file__).resolve().parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PHONE = {"width": 390, "height": 844}


def main() -> None:
    import httpx

    with tempfile.TemporaryDirectory() as work:
        server, codes = _demo_server(Path(work), demo=True)
        server.start(wait_for_broker=False)
        try:
            wait_until(
                lambda: httpx.get(f"{server.url}/demo/outbox").text.count("permit.ready") == 3
            )
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                phone = browser.new_context(viewport=PHONE, is_mobile=True, device_scale_factor=2)
                page = phone.new_page()
                page.goto(f"{server.url}/demo/outbox")
                page.screenshot(path=OUT / "demo-outbox-phone.png", full_page=True)
                page.goto(f"{server.url}/p/{next(iter(codes.values()))}")
                page.click("#contact summary")
                page.locator("#contact").screenshot(path=OUT / "citizen-contact-phone.png")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
