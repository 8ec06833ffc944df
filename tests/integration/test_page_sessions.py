"""The pages' sessions: a signed token in the cookie, never the API key, ending on time."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.bootstrap import build_server
from api.pages.auth import SESSION_SECONDS
from api.security import SESSION_COOKIE, KeyRing, session_secret
from api.settings import ApiKey, ServerSettings
from core.settings import ServiceSettings, StoreSettings

SECRET = "a-real-secret-0123456789"
OFFICER_KEY = "officer-key-0123456789abcdef"


def settings(tmp_path: Path, keys: dict[str, str]) -> ServerSettings:
    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    return ServerSettings.model_validate(
        {
            "service": ServiceSettings(store=store, nik_key=SecretStr(SECRET)),
            "broker": None,
            "read_models": tmp_path / "read.db",
            "api_keys": [
                {"name": name, "role": "officer", "sha256": ApiKey.digest(key)}
                for name, key in keys.items()
            ],
        }
    )


def signed_in(client: TestClient, key: str) -> str:
    answer = client.post(
        "/login", content=f"key={key}&next=/office", follow_redirects=False,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert answer.status_code == 303
    return answer.cookies[SESSION_COOKIE]


def test_a_session_opens_pages_and_the_api_without_holding_the_key(tmp_path: Path) -> None:
    with TestClient(build_server(settings(tmp_path, {"budi": OFFICER_KEY}))) as client:
        token = signed_in(client, OFFICER_KEY)
        assert OFFICER_KEY not in token
        assert ApiKey.digest(OFFICER_KEY) not in token
        assert client.get("/office", follow_redirects=False).status_code == 200
        assert client.get("/api/applications").status_code == 200  # what EventSource needs


def test_a_forged_expired_or_orphaned_session_is_refused(tmp_path: Path) -> None:
    keys = {"budi": OFFICER_KEY, "sari": "another-key-0123456789abcdef"}
    with TestClient(build_server(settings(tmp_path, keys))) as client:
        token = signed_in(client, OFFICER_KEY)
        until, mac, key_id = token.split(".")
        other = ApiKey.digest(keys["sari"])[: len(key_id)]
        forged = [
            f"{int(until) + 86400}.{mac}.{key_id}",  # made to last longer
            f"{until}.{mac}.{other}",  # made to speak for another key
            f"{until}.{'0' * len(mac)}.{key_id}",
            "garbage",
        ]
        for bad in forged:
            client.cookies.set(SESSION_COOKIE, bad)
            assert client.get("/office", follow_redirects=False).status_code == 303, bad
            assert client.get("/api/applications").status_code == 401, bad

    ring = KeyRing(settings(tmp_path, keys).api_keys, session_secret(SECRET))
    ended = ring.session(OFFICER_KEY, time.time() - SESSION_SECONDS - 1, SESSION_SECONDS)
    assert ended is not None
    assert ring.session_caller(ended, time.time()) is None
    live = ring.session(OFFICER_KEY, time.time(), SESSION_SECONDS)
    assert live is not None
    assert ring.session_caller(live, time.time()) is not None
    # The key taken out of the settings: its sessions end with it, though the secret stays.
    without = KeyRing(settings(tmp_path, {"sari": keys["sari"]}).api_keys, session_secret(SECRET))
    assert without.session_caller(live, time.time()) is None
    # Another site's secret does not accept this site's sessions.
    elsewhere = KeyRing(settings(tmp_path, keys).api_keys, session_secret("other-secret-000000"))
    assert elsewhere.session_caller(live, time.time()) is None
