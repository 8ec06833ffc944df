"""The server's settings, read in one place: site.toml, then the flags, then the environment.

Secrets and a deployment's places come from the environment (`ServerEnvironment`); the site
from its TOML file; a flag wins over both. Errors come back as `ConfigError`, one line per
problem, for the command line to print.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from api.settings import BrokerSettings, ServerSettings
from core.settings import ServiceSettings, StoreSettings
from edge_lane.broker_url import TlsSetupError, client_tls_context
from edge_lane.logs import LogFormat


class ConfigError(Exception):
    """Settings the server cannot start with; ``lines`` say why, one problem a line."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class ServeFlags(BaseModel):
    """``drivethru serve``'s flags; None leaves a setting to the file or the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: Path | None = None
    site: str | None = None
    broker: str | None = None
    db: Path | None = None
    read_models: Path | None = None
    host: str | None = None
    port: int | None = None
    no_broker: bool = False
    demo: bool = False
    log_format: LogFormat | None = None


def _env(name: str) -> Any:
    return Field(default=None, alias=f"DRIVETHRU_{name}")


class ServerEnvironment(BaseModel):
    """The server's environment variables (the store's own are `StoreSettings.from_environ`'s).

    An empty value counts as unset where a missing one has a meaning of its own.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    nik_key: str | None = _env("NIK_KEY")
    read_models: str | None = _env("READ_MODELS")
    broker_url: str | None = _env("BROKER_URL")
    broker_username: str | None = _env("BROKER_USERNAME")
    broker_password: str | None = _env("BROKER_PASSWORD")
    broker_protocol: str | None = _env("BROKER_PROTOCOL")
    broker_client_id: str | None = _env("BROKER_CLIENT_ID")
    broker_ca_file: str | None = _env("BROKER_CA_FILE")
    broker_cert_file: str | None = _env("BROKER_CERT_FILE")
    broker_key_file: str | None = _env("BROKER_KEY_FILE")
    demo_logins: str | None = _env("DEMO_LOGINS")
    """``role=key;role=key``, set by `drivethru demo` for its one-click sign-in links."""

    def broker(self, url: str | None) -> BrokerSettings:
        """The broker login; ``url`` (the flag) before ``DRIVETHRU_BROKER_URL``."""
        username = self.broker_username if self.broker_username is not None else "server"
        return BrokerSettings(
            url=url or _or(self.broker_url, "mqtt://127.0.0.1:1883"),
            username=username,
            password=SecretStr(self.broker_password or ""),
            protocol=_or(self.broker_protocol, "5"),
            # One session per replica: two servers with one client id would take each
            # other's session over and over (docs/server.md, "Replicas").
            client_id=_or(self.broker_client_id, f"drivethru-{username}"),
        )

    def tls_files(self) -> dict[str, Path]:
        """``DRIVETHRU_BROKER_CA_FILE``, ``_CERT_FILE`` and ``_KEY_FILE``, for ``mqtts://``."""
        found = {
            "ca_file": self.broker_ca_file,
            "cert_file": self.broker_cert_file,
            "key_file": self.broker_key_file,
        }
        return {key: Path(value) for key, value in found.items() if value}

    def logins(self) -> dict[str, str]:
        pairs = (item.partition("=") for item in (self.demo_logins or "").split(";"))
        return {role: key for role, _, key in pairs if role and key}


def _or(value: str | None, default: str) -> str:
    return default if value is None else value


def load_service_settings(
    db: Path | None, demo: bool, environ: Mapping[str, str]
) -> ServiceSettings:
    """The store (``--db`` and ``DRIVETHRU_STORE``...) and the NIK key: the demo's, or
    ``DRIVETHRU_NIK_KEY``."""
    store = StoreSettings.from_environ(environ, sqlite_path=db)
    if demo:
        return ServiceSettings.for_demo(store)
    key = ServerEnvironment.model_validate(environ).nik_key
    if not key:
        raise ConfigError(
            "Setel DRIVETHRU_NIK_KEY / set DRIVETHRU_NIK_KEY (16+ characters, kept secret)"
        )
    try:
        return ServiceSettings(store=store, nik_key=SecretStr(key))
    except ValidationError as error:
        raise ConfigError(error.errors()[0]["msg"]) from None


def load_server_settings(flags: ServeFlags, environ: Mapping[str, str]) -> ServerSettings:
    """The settings of one server: site.toml, then the flags, then secrets from ``environ``.

    Files the settings name (the broker's TLS files, a webhook's secret) are read now, so a
    missing one stops the start rather than a later connect or send.
    """
    env = ServerEnvironment.model_validate(environ)
    broker = None if flags.no_broker else env.broker(flags.broker)
    read_models = flags.read_models
    if read_models is None and env.read_models:
        read_models = Path(env.read_models)
    overrides: dict[str, object] = {
        "site": flags.site, "read_models": read_models, "host": flags.host, "port": flags.port,
        "log_format": flags.log_format,
    }  # fmt: skip
    service = load_service_settings(flags.db, flags.demo, environ)
    values: dict[str, Any] = {}
    if flags.config is not None:
        try:
            with flags.config.open("rb") as handle:
                values = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(
                f"konfigurasi tidak terbaca / cannot read {flags.config}: {error}"
            ) from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["service"] = service
    if flags.demo and env.demo_logins:
        values["demo_logins"] = env.logins()
    if broker is None:
        values["broker"] = None
    else:
        from_file = values.get("broker") or {}
        values["broker"] = {
            **broker.model_dump(),
            **env.tls_files(),
            **({} if flags.broker else from_file),
            "password": broker.password,
        }
    try:
        settings = ServerSettings.model_validate(values)
    except ValidationError as error:
        raise ConfigError(
            *(
                f"konfigurasi salah / bad config: "
                f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
                for problem in error.errors()
            )
        ) from None
    _check_files(settings)
    return settings


def _check_files(settings: ServerSettings) -> None:
    if settings.broker is not None and settings.broker.tls:
        try:  # here, not in the link process, which would retry a missing file forever
            client_tls_context(settings.broker.tls_files)
        except TlsSetupError as error:
            raise ConfigError(error.message) from None
    from api.notify.channels import build_channel
    from api.notify.settings import NotifySettingsError

    for channel in settings.notify:
        try:  # a webhook's secret is read now: a missing one stops the start, not a send
            build_channel(channel)
        except NotifySettingsError as error:
            raise ConfigError(f"konfigurasi salah / bad config: notify: {error}") from None
