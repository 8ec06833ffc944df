"""The pages in a real browser against the real server and Mosquitto: office to citizen to
window to board to dashboard, failing on any browser console error."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import MQTT_USERS
from tests.e2e.conftest import Console
from tests.e2e.test_server_lane_flow import ROOT, ack_for, arrival
from tests.mqtt_peer import MqttPeer
from tests.server_process import KEYS, ServerProcess
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]


def sign_in(context: Any, console: Console, server: ServerProcess, who: str, path: str) -> Any:
    page = console.watch(context.new_page())
    page.goto(server.url + path)
    assert "/login" in page.url  # not signed in yet: sent to the login page, and back after
    page.fill("#key", KEYS[who][0])
    page.click("button[type=submit]")
    page.wait_for_url(server.url + path)
    return page


def test_office_citizen_window_board_and_dashboard_in_a_browser(
    server: ServerProcess, browser: Any, mosquitto: MosquittoServer
) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    console = Console()
    staff = browser.new_context(viewport={"width": 1600, "height": 1000})

    # The officer submits an application and moves it to READY in /office.
    office = sign_in(staff, console, server, "officer", "/office")
    reference = f"LAP-{uuid.uuid4().hex[:8]}"
    form = office.locator("form[data-action=submit]")
    form.locator("[name=reference]").fill(reference)
    form.locator("[name=kind]").fill("SIUP")
    form.locator("[name=applicant_name]").fill("Ni Luh Putu Ayu")
    form.locator("[name=nik]").fill("5103014506900002")
    form.locator("[name=plate]").fill("DK 4321 PA")
    form.locator("button").click()
    row = office.locator(f"tr[data-number='{reference}']")
    steps = [("verify", {}), ("fee", {"amount_rupiah": "75000"}),
             ("payment", {"reference": f"P-{reference}", "amount_rupiah": "75000"}),
             ("approve", {}), ("print", {}), ("stage", {"slot": "R3-07"})]  # fmt: skip
    for action, fields in steps:
        step = row.locator(f"form[data-action={action}]")
        for name, value in fields.items():
            step.locator(f"[name={name}]").fill(value)
        step.locator("button[type=submit]").click()
        if action != "stage":
            office.wait_for_load_state("load")
    dialog = office.locator("#code-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#code-qr svg")).to_be_visible()
    code = dialog.locator("#code-text").inner_text().strip()
    assert re.fullmatch(r"DT1:[A-Z2-7]{26}", code)
    dialog.locator("#code-close").click()
    expect(office.locator(f"tr[data-number='{reference}'] .status-ready")).to_be_visible()

    # The citizen, on a phone and without signing in, sees the QR and the timeline. The
    # phone is set to WIB; the times stay on the site's clock (WITA), where the pickup is.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, timezone_id="Asia/Jakarta"
    )
    citizen = console.watch(phone.new_page())
    citizen.goto(f"{server.url}/p/{code}")
    expect(citizen.locator("#status .l-id")).to_have_text("Siap diambil")
    expect(citizen.locator(".qr svg")).to_be_visible()
    assert citizen.locator(".timeline li").count() >= 7
    first = citizen.locator(".timeline time").first
    moment = datetime.fromisoformat(first.get_attribute("datetime") or "")
    site = moment.astimezone(ZoneInfo("Asia/Makassar"))
    expect(first).to_have_text(re.compile(rf"{site:%H}\.{site:%M} WITA$"))  # id-ID: 14.05
    citizen.click("#lang-switch")
    expect(citizen.locator("#status .l-en")).to_have_text("Ready for pickup")
    expect(citizen.locator("#status .l-id")).to_be_hidden()
    expect(first).to_have_text(re.compile(rf"{site:%H}:{site:%M} WITA$"))  # en-GB: 14:05

    # The operator's console and the board are open when the car arrives.
    office.close()
    staff.clear_cookies()  # one key per browser: the officer signs out, the operator in
    console_page = sign_in(staff, console, server, "operator-1", "/lanes/1/console")
    expect(console_page.locator("#live-state.ok")).to_be_visible()
    board = console.watch(staff.new_page())
    board.goto(f"{server.url}/lanes/1/board")
    expect(board.locator("#board-idle")).to_be_visible()
    lane = MqttPeer(mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"],
                    [f"{ROOT}/lanes/1/acks"])  # fmt: skip
    try:
        message = arrival(code=code, plate="DK4321PA")
        lane.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
        assert lane.wait_for(ack_for(message["id"])).json()["outcome"] == "released"
    finally:
        lane.close()
    expect(console_page.locator("#arrival-text .big-plate")).to_have_text("DK 4321 PA")
    card = console_page.locator(".permit-card").first
    expect(card.locator(".slot-name")).to_contain_text("R3-07")
    expect(board.locator(".board-plate")).to_have_text("DK 4321 PA")
    expect(board.locator(".board-where .l-id")).to_have_text("silakan ke Jendela 1")

    # Handing over needs the NIK from the KTP (here its last six digits); then the keyboard
    # shortcut H does it.
    card.locator(".hand").click()
    expect(card.locator(".outcome.error")).to_be_visible()
    card.locator(".nik").fill("900002")
    card.focus()
    console_page.keyboard.press("h")
    expect(card.locator(".outcome.ok")).to_be_visible()
    expect(board.locator("#board-idle")).to_be_visible()

    # After pickup the citizen may rate the service.
    citizen.goto(f"{server.url}/p/{code}")
    expect(citizen.locator("#status .l-en")).to_have_text("Collected")
    citizen.locator(".star").nth(4).click()
    citizen.fill("#complaint", "Cepat sekali, terima kasih")
    citizen.locator("#feedback button[type=submit]").click()
    expect(citizen.locator("#feedback strong")).to_have_text("5 / 5")

    # The dashboard renders its charts (live pages closed first: they would call without a key).
    console_page.close()
    board.close()
    staff.clear_cookies()
    dash = sign_in(staff, console, server, "admin", "/dashboard")
    assert dash.locator("svg.chart").count() == 4
    expect(dash.locator("svg.chart rect[fill]").first).to_be_attached()

    phone.close()
    staff.close()
    assert console.errors == []
