"""Lane configuration: validation errors say where and why, in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_lane.cli import EXIT_CONFIG, edge_command
from edge_lane.config import broker_password, build_settings, load_settings
from edge_lane.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "lane.example.toml"
MINIMAL = {"site": "badung", "lane": "1", "cameras": [{"source": "lane.avi"}]}


def problems(raw: dict[str, object]) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        build_settings(raw)
    return caught.value.problems


def test_the_example_file_is_valid() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.broker.tls
    assert settings.cameras[0].role == "window"


def test_a_minimal_table_gets_defaults() -> None:
    settings = build_settings(MINIMAL)
    assert settings.broker.port == 1883
    assert settings.broker.protocol == "5"
    assert settings.thresholds.plate_min_frames == 3


def test_an_unknown_field_is_named_with_its_path() -> None:
    found = problems({**MINIMAL, "thresholds": {"plate_min_framez": 3}})
    assert found == (
        "thresholds.plate_min_framez: kolom tidak dikenal / Extra inputs are not permitted",
    )


def test_each_problem_is_listed_indonesian_first() -> None:
    raw = {"site": "badung", "cameras": [{"source": "x", "role": "roof"}]}
    found = problems({**raw, "broker": {"url": "http://broker"}})
    assert "lane: wajib diisi / Field required" in found
    assert any(p.startswith("cameras.0.role: pilihan tidak sah / ") for p in found)
    assert any(p.startswith("broker.url: nilai tidak sah / harus mqtt://") for p in found)


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "lane.toml"
    path.write_text('site = "badung"\nlane = "1"\n[[cameras]]\nsource = "a.avi"\n')
    settings = load_settings(path, {"lane": "2", "broker": {"url": "mqtt://h:1999"}})
    assert settings.lane == "2"
    assert settings.broker.port == 1999


def test_the_password_comes_from_the_named_variable_only() -> None:
    broker = build_settings({**MINIMAL, "broker": {"password_env": "LANE_PW"}}).broker
    assert broker_password(broker, {"LANE_PW": "s3cret"}) == "s3cret"
    with pytest.raises(ConfigError, match="LANE_PW"):
        broker_password(broker, {})


def test_validate_config_exits_2_and_explains(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('site = "badung"\nlane = "1 2"\n[[cameras]]\nsource = "a.avi"\npace = "slow"\n')
    result = CliRunner().invoke(_app(), ["--validate-config", str(path)])
    assert result.exit_code == EXIT_CONFIG
    assert "lane: format tidak sah" in result.output
    assert "cameras.0.pace: pilihan tidak sah" in result.output


def test_validate_config_accepts_the_example() -> None:
    result = CliRunner().invoke(_app(), ["--validate-config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output


def test_a_file_that_is_not_toml_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "lane.toml"
    path.write_text("site = \n")
    result = CliRunner().invoke(_app(), ["--validate-config", str(path)])
    assert result.exit_code == EXIT_CONFIG
    assert "TOML tidak sah / invalid TOML" in result.output


def _app():  # type: ignore[no-untyped-def]
    import typer

    app = typer.Typer()
    app.command()(edge_command)
    return app
