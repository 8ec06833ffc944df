"""Settings of the permit service: where events are stored and the keys it needs.

Built by the process's ``main()`` from flags, files and the environment, then passed down;
nothing here reads the environment by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

# Only `drivethru demo` and the tests may run with this key; real sites set DRIVETHRU_NIK_KEY.
DEMO_NIK_KEY = "demo-only-nik-key-not-for-production"


class StoreSettings(BaseModel):
    """Which event store to use: in memory (tests), a SQLite file, or PostgreSQL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["memory", "sqlite", "postgres"] = "sqlite"
    sqlite_path: Path = Path("var/drivethru.db")
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_dbname: str = "drivethru"
    postgres_user: str = "drivethru"
    postgres_password: SecretStr = SecretStr("")

    def postgres_connection(self) -> dict[str, Any]:
        """The keyword arguments of ``psycopg.connect`` for this PostgreSQL store."""
        return {
            "host": self.postgres_host,
            "port": self.postgres_port,
            "dbname": self.postgres_dbname,
            "user": self.postgres_user,
            "password": self.postgres_password.get_secret_value(),
        }

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment the `eventsourcing` library reads its persistence from."""
        env = {"TRANSCODER_TOPIC": "core.transcoder:OrjsonTranscoder"}
        if self.backend == "memory":
            return {**env, "PERSISTENCE_MODULE": "eventsourcing.popo"}
        if self.backend == "sqlite":
            return {
                **env,
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": "10",
            }
        return {
            **env,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_HOST": self.postgres_host,
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_DBNAME": self.postgres_dbname,
            "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password.get_secret_value(),
        }

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: object) -> StoreSettings:
        """Read ``DRIVETHRU_STORE`` (memory|sqlite|postgres), ``DRIVETHRU_DB`` and
        ``DRIVETHRU_PG_HOST/PORT/DBNAME/USER/PASSWORD`` from ``environ``."""
        values: dict[str, object] = {}
        names = {
            "DRIVETHRU_STORE": "backend",
            "DRIVETHRU_DB": "sqlite_path",
            "DRIVETHRU_PG_HOST": "postgres_host",
            "DRIVETHRU_PG_PORT": "postgres_port",
            "DRIVETHRU_PG_DBNAME": "postgres_dbname",
            "DRIVETHRU_PG_USER": "postgres_user",
            "DRIVETHRU_PG_PASSWORD": "postgres_password",
        }
        for variable, field in names.items():
            if variable in environ:
                values[field] = environ[variable]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)


class ServiceSettings(BaseModel):
    """What `PermitService` needs besides its store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store: StoreSettings = StoreSettings()
    nik_key: SecretStr
    code_ttl: timedelta = Field(default=timedelta(days=30))
    demo: bool = False

    @model_validator(mode="after")
    def _refuse_demo_key_outside_demo(self) -> ServiceSettings:
        key = self.nik_key.get_secret_value()
        if not self.demo and (key == DEMO_NIK_KEY or len(key) < 16):
            raise ValueError(
                "DRIVETHRU_NIK_KEY harus rahasia sendiri, minimal 16 karakter / "
                "DRIVETHRU_NIK_KEY must be a secret of your own, at least 16 characters"
            )
        return self

    @classmethod
    def for_demo(cls, store: StoreSettings | None = None) -> ServiceSettings:
        return cls(store=store or StoreSettings(), nik_key=SecretStr(DEMO_NIK_KEY), demo=True)
