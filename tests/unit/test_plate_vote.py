"""A visit's plate voted character by character from the recogniser's probabilities."""

from __future__ import annotations

import itertools
from uuid import UUID

from edge_lane.visits import ArrivalDecision, Observation, PlateSighting, VisitTracker, VotingRules
from plate_reader.decode import vote
from plate_reader.ocr import ALPHABET

Evidence = tuple[tuple[float, ...], ...]


def _evidence(text: str, doubts: dict[int, dict[str, float]] | None = None) -> Evidence:
    """Per-character probabilities for ``text``: sure of each character, except at the
    positions in ``doubts``, which give their own classes."""
    rows = []
    for position, char in enumerate(text):
        row = dict.fromkeys(ALPHABET, 0.0005)
        row.update((doubts or {}).get(position, {char: 0.98}))
        total = sum(row.values())
        rows.append(tuple(row[c] / total for c in ALPHABET))
    return tuple(rows)


def test_a_character_one_frame_misread_is_outvoted_by_the_others_evidence() -> None:
    frames = [
        _evidence("AA1254LT", {3: {"2": 0.55, "4": 0.45}}),
        _evidence("AA1254LT", {3: {"2": 0.52, "4": 0.48}}),
        _evidence("AA1254LT", {3: {"2": 0.6, "4": 0.4}}),
        _evidence("AA1454LT", {3: {"4": 0.97, "2": 0.01}}),
        _evidence("AA1454LT", {3: {"4": 0.95, "2": 0.03}}),
    ]
    spelled = vote(frames, (2, 4, 2))
    assert spelled is not None
    assert spelled.plate.text == "AA1454LT"


def test_a_plate_no_single_frame_read_whole_is_voted_from_its_characters() -> None:
    # Each frame doubts a different character and gets it wrong; the others see it right.
    truth = "AB3241MX"
    frames = [
        _evidence(truth, {4: {"6": 0.55, "4": 0.45}}),
        _evidence(truth, {2: {"8": 0.55, "3": 0.45}}),
        _evidence(truth, {7: {"K": 0.55, "X": 0.45}}),
    ]
    assert all(max(range(36), key=lambda k: f[i][k]) != ALPHABET.index(truth[i]) for f, i in
               zip(frames, (4, 2, 7), strict=True))  # fmt: skip
    spelled = vote(frames, (2, 4, 2))
    assert spelled is not None
    assert spelled.plate.text == truth


def test_readings_of_different_lengths_are_not_voted_together() -> None:
    assert vote([_evidence("AB3241MX"), _evidence("AB324MX")], (2, 4, 2)) is None
    assert vote([], (2, 4, 2)) is None


def test_the_vote_keeps_the_split_the_frames_read_from_the_image() -> None:
    # The model favours 0 over O at the end, as it does for the typeface's twins; the frames'
    # readings split M 34 O by the gap they saw, and the vote must not make it M 340.
    frames = [_evidence("M34O", {3: {"0": 0.6, "O": 0.4}})] * 3
    for split, text in (((1, 2, 1), "M34O"), ((1, 3, 0), "M340")):
        spelled = vote(frames, split)
        assert spelled is not None
        assert spelled.plate.text == text


def test_the_visit_sends_the_plate_its_frames_vote_for_not_the_most_read_string() -> None:
    ids = (UUID(int=n) for n in itertools.count(1))
    tracker = VisitTracker(
        VotingRules(depart_after_frames=5, plate_min_frames=5), new_id=lambda: next(ids)
    )
    doubtful = _evidence("AA1254LT", {3: {"2": 0.55, "4": 0.45}})
    sure = _evidence("AA1454LT", {3: {"4": 0.97, "2": 0.01}})
    reads = [("AA1254LT", doubtful)] * 3 + [("AA1454LT", sure)] * 2
    events = []
    for frame, (text, evidence) in enumerate(reads):
        # The doubtful reads are the surer whole strings: a string count would send them.
        sighting = PlateSighting(text, 0.92 if text == "AA1254LT" else 0.9, evidence=evidence)
        events += tracker.observe(Observation("window", frame, True, True, sighting))
    arrivals = [e for e in events if isinstance(e, ArrivalDecision)]
    assert len(arrivals) == 1
    assert arrivals[0].plate is not None
    assert arrivals[0].plate.text == "AA1454LT"
    assert arrivals[0].plate.frames == 5


def test_the_next_cars_plate_does_not_join_the_vote() -> None:
    ids = (UUID(int=n) for n in itertools.count(1))
    tracker = VisitTracker(
        VotingRules(depart_after_frames=5, plate_min_frames=3, plate_min_share=0.5),
        new_id=lambda: next(ids),
    )
    events = []
    reads = ["DK1234AB"] * 4 + ["BE5678XY"] * 2
    for frame, text in enumerate(reads):
        sighting = PlateSighting(text, 0.9, evidence=_evidence(text))
        events += tracker.observe(Observation("window", frame, True, True, sighting))
    arrivals = [e for e in events if isinstance(e, ArrivalDecision)]
    assert [a.plate.text for a in arrivals if a.plate is not None] == ["DK1234AB"]
