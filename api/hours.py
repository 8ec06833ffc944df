"""When the drive-through serves: the site's weekly hours and its closed days.

Kept as data rather than text so that the citizen's page can say what matters on the way
there, "open now, until 15.00" or "closed, opens Monday 08.00", on the site's clock, and
the weekly line is written from the same data in both languages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from pydantic import BaseModel, ConfigDict, field_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    "mon": ("Senin", "Monday"),
    "tue": ("Selasa", "Tuesday"),
    "wed": ("Rabu", "Wednesday"),
    "thu": ("Kamis", "Thursday"),
    "fri": ("Jumat", "Friday"),
    "sat": ("Sabtu", "Saturday"),
    "sun": ("Minggu", "Sunday"),
}
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
# How far ahead the next opening is looked for: past a fortnight of closed days (a long
# holiday) the page only says "closed".
_LOOKAHEAD_DAYS = 14


def _clock(at: time, english: bool) -> str:
    """08.00 in Bahasa Indonesia, 08:00 in English."""
    return at.strftime("%H:%M" if english else "%H.%M")


class OpeningHours(BaseModel):
    """``days`` maps mon..sun to ``"HH:MM-HH:MM"`` (a day left out is closed); ``closed``
    lists dates the site does not open (public holidays, cuti bersama)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: dict[str, str] = dict.fromkeys(DAYS[:5], "08:00-15:00")
    closed: tuple[date, ...] = ()

    @field_validator("days")
    @classmethod
    def _spans(cls, days: dict[str, str]) -> dict[str, str]:
        for day, span in days.items():
            if day not in DAYS:
                raise ValueError(f"hari tidak dikenal / unknown day {day!r} (mon..sun)")
            found = _SPAN.match(span.strip())
            if found is None or found.group(1, 2) >= found.group(3, 4):
                raise ValueError(
                    f"jam {day} tidak sah / {day}: {span!r} is not HH:MM-HH:MM, opening first"
                )
        return {day: days[day].strip() for day in DAYS if day in days}

    def span(self, day: date) -> tuple[time, time] | None:
        """Opening and closing time on ``day``, None when closed."""
        if day in self.closed:
            return None
        text = self.days.get(DAYS[day.weekday()])
        if text is None:
            return None
        start, end = text.split("-")
        return time.fromisoformat(start), time.fromisoformat(end)

    def weekly(self) -> tuple[str, str]:
        """The week in one line each language: ``Senin–Jumat 08.00–15.00``."""
        groups: list[tuple[list[str], str]] = []
        for day in DAYS:
            span = self.days.get(day)
            if span is None:
                continue
            if (
                groups
                and groups[-1][1] == span
                and DAYS.index(groups[-1][0][-1]) + 1 == DAYS.index(day)
            ):
                groups[-1][0].append(day)
            else:
                groups.append(([day], span))
        if not groups:
            return ("Tutup", "Closed")
        lines = []
        for english in (False, True):
            parts = []
            for days, span in groups:
                first, last = DAY_NAMES[days[0]][english], DAY_NAMES[days[-1]][english]
                named = first if len(days) == 1 else f"{first}–{last}"
                start, end = (time.fromisoformat(t) for t in span.split("-"))
                parts.append(f"{named} {_clock(start, english)}–{_clock(end, english)}")
            lines.append(", ".join(parts))
        return lines[0], lines[1]

    def now(self, moment: datetime, zone: tzinfo) -> OpenNow:
        """Whether the site is open at ``moment`` and when that changes, on its clock."""
        local = moment.astimezone(zone)
        today = self.span(local.date())
        if today is not None and today[0] <= local.time() < today[1]:
            return OpenNow(True, local.date(), today[1])
        for ahead in range(_LOOKAHEAD_DAYS + 1):
            day = local.date() + timedelta(days=ahead)
            span = self.span(day)
            if span is not None and (ahead > 0 or local.time() < span[0]):
                return OpenNow(False, day, span[0])
        return OpenNow(False, None, None)


@dataclass(frozen=True, slots=True)
class OpenNow:
    """``open`` at the moment asked; ``day`` and ``at``: when it closes (open) or next opens
    (closed; None when not within a fortnight)."""

    open: bool
    day: date | None
    at: time | None

    def said(self, today: date) -> tuple[str, str]:
        """What the citizen's page says, in Bahasa Indonesia and in English."""
        if self.open and self.at is not None:
            return (f"Buka sekarang, sampai {_clock(self.at, False)}",
                    f"Open now, until {_clock(self.at, True)}")  # fmt: skip
        if self.day is None or self.at is None:
            return ("Tutup", "Closed")
        if self.day == today:
            when = ("hari ini", "today")
        elif self.day == today + timedelta(days=1):
            when = ("besok", "tomorrow")
        else:
            when = DAY_NAMES[DAYS[self.day.weekday()]]
        return (f"Tutup, buka {when[0]} {_clock(self.at, False)}",
                f"Closed, opens {when[1]} {_clock(self.at, True)}")  # fmt: skip
