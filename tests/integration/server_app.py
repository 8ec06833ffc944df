"""Settings for the server in process, without a broker: tests run
`api.bootstrap.build_server` in FastAPI's TestClient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from api.settings import ApiKey, ServerSettings
from core.settings import ServiceSettings, StoreSettings

NIK_KEY = "a-real-secret-0123456789"
# Name -> (key, role, lanes); every key at least 24 characters.
KEYS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "officer": ("officer-key-0123456789abcdef", "officer", ()),
    "operator-1": ("operator-1-key-0123456789abcdef", "operator", ("1",)),
    "operator-2": ("operator-2-key-0123456789abcdef", "operator", ("2",)),
    "operator-12": ("operator-12-key-0123456789abcdef", "operator", ("1", "2")),
    "admin": ("admin-key-0123456789abcdefgh", "admin", ()),
}


def server_settings(tmp_path: Path, **extra: Any) -> ServerSettings:
    """A site with lanes 1 and 2, the keys above, a SQLite store and no broker."""
    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    values: dict[str, Any] = {
        "service": ServiceSettings(store=store, nik_key=SecretStr(NIK_KEY)),
        "broker": None,
        "read_models": tmp_path / "read.db",
        "api_keys": [
            {"name": name, "role": role, "sha256": ApiKey.digest(key), "lanes": list(lanes)}
            for name, (key, role, lanes) in KEYS.items()
        ],
    }
    values.update(extra)
    return ServerSettings.model_validate(values)


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[who][0]}"}
