"""An id of another kind of aggregate is no permit: 404, as for an id nobody knows."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.runtime import Runtime
from core.code_index import code_index_id
from tests.factories import ready_permit
from tests.integration.server_app import bearer, server_settings


def test_the_id_of_a_code_index_is_answered_404_not_500(tmp_path: Path) -> None:
    with TestClient(build_server(server_settings(tmp_path))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        ready = ready_permit(runtime.service)
        index_id = code_index_id(ready.code.code_sha256)
        answer = client.get(f"/api/applications/{index_id}", headers=bearer("officer"))
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "permit_not_found"
        real = client.get(f"/api/applications/{ready.id}", headers=bearer("officer"))
        assert real.status_code == 200
