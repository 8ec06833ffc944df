"""The team device's own page in a real browser: check a code, hand over, see it synced."""

from __future__ import annotations

from typing import Any

import pytest

from core.codes import PickupCode
from core.contract import TeamAck, TeamHandover, decode, encode
from tests.e2e.conftest import Console
from tests.integration import test_mobile_device as mobile
from tests.integration.test_mobile_device import (
    TOPICS,
    MobileDevice,
    eventually,
    publish_manifest,
    team_permit,
)
from tests.mqtt_peer import MqttPeer

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(180)]


# The device process and the stand-in server, as the device's own tests run them.
device = mobile.device
server_peer = mobile.server_peer


def test_an_officer_checks_a_code_and_hands_over_on_the_device_page(
    browser: Any, device: MobileDevice, server_peer: MqttPeer
) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    owner, other = PickupCode.generate(), PickupCode.generate()
    publish_manifest(server_peer, team_permit(1, owner), team_permit(2, other))
    device.start()
    eventually(lambda: len(device.state()["permits"]) == 2, what="the manifest")

    console = Console()
    context = browser.new_context(
        geolocation={"latitude": -8.58, "longitude": 115.18}, permissions=["geolocation"]
    )
    page = console.watch(context.new_page())
    page.goto(device.url)
    expect(page.locator("#link")).to_have_text("terhubung / online")
    expect(page.locator("#rows tr")).to_have_count(2)

    # A code this team does not carry is refused on the spot, in Bahasa Indonesia first.
    page.fill("#code", PickupCode.generate().text)
    page.click("#scanform button")
    expect(page.locator("#verdict h3")).to_contain_text("DITOLAK")

    # The owner's code: the permit to hand over, the KTP tick, the button.
    page.fill("#code", owner.text)
    page.click("#scanform button")
    expect(page.locator("#verdict h3")).to_contain_text("Serahkan MPP/BADUNG/0001")
    page.check("#idchecked")
    page.click("#verdict button")
    expect(page.locator("#verdict h3")).to_have_text("Tercatat / Recorded: MPP/BADUNG/0001")
    expect(page.locator("#unsynced")).to_have_text("1")

    # The server hears it with the device's position, and acks it: the page shows it synced.
    message = server_peer.wait_for(lambda m: True, timeout=20)
    handover = decode(TeamHandover, message.payload)
    assert handover.id_checked
    assert handover.position is not None
    assert round(handover.position.lat, 2) == -8.58
    server_peer.publish(TOPICS.team_acks("a"), encode(TeamAck(id=handover.id, outcome="applied")))
    expect(page.locator("#unsynced")).to_have_text("0", timeout=10_000)
    expect(page.locator("#rows")).to_contain_text("tersinkron")
    assert console.errors == []
    context.close()
