"""The site's opening hours: the week in a line, and open now or when, on the site's clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from api.hours import OpeningHours, OpenNow

WITA = ZoneInfo("Asia/Makassar")
# Sunday 29 November 2026; 1 December is a Tuesday.
SUNDAY = date(2026, 11, 29)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment on the site's clock (WITA), as the server holds it: in UTC."""
    return datetime.combine(day, time(hour, minute), WITA).astimezone(UTC)


def test_the_week_is_said_in_one_line_per_language() -> None:
    assert OpeningHours().weekly() == ("Senin–Jumat 08.00–15.00", "Monday–Friday 08:00–15:00")
    hours = OpeningHours(days={"mon": "08:00-15:00", "tue": "08:00-15:00",
                               "sat": "08:00-12:00", "wed": "08:00-15:00"})  # fmt: skip
    assert hours.weekly() == (
        "Senin–Rabu 08.00–15.00, Sabtu 08.00–12.00",
        "Monday–Wednesday 08:00–15:00, Saturday 08:00–12:00",
    )
    assert OpeningHours(days={}).weekly() == ("Tutup", "Closed")


def test_open_now_until_closing_on_the_sites_clock() -> None:
    hours = OpeningHours()
    monday = date(2026, 11, 30)
    state = hours.now(at(monday, 9, 30), WITA)
    assert state == OpenNow(True, monday, time(15, 0))
    assert state.said(monday) == ("Buka sekarang, sampai 15.00", "Open now, until 15:00")
    # 09:30 WITA is 01:30 UTC: the site's clock decides, not the server's.
    assert hours.now(datetime(2026, 11, 30, 1, 30, tzinfo=UTC), WITA).open
    assert not hours.now(datetime(2026, 11, 30, 1, 30, tzinfo=UTC), ZoneInfo("UTC")).open


def test_closed_says_when_it_opens_today_tomorrow_or_on_a_named_day() -> None:
    hours = OpeningHours()
    monday = date(2026, 11, 30)
    early = hours.now(at(monday, 7, 0), WITA)
    assert early.said(monday) == ("Tutup, buka hari ini 08.00", "Closed, opens today 08:00")
    evening = hours.now(at(monday, 15, 0), WITA)  # closing time itself is closed
    assert evening.said(monday) == ("Tutup, buka besok 08.00", "Closed, opens tomorrow 08:00")
    saturday = date(2026, 11, 28)
    weekend = hours.now(at(saturday, 10, 0), WITA)
    assert weekend == OpenNow(False, monday, time(8, 0))
    assert weekend.said(saturday) == ("Tutup, buka Senin 08.00", "Closed, opens Monday 08:00")


def test_a_closed_date_is_skipped_and_a_long_closure_says_only_closed() -> None:
    holiday = OpeningHours(closed=(date(2026, 11, 30),))  # Monday off
    state = holiday.now(at(SUNDAY, 12, 0), WITA)
    assert state == OpenNow(False, date(2026, 12, 1), time(8, 0))
    assert state.said(SUNDAY) == ("Tutup, buka Selasa 08.00", "Closed, opens Tuesday 08:00")
    never = OpeningHours(days={})
    assert never.now(at(SUNDAY, 12, 0), WITA).said(SUNDAY) == ("Tutup", "Closed")


@pytest.mark.parametrize(
    "days",
    [{"mon": "8:00-15:00"}, {"mon": "15:00-08:00"}, {"mon": "08:00-08:00"},
     {"monday": "08:00-15:00"}, {"fri": "08:00-24:00"}],
)  # fmt: skip
def test_hours_that_cannot_be_read_are_refused_with_the_day(days: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match=r"mon|fri|day"):
        OpeningHours(days=days)
