"""A Mosquitto configuration from a site's file: ``mosquitto.conf``, ``acl`` and ``passwd``.

`drivethru broker config` writes it for production and the tests start Mosquitto from the
same writer, so the ACL the tests prove is the one a site runs. The ACL itself is core's
(`core.broker_acl`); this module only turns it and the site's settings into files.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import subprocess
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.broker_acl import SERVER_USER, SiteAccess, mosquitto_acl, site_access
from core.contract import Topics
from core.home_assistant import HomeAssistantSettings
from edge_lane.errors import ConfigError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
PASSWORD_ENV_PREFIX = "DRIVETHRU_MQTT_PASSWORD_"
# Mosquitto 2.0's own PBKDF2-SHA512 parameters (`mosquitto_passwd`): 12-byte salt, 101 rounds.
_PBKDF2_ROUNDS = 101
_SALT_BYTES = 12


class MosquittoTls(BaseModel):
    """The ``[mosquitto.tls]`` table: a TLS listener (MQTT over TLS, ``mqtts://``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = None
    """The TLS listener's address; default the ``[mosquitto]`` host."""
    port: int = Field(default=8883, ge=1, le=65535)
    ca_file: Path
    """The CA that signed `cert_file`; with `require_certificate`, also the clients' CA."""
    cert_file: Path
    key_file: Path
    require_certificate: bool = False
    """Clients must also show a certificate signed by `ca_file` (their password still counts)."""


class MosquittoSettings(BaseModel):
    """The ``[mosquitto]`` table of a site's TOML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    """The plain listener's address; with TLS keep it on loopback for this machine's clients."""
    port: int = Field(default=1883, ge=1, le=65535)
    plain: bool = True
    """Whether the plain (unencrypted) listener exists at all; false needs `tls`."""
    tls: MosquittoTls | None = None
    persistence_location: Path | None = None
    """Where Mosquitto keeps sessions and queued messages; default ``{out}/data/``."""
    teams: tuple[str, ...] = ()
    """The mobile teams with a login (the site's lanes come from its ``[[lanes]]``)."""
    servers: tuple[str, ...] = (SERVER_USER,)
    """One user per server replica: client ids are bound to users (see `bind_client_ids`)."""
    password_env: dict[str, str] = Field(default_factory=dict)
    """User -> the environment variable holding its password; default `password_env_name`."""
    bind_client_ids: bool = True
    """``use_username_as_clientid``: no login can take over another device's session."""

    @model_validator(mode="after")
    def _a_listener(self) -> MosquittoSettings:
        if not self.plain and self.tls is None:
            raise ValueError(
                "plain = false butuh [mosquitto.tls] / plain = false needs [mosquitto.tls]"
            )
        return self

    def plain_beyond_loopback(self) -> bool:
        """Whether clear-text MQTT (passwords included) is offered to the network."""
        return self.plain and self.host not in LOOPBACK_HOSTS


class _SiteLane(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    lane: str


class _SiteFile(BaseModel):
    """The parts of the server's site file the broker needs; the rest belongs to `serve`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    site: str = "badung"
    lanes: tuple[_SiteLane, ...] = ()
    mosquitto: MosquittoSettings = MosquittoSettings()
    home_assistant: HomeAssistantSettings = HomeAssistantSettings()
    """Enabled, it adds the ``homeassistant`` user and the server's discovery grants."""


@dataclass(frozen=True, slots=True)
class BrokerSite:
    """A site's MQTT users and ACL, with the settings of its Mosquitto."""

    access: SiteAccess
    settings: MosquittoSettings

    def password_envs(self) -> dict[str, str]:
        """User -> the environment variable its password is read from."""
        return {
            user: self.settings.password_env.get(user, password_env_name(user))
            for user in self.access.users
        }

    def passwords(self, environ: Mapping[str, str]) -> dict[str, str]:
        """Every user's password from `environ`; refuses when one is missing or empty."""
        names = self.password_envs()
        missing = [f"{name} ({user})" for user, name in names.items() if not environ.get(name)]
        if missing:
            raise ConfigError(
                "Kata sandi MQTT belum disetel, tidak ada kata sandi bawaan / MQTT passwords "
                "not set, there is no default: " + ", ".join(missing),
                tuple(missing),
            )
        return {user: environ[name] for user, name in names.items()}


def password_env_name(user: str) -> str:
    """The default variable of a password: ``lane-1`` -> ``DRIVETHRU_MQTT_PASSWORD_LANE_1``."""
    return PASSWORD_ENV_PREFIX + user.upper().replace("-", "_")


def load_broker_site(
    path: Path | None,
    *,
    site: str | None = None,
    lanes: Iterable[str] = (),
    teams: Iterable[str] = (),
) -> BrokerSite:
    """The site's users and ACL from its TOML file (site, ``[[lanes]]``, ``[mosquitto]``).

    Lanes and teams given here are added to the file's; a site needs at least one lane.
    """
    values: dict[str, object] = {}
    if path is not None:
        try:
            with path.open("rb") as handle:
                values = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"konfigurasi tidak terbaca / cannot read {path}: {error}") from None
    try:
        parsed = _SiteFile.model_validate(values)
    except ValidationError as error:
        problems = tuple(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError("konfigurasi salah / bad config", problems) from None
    lane_names = [lane.lane for lane in parsed.lanes] + list(lanes)
    team_names = list(parsed.mosquitto.teams) + list(teams)
    if not lane_names:
        raise ConfigError(
            "Tidak ada jalur: isi [[lanes]] di berkas situs atau beri --lane / "
            "no lanes: list [[lanes]] in the site file or pass --lane"
        )
    try:
        access = site_access(
            Topics(site or parsed.site), lane_names, team_names, parsed.mosquitto.servers,
            home_assistant=parsed.home_assistant,
        )  # fmt: skip
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return BrokerSite(access, parsed.mosquitto)


@dataclass(frozen=True, slots=True)
class MosquittoFiles:
    """The files written for one broker."""

    config: Path
    acl: Path
    password_file: Path
    persistence: Path


def write_mosquitto_files(
    out: Path,
    access: SiteAccess,
    passwords: Mapping[str, str],
    *,
    host: str,
    port: int,
    persistence: Path | None = None,
    bind_client_ids: bool = True,
    plain: bool = True,
    tls: MosquittoTls | None = None,
    extra_lines: Sequence[str] = (),
) -> MosquittoFiles:
    """Write ``mosquitto.conf``, ``acl`` and ``passwd`` into `out` (created if missing).

    Only the users of `access` get a password line, so a login the ACL does not know cannot
    exist. The plain listener is on `host`:`port` unless `plain` is false; `tls` adds a TLS
    listener. `extra_lines` go after the listeners (logging, ``user``).
    """
    # Without `use_username_as_clientid` any login could connect with the server's client
    # id and take its session over; with it each user has one session, so each server
    # replica and each device needs its own user. A listener setting, so it follows each
    # `listener` line: before any, it would open a default listener on 1883 on every address.
    bind = ["use_username_as_clientid true"] if bind_client_ids else []
    listeners = [f"listener {port} {host}", *bind] if plain else []
    if tls is not None:  # checked before any file is written
        listeners += [*tls_listener_lines(tls, tls.host or host), *bind]
    if not listeners:
        raise ConfigError("tidak ada listener / no listener: plain = false and no TLS")
    unknown = sorted(set(passwords) - set(access.users))
    if unknown:
        raise ConfigError(f"pengguna tanpa ACL / users without an ACL: {', '.join(unknown)}")
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    files = MosquittoFiles(
        config=out / "mosquitto.conf",
        acl=out / "acl",
        password_file=out / "passwd",
        persistence=(persistence or out / "data").resolve(),
    )
    files.persistence.mkdir(parents=True, exist_ok=True)
    _write_private(files.acl, mosquitto_acl(access))
    write_password_file(files.password_file, passwords)
    lines = [
        "# Generated by `drivethru broker config` from the site's file; edit that instead.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {files.password_file}",
        f"acl_file {files.acl}",
        "persistence true",
        f"persistence_location {files.persistence}/",
        # The default of 1000 silently drops QoS 1 messages queued for a slow subscriber.
        "max_queued_messages 100000",
        "set_tcp_nodelay true",
        "connection_messages true",
        *listeners,
    ]
    files.config.write_text("\n".join([*lines, *extra_lines]) + "\n")
    return files


def tls_listener_lines(tls: MosquittoTls, host: str) -> list[str]:
    """A TLS listener: TLS 1.2 or later, the server's certificate, clients' optionally."""
    for name in ("ca_file", "cert_file", "key_file"):
        path: Path = getattr(tls, name)
        if "\n" in str(path) or not path.is_absolute():
            # Mosquitto resolves a relative path from its own working directory, not ours.
            raise ConfigError(f"[mosquitto.tls] {name} harus absolut / must be absolute: {path}")
    return [
        f"listener {tls.port} {host}",
        f"cafile {tls.ca_file}",
        f"certfile {tls.cert_file}",
        f"keyfile {tls.key_file}",
        "tls_version tlsv1.2",
        f"require_certificate {'true' if tls.require_certificate else 'false'}",
    ]


def write_password_file(path: Path, passwords: Mapping[str, str]) -> None:
    """A Mosquitto password file (PBKDF2-SHA512), readable by its owner only.

    `mosquitto_passwd -U` hashes it when installed (the passwords never appear in a command
    line); otherwise the same format is made here.
    """
    for user, password in passwords.items():
        if not password or ":" in user or "\n" in user + password:
            raise ConfigError(f"kata sandi atau nama tidak sah / bad user or password: {user!r}")
    tool = mosquitto_passwd_tool()
    if tool is None:
        lines = (f"{user}:{hash_password(password)}" for user, password in passwords.items())
        _write_private(path, "".join(line + "\n" for line in lines))
        return
    _write_private(path, "".join(f"{u}:{p}\n" for u, p in passwords.items()))
    result = subprocess.run([tool, "-U", str(path)], capture_output=True, timeout=60, check=False)
    if result.returncode != 0:
        path.unlink(missing_ok=True)  # never leave the plain passwords behind
        output = (result.stdout + result.stderr).decode(errors="replace").strip()
        raise ConfigError(f"mosquitto_passwd gagal / failed: {output}")


def mosquitto_passwd_tool() -> str | None:
    """The `mosquitto_passwd` binary, if installed."""
    return shutil.which("mosquitto_passwd")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A password in Mosquitto 2.0's ``$7$`` (PBKDF2-SHA512) form."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ROUNDS)
    encoded = (base64.b64encode(part).decode() for part in (salt, digest))
    return f"$7${_PBKDF2_ROUNDS}${'$'.join(encoded)}"


def _write_private(path: Path, text: str) -> None:
    # Created 0600 before anything is written, so no secret is ever world-readable.
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
