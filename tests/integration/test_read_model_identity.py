"""Read models know which event store they were built from, and where they live."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.runtime import Runtime
from api.serve import build_settings
from core.settings import StoreSettings
from tests.factories import ready_permit
from tests.integration.server_app import NIK_KEY, server_settings


def serve_with_a_ready_permit(tmp_path: Path, store: str) -> str:
    """Serve the store ``store`` with one READY permit; its code's status path."""
    settings = server_settings(
        tmp_path,
        service={
            "store": StoreSettings(backend="sqlite", sqlite_path=tmp_path / store),
            "nik_key": NIK_KEY,
        },
    )
    with TestClient(build_server(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        code = ready_permit(runtime.service).code.code
        path = f"/p/{code}?format=json"
        assert client.get(path).status_code in (200, 404)  # the read models may lag a moment
    return path


def test_read_models_of_another_store_are_rebuilt_and_it_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    of_a = serve_with_a_ready_permit(tmp_path, "a.db")
    with caplog.at_level(logging.WARNING):
        of_b = serve_with_a_ready_permit(tmp_path, "b.db")
    settings = server_settings(
        tmp_path,
        service={
            "store": StoreSettings(backend="sqlite", sqlite_path=tmp_path / "b.db"),
            "nik_key": NIK_KEY,
        },
    )
    with TestClient(build_server(settings)) as client:
        assert client.get(of_b).status_code == 200
        assert client.get(of_a).status_code == 404
    warned = [r.getMessage() for r in caplog.records if "store" in r.getMessage()]
    assert any("rebuil" in message for message in warned), warned


def test_serve_reads_the_read_model_path_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIVETHRU_NIK_KEY", NIK_KEY)
    monkeypatch.setenv("DRIVETHRU_READ_MODELS", str(tmp_path / "elsewhere.db"))
    settings = build_settings(None, None, None, tmp_path / "events.db", None, None, None, True)
    assert settings.read_models == tmp_path / "elsewhere.db"
    flag = build_settings(
        None, None, None, tmp_path / "events.db", tmp_path / "flag.db", None, None, True
    )
    assert flag.read_models == tmp_path / "flag.db"  # the flag wins over the environment
