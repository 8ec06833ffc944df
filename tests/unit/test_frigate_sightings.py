"""Frigate's plate messages mapped to a lane's v1 arrivals (edge_lane.frigate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_lane.errors import ConfigError
from edge_lane.frigate.config import FrigateLaneSettings, build_frigate_settings
from edge_lane.frigate.sightings import (
    Departed,
    FrigateDesk,
    RateLimitedWarnings,
    Sighted,
    Skip,
    Skipped,
    visit_of,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "frigate"
EVENTS, UPDATES = "frigate/events", "frigate/tracked_object_update"
EVENT_ID = "1767225600.123456-dk1234"
CONFIG = """
site = "badung"
[frigate]
broker = "mqtt://nvr.local:1883"
topic_prefix = "frigate"
min_score = 0.8
[[cameras]]
camera = "drive_thru_1"
zones = ["window_1"]
lane = "1"
[broker]
url = "mqtt://127.0.0.1:1883"
[outbox]
path = "var/frigate-outbox.db"
"""


def fixture(name: str, **after: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    if after:
        document["after"].update(after)
    return document


def lpr(**fields: Any) -> bytes:
    return json.dumps({**fixture("lpr_update.json"), **fields}).encode()


def settings(zones: tuple[str, ...] = ()) -> FrigateLaneSettings:
    import tomllib

    raw = tomllib.loads(CONFIG)
    raw["cameras"][0]["zones"] = list(zones)
    return build_frigate_settings(raw, origin="test")


def test_the_issue_s_config_file_is_valid_and_unknown_keys_are_refused() -> None:
    import tomllib

    valid = build_frigate_settings(tomllib.loads(CONFIG), origin="test")
    assert (valid.lane, valid.frigate.events_topic) == ("1", "frigate/events")
    assert valid.cameras[0].zones == ("window_1",)
    with pytest.raises(ConfigError, match="kolom tidak dikenal"):
        build_frigate_settings({**tomllib.loads(CONFIG), "colour": "red"}, origin="test")
    two_lanes = tomllib.loads(CONFIG)
    two_lanes["cameras"].append({"camera": "drive_thru_2", "lane": "2"})
    with pytest.raises(ConfigError, match="one bridge per lane"):
        build_frigate_settings(two_lanes, origin="test")


def test_an_lpr_update_becomes_a_frigate_arrival_of_the_camera_s_lane() -> None:
    outcome = FrigateDesk(settings()).take(UPDATES, lpr())
    assert isinstance(outcome, Sighted)
    arrival = outcome.arrival
    assert (arrival.site, arrival.lane, arrival.camera, arrival.source) == (
        "badung", "1", "drive_thru_1", "frigate",
    )  # fmt: skip
    assert arrival.plate is not None
    assert (arrival.plate.text, arrival.plate.confidence, arrival.plate.frames) == (
        "DK1234AB", 0.91, 1,
    )  # fmt: skip
    assert arrival.visit == visit_of(EVENT_ID)
    assert arrival.code_sha256 is None


def test_an_events_update_with_a_recognised_plate_becomes_an_arrival() -> None:
    desk = FrigateDesk(settings(zones=("window_1",)))
    outcome = desk.take(EVENTS, json.dumps(fixture("event_update.json")).encode())
    assert isinstance(outcome, Sighted)
    assert outcome.arrival.plate is not None
    assert outcome.arrival.plate.text == "DK1234AB"
    assert outcome.arrival.plate.confidence == pytest.approx(0.933451)
    assert outcome.known_as == "Pak Wayan"  # Frigate's known-plate name, kept as evidence


def test_only_configured_cameras_count() -> None:
    outcome = FrigateDesk(settings()).take(UPDATES, lpr(camera="parking_lot"))
    assert outcome == Skipped(Skip.OTHER_CAMERA, "parking_lot")


def test_only_plates_seen_in_the_configured_zones_count() -> None:
    desk = FrigateDesk(settings(zones=("window_1",)))
    elsewhere = fixture("event_update.json", current_zones=["approach"], entered_zones=["approach"])
    outcome = desk.take(EVENTS, json.dumps(elsewhere).encode())
    assert isinstance(outcome, Skipped)
    assert outcome.reason is Skip.OUTSIDE_ZONES
    # An lpr update has no zones: it counts once the event's messages place the car in a zone.
    assert isinstance(desk.take(UPDATES, lpr()), Skipped)
    desk.take(EVENTS, json.dumps(fixture("event_new_no_plate.json")).encode())
    assert isinstance(desk.take(UPDATES, lpr()), Sighted)


def test_scores_below_min_score_are_ignored() -> None:
    desk = FrigateDesk(settings())
    assert desk.take(UPDATES, lpr(score=0.79)) == Skipped(Skip.LOW_SCORE, "0.79")
    assert isinstance(desk.take(UPDATES, lpr(score=0.8)), Sighted)


def test_a_plate_outside_the_tnkb_grammar_is_ignored_counted_and_logged_rate_limited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [0.0]
    desk = FrigateDesk(settings(), RateLimitedWarnings(interval=60, clock=lambda: clock[0]))
    for _ in range(5):
        outcome = desk.take(UPDATES, lpr(plate="123ABC"))
        assert isinstance(outcome, Skipped)
        assert outcome.reason is Skip.NOT_TNKB
    assert desk.skipped[Skip.NOT_TNKB] == 5
    assert len([r for r in caplog.records if "not TNKB" in r.message]) == 1
    clock[0] = 61
    desk.take(UPDATES, lpr(plate="123ABC"))
    lines = [r.message for r in caplog.records if "not TNKB" in r.message]
    assert len(lines) == 2
    assert "+4" in lines[1]


def test_duplicates_of_one_frigate_event_are_one_visit_and_send_nothing_more() -> None:
    desk = FrigateDesk(settings())
    first = desk.take(UPDATES, lpr())
    again = [desk.take(UPDATES, lpr(score=0.95)) for _ in range(3)]
    as_event = desk.take(EVENTS, json.dumps(fixture("event_update.json")).encode())
    assert isinstance(first, Sighted)
    assert all(o == Skipped(Skip.SAME_PLATE, "DK1234AB") for o in [*again, as_event])


def test_a_better_plate_for_the_same_event_is_a_new_arrival_of_the_same_visit() -> None:
    desk = FrigateDesk(settings())
    first = desk.take(UPDATES, lpr(plate="DK 1234 A", score=0.82))
    worse = desk.take(UPDATES, lpr(plate="DK 1284 AB", score=0.81))
    better = desk.take(UPDATES, lpr(plate="DK 1234 AB", score=0.93))
    assert isinstance(first, Sighted)
    assert isinstance(better, Sighted)
    assert worse == Skipped(Skip.NOT_BETTER, "DK1284AB")
    assert better.arrival.visit == first.arrival.visit
    assert better.arrival.id != first.arrival.id
    assert better.arrival.plate is not None
    assert better.arrival.plate.frames == 3
    other_car = desk.take(UPDATES, lpr(id="1767225700.000001-other", plate="B 987 CD"))
    assert isinstance(other_car, Sighted)
    assert other_car.arrival.visit != first.arrival.visit


def test_frigate_s_known_plate_name_never_decides() -> None:
    desk = FrigateDesk(settings())
    # Known to Frigate, but no plate read: nothing to send.
    known_only = fixture("event_update.json", recognized_license_plate=None)
    assert isinstance(desk.take(EVENTS, json.dumps(known_only).encode()), Skipped)
    # Known to Frigate, plate read below min_score: still nothing.
    low = fixture("event_update.json", recognized_license_plate_score=0.5)
    assert isinstance(desk.take(EVENTS, json.dumps(low).encode()), Skipped)
    # The arrival is the same with and without the name: the server decides on the plate.
    named = FrigateDesk(settings()).take(UPDATES, lpr(name="Pak Wayan"))
    unnamed = FrigateDesk(settings()).take(UPDATES, lpr(name=None))
    assert isinstance(named, Sighted)
    assert isinstance(unnamed, Sighted)
    assert named.known_as == "Pak Wayan"
    assert unnamed.known_as is None
    assert named.arrival.model_dump(exclude={"id", "at"}) == unnamed.arrival.model_dump(
        exclude={"id", "at"}
    )


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (UPDATES, b"\xff\xfe not utf-8"),
        (UPDATES, b"{not json"),
        (UPDATES, b"[1, 2]"),
        (UPDATES, json.dumps({"type": "lpr", "id": "x", "camera": "drive_thru_1"}).encode()),
        (UPDATES, lpr(score="high")),
        (UPDATES, lpr(score=7)),
        (EVENTS, json.dumps({"type": "update"}).encode()),
        (EVENTS, json.dumps({"type": "moved", "after": {}}).encode()),
        (EVENTS, json.dumps(fixture("event_update.json", recognized_license_plate_score=None))
         .encode()),
    ],
)  # fmt: skip
def test_malformed_frigate_messages_are_counted_never_raised(topic: str, payload: bytes) -> None:
    desk = FrigateDesk(settings())
    outcome = desk.take(topic, payload)
    assert isinstance(outcome, Skipped)
    assert outcome.reason is Skip.MALFORMED
    assert desk.skipped[Skip.MALFORMED] == 1


def test_other_tracked_object_updates_are_ignored_quietly() -> None:
    desk = FrigateDesk(settings())
    face = (FIXTURES / "face_update.json").read_bytes()
    assert desk.take(UPDATES, face) == Skipped(Skip.NOT_A_PLATE_MESSAGE)
    assert desk.skipped[Skip.MALFORMED] == 0


def test_the_events_remembered_are_bounded() -> None:
    desk = FrigateDesk(settings(), max_events=2)
    for n in range(3):
        assert isinstance(desk.take(UPDATES, lpr(id=f"event-{n}")), Sighted)
    # The oldest was forgotten: its plate again is sent again, under the same visit.
    again = desk.take(UPDATES, lpr(id="event-0"))
    assert isinstance(again, Sighted)
    assert again.arrival.visit == visit_of("event-0")


def test_the_end_of_an_event_that_sent_an_arrival_is_its_departure() -> None:
    desk = FrigateDesk(settings(zones=("window_1",)))
    sighted = desk.take(EVENTS, json.dumps(fixture("event_update.json")).encode())
    assert isinstance(sighted, Sighted)
    end = {**fixture("event_update.json"), "type": "end"}
    outcome = desk.take(EVENTS, json.dumps(end).encode())
    assert isinstance(outcome, Departed)
    departure = outcome.departure
    assert (departure.site, departure.lane, departure.camera) == ("badung", "1", "drive_thru_1")
    assert departure.visit == sighted.arrival.visit
    # Its end again, or the end of an event that sent nothing: no departure.
    assert isinstance(desk.take(EVENTS, json.dumps(end).encode()), Skipped)
    other = {**end, "after": {**end["after"], "id": "1767225700.1-other"}}
    assert isinstance(desk.take(EVENTS, json.dumps(other).encode()), Skipped)
