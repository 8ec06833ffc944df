from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.codes import PickupCode, mask_name, mask_nik, nik_hash
from core.errors import PickupCodeError


def test_a_new_code_is_dt1_and_26_base32_characters() -> None:
    code = PickupCode.generate()
    assert code.text.startswith("DT1:")
    assert len(code.text) == 30
    assert set(code.text[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_codes_do_not_repeat() -> None:
    assert len({PickupCode.generate().text for _ in range(2000)}) == 2000


def test_a_code_parses_back_forgiving_case_and_space() -> None:
    code = PickupCode.generate()
    assert PickupCode.parse(f"  {code.text.lower()} \n") == code


def test_the_hash_is_sha256_of_the_text() -> None:
    code = PickupCode.generate()
    assert code.sha256 == hashlib.sha256(code.text.encode()).hexdigest()
    assert code.matches(code.sha256.upper())
    assert not code.matches(PickupCode.generate().sha256)


def test_the_code_text_never_shows_in_repr_or_str() -> None:
    code = PickupCode.generate()
    assert code.text[8:] not in repr(code)
    assert code.text[8:] not in str(code)
    assert code.text[8:] not in f"{code}"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "awalan"),
        ("DT2:AAAAAAAAAAAAAAAAAAAAAAAAAA", "awalan"),
        ("DT1:AAAAAAAAAAAAAAAAAAAAAAAAA", "panjang 25"),
        ("DT1:AAAAAAAAAAAAAAAAAAAAAAAAAAA", "panjang 27"),
        ("DT1:AAAAAAAAAAAAAAAAAAAAAAAA1A", "base32"),
        ("DT1:AAAAAAAAAAAAAAAAAAAAAAAAAB", "bit penutup"),
        ("https://example.com/DT1:AAAA", "awalan"),
    ],
)
def test_malformed_codes_are_refused_with_the_reason(raw: str, why: str) -> None:
    with pytest.raises(PickupCodeError, match=why):
        PickupCode.parse(raw)
    assert not PickupCode.is_well_formed(raw)


@given(st.text(max_size=40))
def test_parse_never_crashes_on_any_text(raw: str) -> None:
    try:
        code = PickupCode.parse(raw)
    except PickupCodeError:
        return
    assert PickupCode.parse(code.text) == code


def test_nik_is_kept_only_as_a_keyed_hash() -> None:
    one = nik_hash("5103011204800001", b"key-one-0123456789")
    assert one == nik_hash("5103 0112 0480 0001", b"key-one-0123456789")
    assert one != nik_hash("5103011204800001", b"key-two-0123456789")
    assert "5103011204800001" not in one
    with pytest.raises(ValueError, match="16"):
        nik_hash("12345", b"key")


def test_masks_show_little() -> None:
    assert mask_nik("5103011204800001") == "5103********0001"
    assert mask_name("I Wayan Sudirta") == "I W**** S******"
