"""Wrong codes, wrong keys and the citizen's forms are rate limited per address and per key."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import build_server
from api.runtime import Runtime
from api.settings import ApiKey
from core.codes import PickupCode
from tests.factories import ready_permit
from tests.integration.server_app import KEYS, bearer, server_settings

LOW = {"burst": 3, "per_minute": 1}
HIGH = {"burst": 1000, "per_minute": 1000}


def app_with(tmp_path: Path, **limits: object) -> TestClient:
    settings = server_settings(tmp_path, rate_limits=limits)
    return TestClient(build_server(settings))


def refused(answer: object) -> int:
    """The Retry-After of a 429, checked to be a whole number of seconds."""
    status = answer.status_code  # type: ignore[attr-defined]
    assert status == 429, answer.text  # type: ignore[attr-defined]
    retry = answer.headers["retry-after"]  # type: ignore[attr-defined]
    assert retry.isdigit()
    assert int(retry) >= 1
    assert answer.json()["error"]["code"] == "rate_limited"  # type: ignore[attr-defined]
    return int(retry)


def metric(client: TestClient, rule: str) -> int:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'drivethru_rate_limited_total{{rule="{rule}"}}'):
            return int(line.split()[-1])
    return 0


def test_wrong_pickup_codes_from_one_address_are_answered_429(tmp_path: Path) -> None:
    with app_with(tmp_path, wrong_codes_per_address=LOW, wrong_codes_per_key=HIGH) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        good = ready_permit(runtime.service).code.code
        for _ in range(3):
            assert client.get(f"/p/{PickupCode.generate().text}").status_code == 404
        refused(client.get(f"/p/{PickupCode.generate().text}"))
        refused(client.get("/p/not-a-code"))
        refused(client.get(f"/p/{good}"))  # the address waits, whatever it asks
        assert metric(client, "wrong_codes") == 3
        elsewhere = TestClient(client.app, client=("192.0.2.7", 5000))
        assert elsewhere.get(f"/p/{PickupCode.generate().text}").status_code == 404


def test_one_wrong_code_tried_from_many_addresses_is_answered_429(tmp_path: Path) -> None:
    with app_with(tmp_path, wrong_codes_per_address=HIGH, wrong_codes_per_key=LOW) as client:
        code = PickupCode.generate().text
        for n in range(3):
            other = TestClient(client.app, client=(f"192.0.2.{n}", 5000))
            assert other.get(f"/p/{code}").status_code == 404
        refused(TestClient(client.app, client=("192.0.2.99", 5000)).get(f"/p/{code}"))


def test_wrong_keys_at_the_login_and_as_bearer_are_answered_429(tmp_path: Path) -> None:
    with app_with(tmp_path, wrong_keys_per_address=LOW, wrong_keys_per_key=HIGH) as client:
        form = {"content-type": "application/x-www-form-urlencoded"}
        for n in range(2):
            wrong = f"key=wrong-key-{n}-0123456789abcdefgh&next=/office"
            assert client.post("/login", content=wrong, headers=form).status_code == 401
        wrong_bearer = {"Authorization": "Bearer wrong-key-x-0123456789abcdefgh"}
        assert client.get("/api/site", headers=wrong_bearer).status_code == 401
        refused(client.get("/api/site", headers=wrong_bearer))
        refused(client.post("/login", content="key=another-wrong-key-0123456789", headers=form))
        assert metric(client, "wrong_keys") == 2
        # A valid key from another address is not held up by this one's guesses.
        other = TestClient(client.app, client=("192.0.2.8", 5000))
        assert other.get("/api/site", headers=bearer("officer")).status_code == 200


def test_one_wrong_key_from_many_addresses_is_answered_429(tmp_path: Path) -> None:
    with app_with(tmp_path, wrong_keys_per_address=HIGH, wrong_keys_per_key=LOW) as client:
        wrong = {"Authorization": "Bearer wrong-key-y-0123456789abcdefgh"}
        for n in range(3):
            other = TestClient(client.app, client=(f"192.0.2.{n}", 5000))
            assert other.get("/api/site", headers=wrong).status_code == 401
        refused(TestClient(client.app, client=("192.0.2.50", 5000)).get("/api/site", headers=wrong))


def test_the_feedback_form_is_rate_limited_per_address_and_per_code(tmp_path: Path) -> None:
    with app_with(tmp_path, forms_per_address=LOW, forms_per_code=HIGH) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        code = ready_permit(runtime.service).code.code
        form = {"content-type": "application/x-www-form-urlencoded", "accept": "text/html"}
        for _ in range(3):
            answer = client.post(f"/p/{code}/feedback", content="rating=5", headers=form)
            assert answer.status_code in (200, 303, 404)
        refused(client.post(f"/p/{code}/feedback", content="rating=5", headers=form))
        refused(client.post(f"/p/{code}/delegate", content="name=x", headers=form))
        assert metric(client, "forms") == 2
    with app_with(tmp_path, forms_per_address=HIGH, forms_per_code=LOW) as client:
        for n in range(3):
            other = TestClient(client.app, client=(f"192.0.2.{n}", 5000))
            other.post(f"/p/{code}/feedback", content="rating=4", headers=form)
        refused(
            TestClient(client.app, client=("192.0.2.77", 5000)).post(
                f"/p/{code}/feedback", content="rating=4", headers=form
            )
        )


def test_a_key_shorter_than_24_characters_is_never_accepted(tmp_path: Path) -> None:
    short = "short-key-0123456789"  # 20 characters
    keys = [{"name": "short", "role": "officer", "sha256": ApiKey.digest(short)}]
    keys += [
        {"name": name, "role": role, "sha256": ApiKey.digest(key), "lanes": list(lanes)}
        for name, (key, role, lanes) in KEYS.items()
    ]
    with TestClient(build_server(server_settings(tmp_path, api_keys=keys))) as client:
        assert (
            client.get("/api/site", headers={"Authorization": f"Bearer {short}"}).status_code == 401
        )
        assert client.get("/api/site", headers=bearer("officer")).status_code == 200


def test_demo_sign_in_keys_must_be_24_characters_or_more(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from api.settings import ServerSettings
    from core.settings import ServiceSettings, StoreSettings

    demo = ServiceSettings.for_demo(StoreSettings(backend="memory"))
    with pytest.raises(ValidationError, match="24"):
        ServerSettings(service=demo, demo_logins={"admin": "too-short-key"})  # type: ignore[dict-item]
