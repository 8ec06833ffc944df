"""Times on pages are on the site's clock, named by its zone, whatever the device says."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from api.pages.layout import when


def test_a_time_is_shown_on_the_sites_clock_with_its_zone() -> None:
    shown = when("2026-11-29T06:05:00+00:00", ZoneInfo("Asia/Makassar"))
    assert ">29/11/2026 14.05 WITA</time>" in shown
    assert 'datetime="2026-11-29T06:05:00+00:00"' in shown  # the moment itself, unchanged
    assert 'data-zone="Asia/Makassar"' in shown  # for the browser's rewrite
    assert ">29/11/2026 13.05 WIB</time>" in when("2026-11-29T06:05:00Z", ZoneInfo("Asia/Jakarta"))
    assert ">29/11/2026 15.05 WIT</time>" in when("2026-11-29T06:05:00Z", ZoneInfo("Asia/Jayapura"))


def test_without_a_zone_a_time_is_utc_and_a_naive_one_is_taken_as_utc() -> None:
    shown = when("2026-11-29T23:30:00")
    assert ">29/11/2026 23.30 UTC</time>" in shown
    assert "data-zone" not in shown
    # Past midnight on the site's clock: the date moves too.
    assert ">30/11/2026 07.30 WITA</time>" in when("2026-11-29T23:30:00", ZoneInfo("Asia/Makassar"))


def test_what_is_not_a_time_is_shown_escaped_and_nothing_for_nothing() -> None:
    assert when("<b>soon</b>") == "&lt;b&gt;soon&lt;/b&gt;"
    assert when(None) == ""
    assert when("") == ""
