"""Settings of the server process: one Pydantic model per concern (read by `api.config`)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from api.hours import OpeningHours
from api.notify.settings import DemoOutboxChannel, NotifyChannel, NotifyOptions
from core.arrivals import ReleasePolicy
from core.home_assistant import HomeAssistantSettings
from core.retention import RetentionPeriods
from core.settings import ServiceSettings
from edge_lane.broker_url import TlsFiles, check_tls_files, parse_broker_url
from edge_lane.logs import LogFormat
from edge_lane.mosquitto import MosquittoSettings

Role = Literal["officer", "operator", "admin", "device"]


class ApiKey(BaseModel):
    """A bearer key, stored as its SHA-256 only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    lanes: tuple[str, ...] = ()
    """For operators: the lanes of the site they may work."""

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class LaneSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lane: str
    window: str = "1"
    name: str | None = None


class BrokerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "mqtt://127.0.0.1:1883"
    username: str = "server"
    password: SecretStr = SecretStr("")
    client_id: str = "drivethru-server"
    protocol: Literal["5", "3.1.1"] = "5"
    ca_file: Path | None = None
    """With ``mqtts://``: the one CA trusted for the broker (default: the system's CAs)."""
    cert_file: Path | None = None
    """With ``mqtts://``: the server's client certificate, for a broker that requires one."""
    key_file: Path | None = None
    session_expiry_seconds: int | None = Field(default=None, ge=0)
    """How long the broker keeps the server's session (and queues its share of the arrivals)
    while it is away. Default: a day for a server that is its store's sole writer; 0 with
    replicas (``sole_writer = false``), whose other servers take every arrival meanwhile:
    Mosquitto keeps sending an absent replica's session its share of a shared subscription."""

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parse_broker_url(value)  # the same rules as every other client's (edge_lane.broker_url)
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


class RetentionSettings(BaseModel):
    """Days each purpose keeps personal data before it is erased by key (docs/privacy.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unmatched_plate_days: int = Field(default=7, ge=1, le=3650)
    matched_plate_days: int = Field(default=90, ge=1, le=3650)
    personal_days_after_close: int = Field(default=365, ge=1, le=36500)

    def periods(self) -> RetentionPeriods:
        return RetentionPeriods(
            self.unmatched_plate_days, self.matched_plate_days, self.personal_days_after_close
        )


class Allowance(BaseModel):
    """A token bucket: ``burst`` at once, then ``per_minute``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    burst: int = Field(ge=1)
    per_minute: float = Field(gt=0)


class RateLimitSettings(BaseModel):
    """Limits on guessing, per client address and per key (`api/rate_limit.py`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    wrong_codes_per_address: Allowance = Allowance(burst=20, per_minute=10)
    wrong_codes_per_key: Allowance = Allowance(burst=10, per_minute=5)
    wrong_keys_per_address: Allowance = Allowance(burst=10, per_minute=5)
    wrong_keys_per_key: Allowance = Allowance(burst=5, per_minute=2)
    forms_per_address: Allowance = Allowance(burst=20, per_minute=10)
    forms_per_code: Allowance = Allowance(burst=10, per_minute=5)
    wrong_nik_per_lane: Allowance = Allowance(burst=10, per_minute=5)
    """Wrong NIKs typed at one lane's window, whatever the permit."""
    wrong_nik_per_permit: Allowance = Allowance(burst=5, per_minute=1)
    """Wrong NIKs typed for one permit: six digits are a million guesses, so few."""
    tracked: int = Field(default=10_000, ge=10)
    """Buckets kept at most (least recently used go first): bounded memory."""


MIN_KEY_LENGTH = 24
"""API keys shorter than this are refused: guessing must stay hopeless."""


