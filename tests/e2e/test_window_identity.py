"""The window in a real browser against the real server and Mosquitto: the NIK check for the
holder and a delegate, a mismatch refused, the pick among an ambiguous plate's candidates,
and the fetch-now list on the console and the runner's page."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import MQTT_USERS
from tests.e2e.conftest import Console
from tests.e2e.test_pages import sign_in
from tests.e2e.test_server_lane_flow import ROOT, ack_for, arrival, make_ready
from tests.mqtt_peer import MqttPeer
from tests.server_process import ServerProcess
from tests.services import MosquittoServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]
HOLDER_NIK = "5103011204800001"  # make_ready's applicant
DELEGATE_NIK = "5103024506900002"
JSON = {"Accept": "application/json"}


@pytest.fixture
def expect() -> Any:
    return pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def lane(mosquitto: MosquittoServer) -> Iterator[MqttPeer]:
    peer = MqttPeer(mosquitto.host, mosquitto.port, "lane-1", MQTT_USERS["lane-1"],
                    [f"{ROOT}/lanes/1/acks"])  # fmt: skip
    try:
        yield peer
    finally:
        peer.close()


def arrive(lane: MqttPeer, **read: Any) -> str:
    """A car at lane 1; the outcome of its arrival."""
    message = arrival(**read)
    lane.publish(f"{ROOT}/lanes/1/arrivals", json.dumps(message))
    outcome: str = lane.wait_for(ack_for(message["id"])).json()["outcome"]
    return outcome


def handed_over(server: ServerProcess, code: str) -> dict[str, Any] | None:
    """The handover on the citizen's timeline (the read models catch up within a moment)."""
    with server.client() as citizen:
        for _ in range(50):
            timeline = citizen.get(f"/p/{code}", headers=JSON).json()["timeline"]
            found = [t["detail"] for t in timeline if t["event"] == "HandedOver"]
            if found:
                detail: dict[str, Any] = found[0]
                return detail
            time.sleep(0.1)
    return None


def unexpected(console: Console) -> list[str]:
    """The browser's errors but the refusals these tests provoke (a wrong NIK: 409)."""
    return [error for error in console.errors if "status of 409" not in error]


def console_page(browser: Any, console: Console, server: ServerProcess) -> Any:
    staff = browser.new_context(viewport={"width": 1400, "height": 1000})
    return sign_in(staff, console, server, "operator-1", "/lanes/1/console")


def test_the_holders_nik_hands_over_and_another_is_refused(
    server: ServerProcess, browser: Any, lane: MqttPeer, expect: Any
) -> None:
    console = Console()
    ready = make_ready(server, "DK 4321 PA", slot="R3-07")
    page = console_page(browser, console, server)
    expect(page.locator("#live-state.ok")).to_be_visible()
    assert arrive(lane, code=ready["code"], plate="DK4321PA") == "released"
    card = page.locator(".permit-card").first
    expect(card.locator(".slot-name")).to_contain_text("R3-07")
    expect(card.locator("input[value=owner]")).to_be_checked()

    card.locator(".hand").click()  # nothing typed: asked for the NIK first
    expect(card.locator(".outcome.error")).to_contain_text("Ketik NIK dari KTP dulu")
    card.locator(".nik").fill(DELEGATE_NIK)
    card.locator(".hand").click()
    expect(card.locator(".outcome.error")).to_contain_text("NIK tidak cocok dengan pemilik izin")
    card.locator(".nik").fill(HOLDER_NIK[-6:])
    card.locator(".nik").press("Enter")
    expect(card.locator(".outcome.ok")).to_be_visible()
    assert handed_over(server, ready["code"]) == {
        "recipient": "owner", "channel": "lane:1", "identity": "nik_match"
    }  # fmt: skip
    assert unexpected(console) == []


def test_a_delegates_code_preselects_the_delegate_and_their_nik_hands_over(
    server: ServerProcess, browser: Any, lane: MqttPeer, expect: Any
) -> None:
    console = Console()
    ready = make_ready(server, "DK 5150 UB", slot="R2-02")
    permit_id = ready["permit"]["id"]
    with server.client("officer") as officer:
        delegate = officer.post(
            f"/api/applications/{permit_id}/delegates",
            json={"name": "Ketut Arta", "nik": DELEGATE_NIK,
                  "expires_at": "2099-01-01T00:00:00+08:00"},
        )  # fmt: skip
        assert delegate.status_code == 200, delegate.text
    page = console_page(browser, console, server)
    expect(page.locator("#live-state.ok")).to_be_visible()
    assert arrive(lane, code=delegate.json()["code"]) == "released"
    card = page.locator(".permit-card").first
    expect(card.locator("input[value=delegate]")).to_be_checked()
    expect(card.locator(".authorisation")).to_contain_text("K**** A***")
    expect(card.locator(".authorisation")).to_contain_text("5103********0002")
    expect(card.locator(".authorisation")).to_contain_text("2099-01-01")
    card.locator(".nik").fill(HOLDER_NIK)  # the holder's KTP is not the delegate's
    card.locator(".hand").click()
    expect(card.locator(".outcome.error")).to_contain_text("penerima kuasa")
    card.locator(".nik").fill(DELEGATE_NIK)
    card.locator(".hand").click()
    expect(card.locator(".outcome.ok")).to_be_visible()
    assert handed_over(server, ready["code"]) == {
        "recipient": "delegate", "channel": "lane:1", "identity": "nik_match"
    }  # fmt: skip
    assert unexpected(console) == []


