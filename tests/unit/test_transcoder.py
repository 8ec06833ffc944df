"""The orjson transcoder writes and reads exactly what the library's JSONTranscoder does."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from hypothesis import given
from hypothesis import strategies as st

from core.transcoder import OrjsonTranscoder


def library() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


class Method(StrEnum):
    CODE = "code"


leaves = (
    st.none() | st.booleans() | st.text() | st.uuids()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(UTC)) | st.decimals(allow_nan=False, allow_infinity=False)
)  # fmt: skip
states = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), states, max_size=6))
def test_either_transcoder_reads_what_the_other_wrote(state: dict[str, Any]) -> None:
    ours, theirs = OrjsonTranscoder(), library()
    assert ours.decode(ours.encode(state)) == theirs.decode(theirs.encode(state))
    assert ours.decode(theirs.encode(state)) == theirs.decode(theirs.encode(state))
    assert theirs.decode(ours.encode(state)) == theirs.decode(theirs.encode(state))


def test_an_event_state_is_written_in_the_library_format() -> None:
    visit = uuid.uuid4()
    at = datetime(2026, 11, 29, 9, 30, tzinfo=UTC) + timedelta(microseconds=5)
    state = {"timestamp": at, "lane": "3", "visit": visit, "method": Method.CODE,
             "permits": ("a", "b"), "amount": Decimal("50000.00"), "by_code": None}  # fmt: skip
    written = OrjsonTranscoder().encode(state)
    assert written == library().encode(state)  # byte for byte
    assert OrjsonTranscoder().decode(written) == {**state, "method": "code", "permits": ["a", "b"]}


def test_values_orjson_cannot_hold_go_through_the_library() -> None:
    ours, theirs = OrjsonTranscoder(), library()
    for state in ({"big": 2**70}, {"nan": math.nan}, {1: "int key"}):
        assert ours.encode(state) == theirs.encode(state)
    assert ours.decode(theirs.encode({"big": 2**70})) == {"big": 2**70}
    assert math.isnan(ours.decode(theirs.encode({"nan": math.nan}))["nan"])


def test_unknown_types_are_refused_as_the_library_refuses_them() -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        OrjsonTranscoder().encode({"x": object()})
    with pytest.raises(TranscodingNotRegisteredError):
        OrjsonTranscoder().decode(b'{"x": {"_type_": "no_such_type", "_data_": 1}}')
