"""The lane display's local page: what a driver reads from the car, over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from core.contract import Release, ReleasedPermit
from edge_lane.display import DisplayServer, LaneDisplay


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_page_and_its_state_follow_the_releases() -> None:
    display = LaneDisplay("1")
    server = DisplayServer(display, 0)
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        status, page = fetch(f"{base}/")
        assert status == 200
        assert "Jalur 1" in page or "jalur 1" in page.lower()
        assert "http://" not in page.replace(base, "")  # nothing fetched from elsewhere
        idle = json.loads(fetch(f"{base}/state")[1])
        assert idle["detail_id"] == "Selamat datang"
        permit = ReleasedPermit(id="p", number="IZN-1", slot="R2-14", holder="I W**** S******")
        display.show_release(
            Release(lane="1", window="2", visit=uuid.uuid4(), plate="DK1234AB", permits=[permit])
        )
        shown = json.loads(fetch(f"{base}/state")[1])
        assert shown["headline"] == "DK 1234 AB"
        assert shown["detail_id"] == "Jendela 2 — 1 izin"
        assert shown["detail_en"] == "Window 2 — 1 permit"
        assert shown["seq"] > idle["seq"]
        display.show_release(Release(lane="1", window="2", visit=uuid.uuid4(), see_operator=True))
        assert json.loads(fetch(f"{base}/state")[1])["see_operator"] is True
        assert fetch(f"{base}/nope")[0] == 404
    finally:
        server.stop()


@pytest.mark.parametrize("count", [2, 3])
def test_several_permits_are_counted_in_both_languages(count: int) -> None:
    display = LaneDisplay("3")
    permits = [
        ReleasedPermit(id=f"p{i}", number=f"N-{i}", slot=None, holder="A***") for i in range(count)
    ]
    state = display.show_release(
        Release(lane="3", window="1", visit=uuid.uuid4(), plate="B1A", permits=permits)
    )
    assert state.detail_id == f"Jendela 1 — {count} izin"
    assert state.detail_en == f"Window 1 — {count} permits"


def test_a_release_for_a_visit_that_ended_is_not_shown() -> None:
    # The server shows a release again when an arrival is sent again; the car may be gone.
    display = LaneDisplay("1")
    gone, here = uuid.uuid4(), uuid.uuid4()
    display.show_release(Release(lane="1", window="1", visit=gone, see_operator=True))
    display.visit_ended(gone)
    assert display.state.visit is None
    state = display.show_release(Release(lane="1", window="1", visit=gone, see_operator=True))
    assert state.visit is None
    assert display.state.visit is None
    assert display.show_release(Release(lane="1", window="2", visit=here)).visit == str(here)