class ServerSettings(BaseModel):
    """Everything `drivethru serve` needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str = "badung"
    site_name: str = "Mal Pelayanan Publik Badung"
    lanes: tuple[LaneSettings, ...] = (LaneSettings(lane="1"), LaneSettings(lane="2"))
    release_on: ReleasePolicy = ReleasePolicy.CODE
    service: ServiceSettings
    read_models: Path = Path("var/read_models.db")
    broker: BrokerSettings | None = BrokerSettings()
    host: str = "127.0.0.1"
    port: int = 8080
    log_format: LogFormat = LogFormat.TEXT
    """Log lines as text, or one JSON object a line with the site and the ids (docs/server.md)."""
    api_keys: tuple[ApiKey, ...] = ()
    manifest_debounce_seconds: float = 0.5
    warning_interval_seconds: float = Field(default=10.0, ge=0)
    """Warnings about rejected MQTT messages: at most one line per kind in this time; the
    rest are counted (`drivethru_log_lines_held_back_total`) and named in the next line."""
    timezone: str = "Asia/Makassar"
    """The site's IANA time zone, for what staff read by the hour (the dashboard): WIB sites
    Asia/Jakarta, WITA Asia/Makassar (Bali, the default site), WIT Asia/Jayapura."""
    opening_hours: OpeningHours = OpeningHours()
    """When the drive-through serves (weekly hours on the site's clock, closed dates): the
    citizen's page says whether it is open now and when that changes."""
    uncollected_expire_days: int = Field(default=30, ge=1, le=3650)
    """A READY permit nobody collects within this many days of its code's issue expires
    (the expiry job, `api/expiry.py`); a code expires earlier if its own time is shorter.
    The office reissues a code to make it READY again."""
    expiry_interval_seconds: float = Field(default=60.0, gt=0)
    """How often the expiry job looks for codes and permits past their time."""
    retention: RetentionSettings = RetentionSettings()
    """``[retention]``: how long each purpose keeps personal data (`api/retention.py`)."""
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    """How often the retention job looks for data past its period."""
    feedback_retention_days: int = Field(default=365, ge=1)
    """Ratings and complaints older than this are deleted (UU PDP 27/2022: personal data is
    kept no longer than its purpose needs; a year covers the yearly service survey)."""
    sole_writer: bool = True
    """This server is the only process writing its event store (one node per store): its
    cached permits are then the truth and an arrival reads nothing from the store. Set
    false when several servers share one PostgreSQL store. Either way a write from
    elsewhere can't be lost: saves check versions and retry."""
    demo_logins: dict[Role, SecretStr] = Field(default_factory=dict)
    """Demo only: keys behind one-click sign-in links, so a newcomer touches nothing."""
    rate_limits: RateLimitSettings = RateLimitSettings()
    home_assistant: HomeAssistantSettings = HomeAssistantSettings()
    """``[home_assistant]``: the lanes in Home Assistant over MQTT discovery (off by default)."""
    mosquitto: MosquittoSettings | None = None
    notify: tuple[NotifyChannel, ...] = ()
    """``[[notify]]``: where citizens' notifications go (`api/notify/`, docs/server.md)."""
    notifications: NotifyOptions = NotifyOptions()
    """The site's broker (`drivethru broker config`): its listener, teams and password
    variables; the server itself does not read it."""

    @model_validator(mode="after")
    def _demo_logins_only_in_the_demo(self) -> ServerSettings:
        demo_outbox = any(isinstance(c, DemoOutboxChannel) for c in self.notify)
        if demo_outbox and not self.service.demo:
            raise ValueError("notify demo_outbox hanya untuk demo / is for the demo only")
        names = [channel.key for channel in self.notify]
        if len(set(names)) != len(names):
            raise ValueError("nama kanal notify ganda / two notify channels share a name")
        if self.demo_logins and not self.service.demo:
            raise ValueError("demo_logins hanya untuk demo / demo_logins are for the demo only")
        for role, key in self.demo_logins.items():
            if len(key.get_secret_value()) < MIN_KEY_LENGTH:
                raise ValueError(
                    f"kunci {role} kurang dari {MIN_KEY_LENGTH} karakter / "
                    f"the {role} key is shorter than {MIN_KEY_LENGTH} characters"
                )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"zona waktu tidak dikenal / unknown time zone {name!r} (e.g. Asia/Jakarta)"
            ) from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def window_of(self, lane: str) -> str | None:
        for configured in self.lanes:
            if configured.lane == lane:
                return configured.window
        return None
