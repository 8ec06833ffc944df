"""Complaints answered, in a real browser against the real server: the citizen rates, the
office filters, answers and closes on its screen, and the citizen reads the answer."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Console
from tests.e2e.test_here_page import server as server  # its broker-less server fixture
from tests.e2e.test_pages import sign_in
from tests.e2e.test_server_lane_flow import make_ready
from tests.factories import NIK
from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow


def collected(server: ServerProcess, plate: str) -> str:
    """A permit collected at lane 1 (arrived by "I'm here", handed over): its code."""
    code: str = make_ready(server, plate, slot=f"R9-{uuid.uuid4().hex[:4]}")["code"]
    with server.client() as citizen:
        here = citizen.post("/api/lanes/1/here", json={"code": code})
        assert here.status_code == 200, here.text
    with server.client("operator-1") as operator:
        handed = operator.post(
            "/api/lanes/1/handover",
            json={"permit_id": here.json()["permit_id"], "handover_id": uuid.uuid4().hex,
                  "recipient": "owner", "nik": NIK},
        )  # fmt: skip
        assert handed.status_code == 200, handed.text
    return code


def test_the_office_answers_a_complaint_and_the_citizen_reads_it(
    server: ServerProcess, browser: Any
) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    console = Console()
    unhappy, happy = collected(server, "DK 1111 AA"), collected(server, "DK 2222 BB")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    citizen = console.watch(phone.new_page())
    for code, stars, text in ((unhappy, 2, "Menunggu lama di jendela"), (happy, 5, "")):
        citizen.goto(f"{server.url}/p/{code}")
        expect(citizen.locator("#status .l-id")).to_have_text("Sudah diambil")
        citizen.locator(".star").nth(stars - 1).click()
        citizen.fill("#complaint", text)
        citizen.locator("#feedback button[type=submit]").click()
        expect(citizen.locator("#feedback strong")).to_have_text(f"{stars} / 5")
    expect(citizen.locator("#complaint")).to_have_count(0)  # nothing answered yet

    staff = browser.new_context(viewport={"width": 1400, "height": 900})
    office = sign_in(staff, console, server, "officer", "/office/complaints")
    rows = office.locator("#complaints tbody tr[data-id]")
    expect(rows).to_have_count(2)
    office.select_option("#complaint-filters [name=rating]", "2")
    office.click("#complaint-filters button[type=submit]")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row.locator(".complaint-text")).to_have_text("Menunggu lama di jendela")
    expect(row.locator(".where .l-id")).to_have_text("Jalur 1")
    row.locator("[name=answer]").fill("Mohon maaf, petugas jendela 1 kini dua orang.")
    row.locator("form[data-action=answer] button").click()
    answered = office.locator("#complaints tbody tr[data-state=answered]")
    expect(answered).to_have_count(1)
    expect(answered.locator(".answer")).to_contain_text("kini dua orang")

    # The open one, closed without an answer: it leaves the open filter.
    office.goto(f"{server.url}/office/complaints?state=open")
    expect(rows).to_have_count(1)
    rows.first.locator("form[data-action=close] [name=reason]").fill("tanpa keluhan")
    rows.first.locator("form[data-action=close] button").click()
    expect(office.locator("#complaints tbody tr[data-id]")).to_have_count(0)

    citizen.goto(f"{server.url}/p/{unhappy}")
    expect(citizen.locator("#complaint-answer")).to_have_text(
        "Mohon maaf, petugas jendela 1 kini dua orang."
    )
    citizen.goto(f"{server.url}/p/{happy}")
    expect(citizen.locator("#complaint p .l-id")).to_have_text("Pengaduan Anda sudah ditutup.")
    phone.close()
    staff.close()
    assert console.errors == []
