"""The ``drivethru`` command line, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

from bench.scenes import car_scene
from core.codes import PickupCode


def drivethru(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher", *args],
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
        "demo", "--lifecycle",
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
    sealing = result["personal_data_sealing"]
    for key in ("lifecycle_sealed_vs_unsealed", "fold_sealed_vs_unsealed", "seal_us_per_field"):
        assert sealing[key] > 0, key


def test_seed_makes_permits_ready_with_their_codes(tmp_path: Path) -> None:
    done = drivethru("seed", "--site", "badung", "--ready", "3", "--db", str(tmp_path / "e.db"),
                     "--demo")  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 3
    assert len({line["code"] for line in lines}) == 3
    for line in lines:
        PickupCode.parse(line["code"])
        assert line["slot"]
        assert line["plate"]


def test_seed_without_a_nik_key_refuses_to_run(tmp_path: Path) -> None:
    done = drivethru("seed", "--ready", "1", "--db", str(tmp_path / "e.db"))
    assert done.returncode == 2
    assert "DRIVETHRU_NIK_KEY" in done.stderr


def test_serve_validates_its_config_and_explains_errors(tmp_path: Path) -> None:
    good = tmp_path / "site.toml"
    good.write_text('site = "badung"\nrelease_on = "code_or_plate"\n')
    env_ok = drivethru("serve", "--config", str(good), "--validate-config")
    assert env_ok.returncode == 2  # no NIK key in this environment
    bad = tmp_path / "bad.toml"
    bad.write_text('site = "badung"\nrelease_on = "sometimes"\nsurprise = 1\n')
    done = subprocess.run(
        [sys.executable, "-m", "api", "serve", "--config", str(bad), "--validate-config"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "DRIVETHRU_NIK_KEY": "a-test-key-0123456789"},
    )  # fmt: skip
    assert done.returncode == 2
    assert "release_on" in done.stderr
    assert "surprise" in done.stderr
    fine = subprocess.run(
        [sys.executable, "-m", "api", "serve", "--config", str(good), "--validate-config"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "DRIVETHRU_NIK_KEY": "a-test-key-0123456789"},
    )  # fmt: skip
    assert fine.returncode == 0, fine.stderr
    assert "sah" in fine.stdout


def _labelled_set(root: Path) -> Path:
    """Three generated frames in the real-photo set's layout: a test of the format and the
    scoring, not of accuracy (that is judged on real photos only)."""
    images = root / "images"
    images.mkdir(parents=True)
    rows = ["file\tplate\tx\ty\tw\th\tnotes"]
    rng = np.random.default_rng(5)
    for i, plate in enumerate(("AB 1234 CD", "DK 77 XY", "B 9021 KQ")):
        sample = car_scene(rng, plate, level=0.3)
        cv2.imwrite(str(images / f"car{i}.jpg"), sample.image)
        x, y, w, h = sample.box
        rows.append(f"car{i}.jpg\t{sample.plate}\t{x}\t{y}\t{w}\t{h}\tgenerated")
    (root / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_bench_reader_quick_prints_every_part_with_its_anchors(tmp_path: Path) -> None:
    real = _labelled_set(tmp_path / "real")
    done = drivethru("bench", "reader", "--json", "--quick", "--real", str(real))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    qr = result["qr"]
    for name in ("ours", "zxing_cpp", "opencv_qrcodedetector", "opencv_aruco"):
        assert qr[name]["n"] == 60, name
        assert qr[name]["median_ms"] > 0, name
    # Our QR read rate is never below zxing-cpp's alone: it is zxing-cpp, on grey, upright.
    assert qr["ours"]["rate"] >= qr["zxing_cpp"]["rate"] > 0.5
    plates = result["plates"]
    for name in (
        "crops_ours",
        "frames_ours",
        "frames_classical_finder",
        "frames_rapidocr_whole_frame",
    ):
        assert 0 < plates[name]["rate"] <= 1, name
        assert plates[name]["median_ms"] > 0, name
    photos = result["real"]
    assert photos["photos"] == 3
    for name in ("ours", "classical_finder", "rapidocr_regex", "crops_ours"):
        line = photos[name]
        assert line["n"] == 3, name
        assert line["median_ms"] > 0, name
        assert line["exact"] <= line["any"] <= 1 - line["nothing"], name
    # Clean generated frames: the learned finder reads them.
    assert photos["ours"]["exact"] >= 2 / 3
    empty = result["empty"]
    assert (empty["false_codes"], empty["false_plates"]) == (0, 0)
    assert len(empty["rounds"]) == 3
    assert empty["median_ms"] == min(r["median_ms"] for r in empty["rounds"])
    assert empty["vs_zxing_cpp"] > 0
