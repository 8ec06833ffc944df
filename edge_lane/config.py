"""Lane configuration: one TOML file validated by Pydantic, flags layered on top.

Secrets never live in the file: ``broker.password_env`` names the environment variable that
holds the password, read by `broker_password` when the agent starts, not at import time.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from edge_lane.broker_url import TlsFiles, check_tls_files, parse_broker_url
from edge_lane.errors import ConfigError

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class CameraRole(StrEnum):
    ENTRY = "entry"  # ahead of the window: plates only
    WINDOW = "window"  # at the window: pickup codes and plates


class Pace(StrEnum):
    REALTIME = "realtime"  # a file plays at its native frame rate
    FAST = "fast"  # as fast as the reader goes (tests, benchmarks)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionOfInterest(_Section):
    """Part of the frame where cars stop, as fractions of width and height."""

    x: Fraction = 0.0
    y: Fraction = 0.0
    width: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    height: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0

    def pixels(self, frame_width: int, frame_height: int) -> tuple[int, int, int, int]:
        """(x, y, w, h) in pixels of a frame of this size, clipped to the frame."""
        x0 = min(frame_width - 1, int(self.x * frame_width))
        y0 = min(frame_height - 1, int(self.y * frame_height))
        w = max(1, min(frame_width - x0, round(self.width * frame_width)))
        h = max(1, min(frame_height - y0, round(self.height * frame_height)))
        return x0, y0, w, h


class CameraSettings(_Section):
    name: Name = "window"
    source: str = Field(min_length=1, description="camera index, rtsp/http URL, file or folder")
    role: CameraRole = CameraRole.WINDOW
    roi: RegionOfInterest = RegionOfInterest()
    pace: Pace = Pace.REALTIME
    folder_fps: Annotated[float, Field(gt=0, le=240)] = 10.0


class MqttProtocol(StrEnum):
    V5 = "5"
    V311 = "3.1.1"


class BrokerSettings(_Section):
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    ca_file: Path | None = None
    """With ``mqtts://``: the one CA trusted for the broker (default: the system's CAs)."""
    cert_file: Path | None = None
    """With ``mqtts://``: this device's client certificate, for a broker that requires one."""
    key_file: Path | None = None
    protocol: MqttProtocol = MqttProtocol.V5
    keepalive: Annotated[int, Field(ge=5, le=3600)] = 30
    session_expiry: Annotated[int, Field(ge=0)] = 7 * 24 * 3600

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parse_broker_url(value)
        return value

    @model_validator(mode="after")
    def _tls_files(self) -> BrokerSettings:
        check_tls_files(self.tls_files, tls=self.tls)
        return self

    @property
    def host(self) -> str:
        return parse_broker_url(self.url).host

    @property
    def port(self) -> int:
        return parse_broker_url(self.url).port

    @property
    def tls(self) -> bool:
        return parse_broker_url(self.url).tls

    @property
    def tls_files(self) -> TlsFiles:
        return TlsFiles(self.ca_file, self.cert_file, self.key_file)


class Thresholds(_Section):
    """Knobs of the motion gate, the read schedule and the vote."""

    motion_pixel: Annotated[int, Field(ge=1, le=255)] = 25
    occupied_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.02
    background_alpha: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    occupied_background_alpha: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0005
    depart_after_frames: Annotated[int, Field(ge=1)] = 10
    read_every: Annotated[int, Field(ge=1)] = 2
    stationary_read_every: Annotated[int, Field(ge=1)] = 10
    plate_min_frames: Annotated[int, Field(ge=1)] = 3
    plate_min_confidence: Fraction = 0.6
    plate_min_share: Fraction = 0.6
    max_arrivals_per_visit: Annotated[int, Field(ge=1, le=20)] = 4
    # Window frames a car may take from the entry camera's view to the window's.
    handoff_frames: Annotated[int, Field(ge=1)] = 250
    # Frames read at start-up although the gate sees nothing (a car may already be there).
    startup_frames: Annotated[int, Field(ge=0)] = 12
    # Frames a changed scene must stand still to become the background again.
    settle_frames: Annotated[int, Field(ge=1)] = 10


class OutboxSettings(_Section):
    path: Path = Path("var/edge/outbox.db")
    max_entries: Annotated[int, Field(ge=1)] = 10_000
    retry_seconds: Annotated[float, Field(gt=0)] = 30.0


