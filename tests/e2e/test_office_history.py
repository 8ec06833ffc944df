"""The office's history dialog in a real browser against the real server: step through a
permit's events and see the permit as it stood after each."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Console
from tests.e2e.test_pages import sign_in
from tests.e2e.test_server_lane_flow import make_ready
from tests.server_process import ServerProcess

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]


def test_the_office_steps_through_a_permits_history(server: ServerProcess, browser: Any) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    ready = make_ready(server, "DK 1234 AB", slot="R2-14")
    number = ready["permit"]["number"]
    console = Console()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    office = sign_in(context, console, server, "officer", "/office?status=ready")
    office.locator(f"tr[data-number='{number}'] button.history-open").click()
    dialog = office.locator("#history-dialog")
    expect(dialog).to_be_visible()
    # It opens on the latest event: the code issued, the permit READY on its shelf.
    position = dialog.locator("#history-position")
    expect(position).to_have_text("8 / 8 · v8")
    expect(dialog.locator("#history-event .l-id")).to_have_text("Kode ambil diterbitkan")
    expect(dialog.locator("#history-status .l-id")).to_have_text("Siap diambil")
    expect(dialog.locator("#history-where")).to_have_text("R2-14")
    expect(dialog.locator("#history-number")).to_have_text(number)
    expect(dialog.locator("#history-at")).to_contain_text("WITA")
    expect(dialog.locator("#history-next")).to_be_disabled()
    # Back, one event at a time: staged, printed, approved, paid, fee assessed.
    for _ in range(5):
        dialog.locator("#history-prev").click()
    expect(position).to_have_text("3 / 8 · v3")
    expect(dialog.locator("#history-event .l-id")).to_have_text("Retribusi ditetapkan")
    expect(dialog.locator("#history-status .l-id")).to_have_text("Menunggu pembayaran retribusi")
    expect(dialog.locator("#history-details")).to_have_text("amount_rupiah: 50000")
    expect(dialog.locator("#history-by")).to_have_text("officer")
    expect(dialog.locator("#history-where")).to_have_text("—")  # not on a shelf yet
    expect(dialog.locator("#history-list li[aria-current=step]")).to_have_count(1)
    # The arrow keys step too; the first event's Previous is disabled.
    dialog.press("ArrowLeft")
    dialog.press("ArrowLeft")
    expect(position).to_have_text("1 / 8 · v1")
    expect(dialog.locator("#history-status .l-id")).to_have_text("Diajukan")
    expect(dialog.locator("#history-details")).to_contain_text("holder: I W**** S******")
    expect(dialog.locator("#history-prev")).to_be_disabled()
    dialog.press("ArrowRight")
    expect(position).to_have_text("2 / 8 · v2")
    # A click on the list jumps to that event; English on the switch.
    dialog.locator("#history-list li").nth(6).locator("button").click()
    expect(position).to_have_text("7 / 8 · v7")
    office.evaluate("document.getElementById('lang-switch').click()")  # under the modal
    expect(dialog.locator("#history-event .l-en")).to_have_text("Stored on the shelf, ready")
    # On the shelf, but READY only once its code is issued (the next event).
    expect(dialog.locator("#history-status .l-en")).to_have_text("Printed")
    expect(dialog.locator("#history-where")).to_have_text("R2-14")
    # The dialog never shows the name in clear.
    assert "Wayan" not in dialog.inner_text()
    dialog.locator("#history-close").click()
    expect(dialog).to_be_hidden()
    context.close()
    assert console.errors == []
