"""The read schedule, the choice of a frame's plate, and the code hashing."""

from __future__ import annotations

from uuid import uuid4

from core.codes import PickupCode
from core.contract import Release, ReleasedPermit
from core.plates import match_plate
from edge_lane.config import CameraRole, Thresholds
from edge_lane.display import describe_release
from edge_lane.visits import VisitView
from edge_lane.watch import best_plate, code_hashes, plan_reads
from plate_reader import PlateRead, QrRead

RULES = Thresholds(read_every=2, stationary_read_every=10)


def test_before_any_arrival_the_window_reads_codes_and_plates_every_other_frame() -> None:
    plans = [plan_reads(CameraRole.WINDOW, n, None, RULES) for n in range(4)]
    assert [(p.qr, p.plates) for p in plans] == [(True, True), (False, False)] * 2


def test_an_entry_camera_never_reads_codes() -> None:
    assert not any(plan_reads(CameraRole.ENTRY, n, None, RULES).qr for n in range(10))


def test_a_waiting_car_with_a_plate_sent_is_read_rarely_for_plates_often_for_codes() -> None:
    view = VisitView(uuid4(), has_code=False, has_plate=True, arrivals=1)
    plans = [plan_reads(CameraRole.WINDOW, n, view, RULES) for n in range(20)]
    assert sum(p.plates for p in plans) == 2
    assert sum(p.qr for p in plans) == 10


def test_a_matched_plate_wins_over_a_higher_unmatched_one() -> None:
    reads = (
        PlateRead("AB1234CD", 0.99, (0, 0, 1, 1), ()),
        PlateRead("DK1Z34AB", 0.7, (0, 0, 1, 1), (), match_plate("DK1Z34AB", ["DK1234AB"])),
    )
    sighting = best_plate(reads)
    assert sighting is not None
    assert sighting.key == "DK1234AB"


def test_only_valid_codes_are_hashed_and_their_text_goes_no_further() -> None:
    code = PickupCode.generate()
    reads = (
        QrRead(code.text, True, ()),
        QrRead(code.text, True, ()),
        QrRead("https://example.com", False, ()),
    )
    hashes = code_hashes(reads)
    assert hashes == (code.sha256,)
    assert code.text not in repr(hashes)


def test_the_display_says_plate_window_and_count_or_see_the_operator() -> None:
    permit = ReleasedPermit(id="p1", number="IZN-1", slot="R2-14", holder="I** W*****")
    state = describe_release(
        Release(lane="1", window="2", visit=uuid4(), plate="DK1234AB", permits=[permit])
    )
    assert (state.headline, state.detail_id) == ("DK 1234 AB", "Jendela 2 — 1 izin")
    assert state.detail_en == "Window 2 — 1 permit"
    nobody = describe_release(Release(lane="1", window="2", visit=uuid4(), see_operator=True))
    assert nobody.see_operator
    assert nobody.detail_id == "Silakan ke petugas"
