"""The citizen's "Saya sudah di sini / I'm here" in a real browser against the real server:
the lane picked, the permit at its window, the wait on the lane board and on another
citizen's page; failing on any browser console error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Console
from tests.e2e.test_pages import sign_in
from tests.e2e.test_server_lane_flow import make_ready
from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """`drivethru serve` without a broker: "I'm here" needs no camera."""
    process = ServerProcess(tmp_path, None, "")
    process.start(wait_for_broker=False)
    try:
        yield process
    finally:
        process.stop()


def test_the_citizen_presses_im_here_and_the_lane_and_the_queue_show_it(
    server: ServerProcess, browser: Any
) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    console = Console()
    first = make_ready(server, "DK 2468 KL")["code"]
    second = make_ready(server, "DK 1357 MN", slot="R1-02")["code"]

    # The board outside lane 2's window: nobody waits yet.
    staff = browser.new_context(viewport={"width": 1280, "height": 800})
    board = sign_in(staff, console, server, "operator-2", "/lanes/2/board")
    expect(board.locator("#board-queue .l-id")).to_have_text("Tanpa antrean")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    citizen = console.watch(phone.new_page())
    citizen.goto(f"{server.url}/p/{first}")
    expect(citizen.locator("#status .l-id")).to_have_text("Siap diambil")
    expect(citizen.locator("#here li[data-lane='2'] .eta .l-id")).to_have_text("Tanpa antrean")
    citizen.select_option("#here-lane", "2")
    citizen.click("#here-button")

    # Back on the status page: the permit waits at lane 2's window, and no second press.
    citizen.wait_for_url(f"{server.url}/p/{first}#here")
    expect(citizen.locator("#status .l-id")).to_have_text("Di jendela, silakan maju")
    expect(citizen.locator(".pickup")).to_contain_text("Izin Anda sudah di Jendela 2.")
    expect(citizen.locator("#here-button")).to_have_count(0)
    citizen.click("#lang-switch")
    expect(citizen.locator("#status .l-en")).to_have_text("At the window, please drive up")

    # The board shows the car's plate and the queue it makes, live.
    expect(board.locator(".board-plate")).to_have_text("DK 2468 KL")
    expect(board.locator("#board-queue .l-id")).to_have_text("1 mobil · ±3 menit")

    # Another citizen on the way sees lane 2's wait; lane 1 is free.
    other = console.watch(phone.new_page())
    other.goto(f"{server.url}/p/{second}")
    expect(other.locator("#here li[data-lane='2'] .eta .l-id")).to_have_text("1 mobil · ±3 menit")
    expect(other.locator("#here li[data-lane='1'] .eta .l-id")).to_have_text("Tanpa antrean")
    expect(other.locator("#here-button")).to_be_visible()

    with server.client() as anyone:
        queues = {q["lane"]: q for q in anyone.get("/api/queue").json()}
    assert (queues["2"]["cars"], queues["2"]["eta_minutes"]) == (1, 3)
    phone.close()
    staff.close()
    assert console.errors == []
