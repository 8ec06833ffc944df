"""The ``drivethru`` command line, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import zxingcpp

from core.codes import PickupCode


def drivethru(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=cwd,
    )


def test_code_new_prints_a_valid_code_and_a_readable_qr(tmp_path: Path) -> None:
    png = tmp_path / "code.png"
    done = drivethru("code", "new", "--png", str(png))
    assert done.returncode == 0, done.stderr
    code = PickupCode.parse(done.stdout.strip())
    assert "versi 2" in done.stderr  # the short code fits QR version 2
    decoded = zxingcpp.read_barcodes(cv2.imread(str(png)))
    assert [d.text for d in decoded] == [code.text]


def test_code_check_accepts_good_and_explains_bad_codes() -> None:
    good = PickupCode.generate()
    done = drivethru("code", "check", good.text.lower())
    assert done.returncode == 0
    assert good.sha256 in done.stdout
    bad = drivethru("code", "check", "DT1:TOO-SHORT")
    assert bad.returncode == 1
    assert "ditolak" in bad.stderr
    assert "refused" in bad.stderr


def test_demo_runs_permits_through_their_lifecycle(tmp_path: Path) -> None:
    done = drivethru(
        "demo",
        "--db", str(tmp_path / "demo.db"),
        "--read-models", str(tmp_path / "read.db"),
        "--permits", "4",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("HandedOver") == 4
    assert "konflik tercatat" in done.stdout
    assert "handed_over=4" in done.stdout


def test_bench_store_quick_prints_one_json_object_with_its_anchors() -> None:
    done = drivethru("bench", "store", "--json", "--quick", "--events", "5000")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in (
        "lifecycle_events_per_s",
        "raw_eventsourcing_events_per_s",
        "raw_sqlite_rows_per_s",
        "projection_events_per_s",
        "rebuild_seconds",
        "events",
        "peak_rss_mb",
    ):
        assert result[key] > 0, key
    assert result["events"] >= 5000
