"""The team device's configuration: one TOML file validated by Pydantic (``extra="forbid"``).

Sections reuse the lane's models (`BrokerSettings`, `CameraSettings`), so a broker or a
camera is written the same way for a lane and for a team. Secrets stay in the environment:
``broker.password_env`` and ``manifest_key_env`` name variables read when the device starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from edge_lane.config import BrokerSettings, CameraSettings, read_config_file, validated

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class TeamSettings(BaseModel):
    """Everything one team device needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: Name
    team: Name
    officer: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    broker: BrokerSettings = BrokerSettings()
    camera: CameraSettings | None = None
    data_dir: Path = Path("var/mobile")
    manifest_key_env: EnvName = "DRIVETHRU_MANIFEST_KEY"
    display_port: Annotated[int, Field(ge=0, le=65535)] = 8770
    # Stop-and-wait: a handover unacked this long is sent again (the server deduplicates).
    retry_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0
    max_unsynced: Annotated[int, Field(ge=1)] = 10_000
    # The same code seen again by the camera within this time is the same scan.
    rescan_seconds: Annotated[float, Field(ge=0, le=600)] = 5.0

    @property
    def by(self) -> str:
        """Who the handovers are recorded as: the officer, else the team."""
        return self.officer or f"tim-{self.team}"


def build_team_settings(raw: Mapping[str, Any], *, origin: str = "config") -> TeamSettings:
    """Validate a raw table; raises `ConfigError` listing every problem (Indonesian first)."""
    return validated(TeamSettings, raw, origin=origin, what="Konfigurasi tim / team configuration")


def load_team_settings(path: Path) -> TeamSettings:
    return build_team_settings(read_config_file(path), origin=str(path))
