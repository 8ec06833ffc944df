from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import PlateError
from core.plates import (
    MatchKind,
    correct_plate,
    display_plate,
    grammar_candidates,
    match_plate,
    normalise_plate,
    parse_plate,
    plate_distance,
)


@pytest.mark.parametrize(
    ("raw", "normal", "shown"),
    [
        ("AB 1234 XY", "AB1234XY", "AB 1234 XY"),
        ("ab-1234-xy", "AB1234XY", "AB 1234 XY"),
        ("B 1 A", "B1A", "B 1 A"),
        ("B 1907 TJQ", "B1907TJQ", "B 1907 TJQ"),
        ("D 4455", "D4455", "D 4455"),
        ("DK 77 XY", "DK77XY", "DK 77 XY"),
        ("L 9 Z", "L9Z", "L 9 Z"),
        ("BK 1010 AAA", "BK1010AAA", "BK 1010 AAA"),
        ("KT 2345 FG", "KT2345FG", "KT 2345 FG"),
        ("PA 8 C", "PA8C", "PA 8 C"),
    ],
)
def test_real_looking_plates_normalise_and_display(raw: str, normal: str, shown: str) -> None:
    assert normalise_plate(raw) == normal
    assert display_plate(normal) == shown
    assert parse_plate(raw).display == shown


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "kosong"),
        ("AB 0123 XY", "TNKB"),
        ("AB 12345 XY", "TNKB"),
        ("ABC 123", "TNKB"),
        ("AB 123 WXYZ", "TNKB"),
        ("1234", "TNKB"),
        ("QQ 1234 AB", "wilayah"),
        ("XX 1 A", "wilayah"),
    ],
)
def test_what_is_not_a_plate_is_refused_with_the_reason(raw: str, why: str) -> None:
    with pytest.raises(PlateError, match=why):
        parse_plate(raw)


@pytest.mark.parametrize(
    ("read", "plate"),
    [
        ("DK1234A8", "DK1234AB"),  # 8 in the suffix is a B
        ("DKI234AB", "DK1234AB"),  # I in the number is a 1
        ("0K1234AB", "DK1234AB"),  # 0 in the region is a D
        ("AB12S4XY", "AB1254XY"),  # S in the number is a 5
        ("B1Z34TJQ", "B1234TJQ"),  # Z in the number is a 2
        ("8 4521 KD", "B4521KD"),  # 8 alone in the region is a B
        ("AB 4O21 KD", "AB4021KD"),  # O in the number is a 0
        ("AB 1234 X4", "AB1234XA"),  # 4 in the suffix is an A
    ],
)
def test_look_alikes_are_fixed_by_position(read: str, plate: str) -> None:
    fixed = correct_plate(read)
    assert fixed is not None
    assert fixed.text == plate


@pytest.mark.parametrize("sign", ["TOKO", "SALE 50", "PERTAMINA", "12.29", "08.27", "OPEN 24"])
def test_signs_and_the_expiry_line_are_not_plates(sign: str) -> None:
    assert correct_plate(sign) is None


def test_candidates_list_fewest_swaps_first() -> None:
    ranked = grammar_candidates("DK1234AB")
    assert ranked[0].plate.text == "DK1234AB"
    assert ranked[0].corrections == 0
    assert all(a.corrections <= b.corrections for a, b in itertools_pairs(ranked))


def itertools_pairs(items: list[object]) -> list[tuple[object, object]]:
    return list(itertools.pairwise(items))


def test_look_alike_swaps_cost_less_than_other_swaps() -> None:
    assert plate_distance("DK1234AB", "DK1234AB") == 0
    assert plate_distance("DK1234AB", "DK1234A8") == pytest.approx(0.3)
    assert plate_distance("DK1234AB", "DK1234AX") == pytest.approx(1.0)
    assert plate_distance("DK1234AB", "DK124AB") == pytest.approx(1.0)


def test_an_exact_read_matches_exactly() -> None:
    found = match_plate("DK1234AB", ["DK1234AB", "DK4321AB", "AB1234XY"])
    assert found.kind is MatchKind.EXACT
    assert found.plate == "DK1234AB"


def test_a_read_the_grammar_fixes_matches_exactly() -> None:
    found = match_plate("DK1234A8", ["DK1234AB", "DK1284AB"])
    assert found.kind is MatchKind.EXACT
    assert found.plate == "DK1234AB"


def test_a_near_read_matches_the_nearest_when_it_stands_out() -> None:
    found = match_plate("DK1234AC", ["DK1234AG", "AB9999XY"])
    assert found.kind is MatchKind.NEAR
    assert found.plate == "DK1234AG"


def test_two_equally_near_plates_are_ambiguous_not_guessed() -> None:
    found = match_plate("DK1234A", ["DK1234AB", "DK1234AE"])
    assert found.kind is MatchKind.AMBIGUOUS
    assert found.plate is None
    assert set(found.candidates) == {"DK1234AB", "DK1234AE"}


def test_a_far_read_matches_nothing() -> None:
    found = match_plate("B9999ZZZ", ["DK1234AB"])
    assert found.kind is MatchKind.NONE
    assert found.plate is None
    assert match_plate("DK1234AB", []).kind is MatchKind.NONE


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-", max_size=14))
def test_correction_always_yields_a_valid_plate_or_none(raw: str) -> None:
    fixed = correct_plate(raw)
    if fixed is not None:
        assert parse_plate(fixed.text) == fixed


@given(st.text(alphabet="ABDK0123456789", min_size=1, max_size=9))
def test_distance_is_symmetric_and_zero_only_for_equal(raw: str) -> None:
    other = raw[::-1]
    assert plate_distance(raw, other) == pytest.approx(plate_distance(other, raw))
    assert (plate_distance(raw, other) == 0) == (raw == other)
