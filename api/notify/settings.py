"""What site.toml says about notifications: the channels (``[[notify]]``) and the timings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str | None = Field(default=None, pattern=r"^[a-z0-9_-]{1,32}$")
    """The channel's name in the outbox (default: its kind); two channels of one kind need one."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @property
    def key(self) -> str:
        kind: str = getattr(self, "kind")  # noqa: B009 - each subclass has its own literal
        return self.name or kind


class WebhookChannel(_Channel):
    """A JSON POST signed with HMAC-SHA256 (``X-Drivethru-Signature: sha256=<hex>``)."""

    kind: Literal["webhook"]
    url: str
    secret_env: str = "DRIVETHRU_WEBHOOK_SECRET"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("harus http(s)://HOST/… / must be http(s)://HOST/…")
        return value

    def secret(self) -> bytes:
        """The signing key from the environment; a clear error when it is missing or short."""
        value = os.environ.get(self.secret_env, "")
        if len(value) < 16:
            raise NotifySettingsError(
                f"{self.secret_env} harus diisi, 16+ karakter / must be set, 16+ characters "
                f"(the webhook {self.url}'s signing key)"
            )
        return value.encode()


class EmailChannel(_Channel):
    """SMTP, with STARTTLS whenever the server offers it."""

    kind: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    username: str | None = None
    password_env: str | None = None
    """The variable holding the SMTP password (with ``username``)."""
    require_tls: bool = False
    """Refuse to send when the server does not offer STARTTLS."""
    ca_file: Path | None = None
    """The one CA trusted for the SMTP server's certificate (default: the system's CAs)."""

    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_env else None


class DemoOutboxChannel(_Channel):
    """Demo only: messages are kept for the demo's outbox page (`/demo/outbox`)."""

    kind: Literal["demo_outbox"]


NotifyChannel = Annotated[
    WebhookChannel | EmailChannel | DemoOutboxChannel, Field(discriminator="kind")
]


class NotifyOptions(BaseModel):
    """``[notifications]`` in site.toml: where links point, when reminders go, retries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    public_url: str | None = None
    """The citizen's links start with this (``https://izin.example.go.id``); default: the
    server's own address."""
    waiting_minutes: float = Field(default=10.0, gt=0)
    """"Waiting at the window": released but not handed over after this long."""
    expiry_warning_days: float = Field(default=3.0, gt=0)
    """"Expires in 3 days": this long before the code or the uncollected period ends."""
    retry_first_seconds: float = Field(default=5.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    """Retries back off, doubling from the first to this at most."""
    give_up_after_attempts: int = Field(default=48, ge=1)
    """A message that failed this often is marked failed (kept, and counted on /healthz)."""
    poll_seconds: float = Field(default=1.0, gt=0)


class NotifySettingsError(ValueError):
    """A channel that cannot work as configured (a missing secret)."""
