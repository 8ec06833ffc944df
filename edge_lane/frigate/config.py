"""The Frigate bridge's configuration: one TOML file, one Pydantic model per concern.

``[broker]`` and ``[outbox]`` are the lane's own sections (`edge_lane.config`); ``[frigate]``
says where Frigate publishes, ``[[cameras]]`` which Frigate camera (and zones) feed which lane.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from edge_lane.config import (
    BrokerSettings,
    Fraction,
    MqttProtocol,
    Name,
    OutboxSettings,
    _Section,
    read_config_file,
    validated,
)

# Frigate's topic prefix is one or more plain topic levels, never a wildcard.
TopicPrefix = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")]


class FrigateSource(_Section):
    """Frigate's own MQTT broker (it may be the same as drivethru's) and what to trust."""

    broker: str = "mqtt://127.0.0.1:1883"
    topic_prefix: TopicPrefix = "frigate"
    min_score: Fraction = 0.8
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @field_validator("broker")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        BrokerSettings(url=value)  # the same URL rules as drivethru's broker
        return value

    @model_validator(mode="after")
    def _tls_files(self) -> FrigateSource:
        _ = self.broker_settings  # the same TLS rules too, reported against [frigate]
        return self

    @property
    def broker_settings(self) -> BrokerSettings:
        # MQTT 3.1.1: what every broker a Frigate install may use speaks.
        return BrokerSettings(
            url=self.broker,
            username=self.username,
            password_env=self.password_env,
            ca_file=self.ca_file,
            cert_file=self.cert_file,
            key_file=self.key_file,
            protocol=MqttProtocol.V311,
        )

    @property
    def events_topic(self) -> str:
        return f"{self.topic_prefix}/events"

    @property
    def updates_topic(self) -> str:
        return f"{self.topic_prefix}/tracked_object_update"


class FrigateCamera(_Section):
    """One Frigate camera feeding a lane; with ``zones``, only plates seen in those zones."""

    camera: Name
    zones: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = ()
    lane: Name


class FrigateLaneSettings(_Section):
    """Everything ``drivethru frigate`` needs."""

    site: Name
    frigate: FrigateSource = FrigateSource()
    cameras: Annotated[list[FrigateCamera], Field(min_length=1)]
    broker: BrokerSettings = BrokerSettings()
    outbox: OutboxSettings = OutboxSettings(path=Path("var/frigate-outbox.db"))

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cameras: list[FrigateCamera]) -> list[FrigateCamera]:
        names = [camera.camera for camera in cameras]
        if len(set(names)) != len(names):
            raise ValueError("nama kamera harus unik / camera names must be unique")
        return cameras

    @model_validator(mode="after")
    def _one_lane(self) -> FrigateLaneSettings:
        # The bridge publishes as the lane's MQTT user, and the ACL lets that user write only
        # its own lane: one bridge per lane.
        if len({camera.lane for camera in self.cameras}) != 1:
            raise ValueError(
                "semua kamera harus ke satu jalur; jalankan satu bridge per jalur / "
                "all cameras must feed one lane; run one bridge per lane"
            )
        return self

    @property
    def lane(self) -> str:
        return self.cameras[0].lane

    def camera(self, name: str) -> FrigateCamera | None:
        for camera in self.cameras:
            if camera.camera == name:
                return camera
        return None


def build_frigate_settings(raw: Mapping[str, Any], *, origin: str) -> FrigateLaneSettings:
    """Validate a raw table; raises `ConfigError` listing every problem."""
    return validated(FrigateLaneSettings, raw, origin=origin)


def load_frigate_settings(path: Path) -> FrigateLaneSettings:
    return build_frigate_settings(read_config_file(path), origin=str(path))