class LaneSettings(_Section):
    """Everything one lane agent needs, from the file and the flags."""

    site: Name
    lane: Name
    window: Name = "1"
    cameras: Annotated[list[CameraSettings], Field(min_length=1)]
    broker: BrokerSettings = BrokerSettings()
    thresholds: Thresholds = Thresholds()
    outbox: OutboxSettings = OutboxSettings()
    status_interval: Annotated[float, Field(gt=0, le=3600)] = 5.0
    display_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    max_frames: Annotated[int, Field(ge=0)] | None = None
    drain_seconds: Annotated[float, Field(ge=0)] = 10.0

    @field_validator("cameras")
    @classmethod
    def _unique_names(cls, cameras: list[CameraSettings]) -> list[CameraSettings]:
        names = [camera.name for camera in cameras]
        if len(set(names)) != len(names):
            raise ValueError("nama kamera harus unik / camera names must be unique")
        return cameras


# Pydantic error types said in Bahasa Indonesia; English follows from Pydantic's own message.
_INDONESIAN: Mapping[str, str] = {
    "missing": "wajib diisi",
    "extra_forbidden": "kolom tidak dikenal",
    "string_type": "harus teks",
    "int_type": "harus bilangan bulat",
    "int_parsing": "harus bilangan bulat",
    "float_type": "harus angka",
    "float_parsing": "harus angka",
    "bool_type": "harus true/false",
    "list_type": "harus daftar",
    "model_type": "harus tabel",
    "enum": "pilihan tidak sah",
    "literal_error": "pilihan tidak sah",
    "string_pattern_mismatch": "format tidak sah",
    "string_too_short": "terlalu pendek",
    "too_short": "terlalu sedikit",
    "greater_than": "terlalu kecil",
    "greater_than_equal": "terlalu kecil",
    "less_than": "terlalu besar",
    "less_than_equal": "terlalu besar",
    "value_error": "nilai tidak sah",
}


def explain(error: ValidationError) -> tuple[str, ...]:
    """One line per problem: ``field.path: Bahasa Indonesia / English``."""
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "(berkas / file)"
        indonesian = _INDONESIAN.get(problem["type"], "nilai tidak sah")
        english = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {indonesian} / {english}")
    return tuple(lines)


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw TOML table of ``path``; raises `ConfigError` if unreadable or not TOML."""
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"Berkas konfigurasi tidak ada / config file not found: {path}") from None
    except OSError as error:
        raise ConfigError(f"Tidak bisa membaca / cannot read {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"TOML tidak sah / invalid TOML in {path}: {error}") from None


_Model = TypeVar("_Model", bound=BaseModel)


def validated(
    model: type[_Model],
    raw: Mapping[str, Any],
    *,
    origin: str,
    what: str = "Konfigurasi / configuration",
) -> _Model:
    """``raw`` validated into ``model``; raises `ConfigError` listing every problem."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as error:
        problems = explain(error)
        indonesian, english = what.split(" / ")
        raise ConfigError(
            f"{indonesian} tidak sah / invalid {english} ({origin}):\n  " + "\n  ".join(problems),
            problems,
        ) from None


def build_settings(raw: Mapping[str, Any], *, origin: str = "config") -> LaneSettings:
    """Validate a raw table into `LaneSettings`; raises `ConfigError` listing every problem."""
    return validated(LaneSettings, raw, origin=origin)


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` laid over it, tables merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge(current, value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Path | None, overrides: Mapping[str, Any] | None = None) -> LaneSettings:
    """Settings from ``path`` (or none) with ``overrides`` (from flags) laid over it."""
    raw = read_config_file(path) if path is not None else {}
    return build_settings(merge(raw, overrides or {}), origin=str(path or "flags"))


def broker_password(
    settings: BrokerSettings, environ: Mapping[str, str] | None = None
) -> str | None:
    """The broker password from the variable ``password_env`` names; raises if it is unset."""
    if settings.password_env is None:
        return None
    env = os.environ if environ is None else environ
    password = env.get(settings.password_env)
    if not password:
        raise ConfigError(
            f"Variabel {settings.password_env} kosong / environment variable "
            f"{settings.password_env} is not set (broker.password_env)"
        )
    return password