def test_the_operator_picks_among_an_ambiguous_plates_candidates(
    server: ServerProcess, browser: Any, lane: MqttPeer, expect: Any
) -> None:
    console = Console()
    first = make_ready(server, "DK 1234 AB", slot="R1-01")
    second = make_ready(server, "DK 1234 AD", slot="R1-02")
    page = console_page(browser, console, server)
    expect(page.locator("#live-state.ok")).to_be_visible()
    assert arrive(lane, plate="DK1234AX") == "ambiguous"
    panel = page.locator("#candidates-card")
    expect(panel).to_be_visible()
    expect(panel.locator(".candidate")).to_have_count(2)
    expect(panel.locator(f".candidate[data-id='{second['permit']['id']}']")).to_contain_text(
        "R1-02"
    )
    expect(panel.locator(".candidate").first).to_contain_text("I W**** S******")

    chosen = panel.locator(f".candidate[data-id='{second['permit']['id']}']")
    chosen.locator(".pick").click()  # no KTP check yet
    expect(page.locator("#pick-result.error")).to_be_visible()
    page.fill("#pick-nik", DELEGATE_NIK)
    chosen.locator(".pick").click()
    expect(page.locator("#pick-result.error")).to_contain_text("tidak cocok")
    page.fill("#pick-nik", HOLDER_NIK)
    chosen.locator(".pick").click()
    # The pick answered ok; the card (and its status line) may already have closed as the
    # release reached the console: the class says it either way.
    expect(page.locator("#pick-result")).to_have_attribute("class", "ok")
    card = page.locator(f".permit-card[data-id='{second['permit']['id']}']")
    expect(card.locator(".slot-name")).to_contain_text("R1-02")
    expect(card.locator(".nik")).to_have_value(HOLDER_NIK)  # typed once, at the pick
    card.locator(".hand").click()
    expect(card.locator(".outcome.ok")).to_be_visible()
    with server.client("officer") as officer:
        picked = officer.get(f"/api/applications/{second['permit']['id']}").json()
        other = officer.get(f"/api/applications/{first['permit']['id']}").json()
    assert (picked["status"], other["status"]) == ("handed_over", "ready")
    assert unexpected(console) == []


def test_a_plate_the_entry_camera_read_is_in_the_fetch_now_lists(
    server: ServerProcess, browser: Any, lane: MqttPeer, expect: Any
) -> None:
    console = Console()
    ready = make_ready(server, "DK 808 RN", slot="R4-11")
    page = console_page(browser, console, server)
    runner_context = browser.new_context(viewport={"width": 800, "height": 900})
    runner = sign_in(runner_context, console, server, "operator-1", "/runner")
    expect(page.locator("#live-state.ok")).to_be_visible()
    expect(runner.locator("#fetch-none")).to_be_visible()
    # The site releases on a code: a plate alone pre-stages the permit.
    assert arrive(lane, plate="DK808RN", camera="entry") == "prestaged"
    item = page.locator(f"#fetch-now .fetch-item[data-id='{ready['permit']['id']}']")
    expect(item).to_contain_text("R4-11")
    expect(item).to_contain_text("DK 808 RN")
    expect(page.locator(".permit-card")).to_have_count(0)  # not at the window yet
    on_runner = runner.locator(f"#fetch-now .fetch-item[data-id='{ready['permit']['id']}']")
    expect(on_runner).to_contain_text("R4-11")
    expect(runner.locator("#fetch-none")).to_be_hidden()

    # The car shows its code at the window: released, and off the fetch-now lists.
    assert arrive(lane, code=ready["code"], plate="DK808RN") == "released"
    expect(page.locator(".permit-card .slot-name")).to_contain_text("R4-11")
    expect(item).to_have_count(0)
    expect(on_runner).to_have_count(0)
    runner_context.close()
    assert unexpected(console) == []


def test_an_ambiguous_plate_looked_up_by_hand_lists_its_candidates(
    server: ServerProcess, browser: Any, expect: Any
) -> None:
    console = Console()
    make_ready(server, "DK 2345 AB", slot="R5-01")
    second = make_ready(server, "DK 2345 AD", slot="R5-02")
    with server.client("operator-1") as operator:  # the read models have both permits
        for _ in range(100):
            found = operator.get("/api/lanes/1/candidates", params={"plate": "DK2345AX"})
            if len(found.json()["candidates"]) == 2:
                break
            time.sleep(0.05)
    page = console_page(browser, console, server)
    expect(page.locator("#live-state.ok")).to_be_visible()
    page.fill("#lookup-value", "DK 2345 AX")
    page.click("#lookup button[type=submit]")
    expect(page.locator("#lookup-result")).to_contain_text("Perlu dicek petugas")
    panel = page.locator("#candidates-card")
    expect(panel.locator(".candidate")).to_have_count(2)
    page.fill("#pick-reason", "KTP tertinggal, dicek SIM / KTP left home, driving licence checked")
    panel.locator(f".candidate[data-id='{second['permit']['id']}'] .pick").click()
    # The pick answered ok; the card (and its status line) may already have closed as the
    # release reached the console: the class says it either way.
    expect(page.locator("#pick-result")).to_have_attribute("class", "ok")
    card = page.locator(f".permit-card[data-id='{second['permit']['id']}']")
    expect(card.locator(".slot-name")).to_contain_text("R5-02")
    expect(panel).to_be_hidden()
    assert unexpected(console) == []
