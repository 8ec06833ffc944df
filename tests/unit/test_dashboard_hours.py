"""The dashboard counts by the site's own hours, in its own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr, ValidationError

from api.pages.dashboard import HOURS, per_hour
from api.settings import ServerSettings
from core.settings import ServiceSettings, StoreSettings


def test_hours_are_labelled_and_cut_by_the_sites_clock() -> None:
    now = datetime(2026, 11, 29, 1, 30, tzinfo=UTC)  # 09.30 in Bali (WITA, UTC+8)
    moments = [now - timedelta(minutes=10), now - timedelta(minutes=31), now - timedelta(hours=1)]
    bali = per_hour([*moments, None], now, ZoneInfo("Asia/Makassar"))
    assert len(bali) == HOURS
    assert bali[-2:] == [("08", 2.0), ("09", 1.0)]  # 08.59 and 08.30; 09.20
    jakarta = per_hour(moments, now, ZoneInfo("Asia/Jakarta"))  # WIB, UTC+7: 08.30
    assert jakarta[-2:] == [("07", 2.0), ("08", 1.0)]
    assert [count for _, count in bali] == [count for _, count in jakarta]
    assert per_hour(moments, now)[-1] == ("01", 1.0)  # UTC when no zone is given


def test_the_site_time_zone_must_be_a_real_one(tmp_path: Path) -> None:
    service = ServiceSettings(
        store=StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db"),
        nik_key=SecretStr("a-real-secret-0123456789"),
    )
    made = ServerSettings(service=service, broker=None)
    assert made.zone == ZoneInfo("Asia/Makassar")  # the default site is in Bali
    assert ServerSettings(service=service, broker=None, timezone="Asia/Jayapura").timezone
    with pytest.raises(ValidationError, match="zona waktu"):
        ServerSettings(service=service, broker=None, timezone="Asia/Bandung")
