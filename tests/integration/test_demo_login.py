"""The demo's one-click sign-in: only when the server runs the demo, only to our own pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from api.bootstrap import build_server
from api.security import SESSION_COOKIE
from api.settings import ApiKey, ServerSettings
from core.settings import ServiceSettings, StoreSettings


def settings(tmp_path: Path, *, demo: bool, logins: dict[str, str]) -> ServerSettings:
    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    service = (
        ServiceSettings.for_demo(store)
        if demo
        else ServiceSettings(store=store, nik_key=SecretStr("a-real-secret-0123456789"))
    )
    keys = [
        {"name": f"demo-{role}", "role": role, "sha256": ApiKey.digest(key)}
        for role, key in logins.items()
    ]
    return ServerSettings.model_validate(
        {"service": service, "broker": None, "read_models": tmp_path / "read.db",
         "demo_logins": logins, "api_keys": keys}
    )  # fmt: skip


def test_a_demo_link_signs_in_and_lands_on_the_page(tmp_path: Path) -> None:
    app = build_server(
        settings(tmp_path, demo=True, logins={"admin": "demo-admin-key-0123456789abcdef"})
    )
    with TestClient(app) as client:
        answer = client.get("/demo/login/admin?next=/dashboard", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/dashboard"
        session = answer.cookies[SESSION_COOKIE]
        assert (
            "demo-admin-key-0123456789abcdef" not in session
        )  # a signed session, never the key itself
        assert "httponly" in answer.headers["set-cookie"].lower()
        assert client.get("/dashboard", follow_redirects=False).status_code == 200
        away = client.get("/demo/login/admin?next=//evil.example/", follow_redirects=False)
        assert away.headers["location"] == "/office"  # never an open redirect
        assert client.get("/demo/login/operator", follow_redirects=False).status_code == 404


def test_no_demo_links_outside_the_demo(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="demo"):
        settings(tmp_path, demo=False, logins={"admin": "k"})
    app = build_server(settings(tmp_path, demo=False, logins={}))
    with TestClient(app) as client:
        assert client.get("/demo/login/admin", follow_redirects=False).status_code == 404
