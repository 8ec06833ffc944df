"""The real server notifies a real HTTP receiver and a real SMTP server, kill -9 included."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from api.notify.messages import signature_matches
from api.notify.store import IssuedLinks
from bench.seed import seed_on_store
from core.contact import Contact
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from tests.notify_peers import SmtpServer, WebhookReceiver, wait_until
from tests.server_process import NIK_KEY, ServerProcess, write_site_toml

SECRET = "e2e-webhook-secret-0123456789"
pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    peer = WebhookReceiver()
    yield peer
    peer.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


def _server(
    tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> ServerProcess:
    monkeypatch.setenv("DRIVETHRU_WEBHOOK_SECRET", SECRET)
    config = tmp_path / "site.toml"
    write_site_toml(config)
    # Before [opening_hours]: the top-level keys come before any table.
    config.write_text(
        config.read_text().replace(
            "[opening_hours]",
            'uncollected_expire_days = 30\n[notifications]\npublic_url = "https://izin.example.go.id"\n'
            "retry_first_seconds = 0.2\nretry_max_seconds = 0.5\n\n[opening_hours]",
        )
        + f'[[notify]]\nkind = "webhook"\nurl = "{receiver.url}"\n'
        + f'[[notify]]\nkind = "email"\nhost = "127.0.0.1"\nport = {smtp.port}\n'
        + 'from = "izin@mpp-badung.go.id"\n'
    )
    return ServerProcess(tmp_path, None, "")


def _seed(tmp_path: Path, count: int) -> dict[str, str]:
    """READY permits with contacts written straight to the store, before the server starts."""
    settings = ServiceSettings(
        store=StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db"),
        nik_key=SecretStr(NIK_KEY),
    )
    service = PermitService(settings)
    service.add_code_listener(IssuedLinks(tmp_path / "notify.db"))
    contacts = [
        Contact.parse(f"+62812000000{i:02d}", f"warga{i}@example.com") for i in range(count)
    ]
    try:
        seeded = list(seed_on_store(service, "badung", count, contacts=contacts))
    finally:
        service.close()
    return {permit.id: permit.code for permit in seeded}


def test_a_kill_9_mid_batch_loses_no_message_and_doubles_none(
    tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = _seed(tmp_path, 6)
    server = _server(tmp_path, receiver, smtp, monkeypatch)
    receiver.statuses = [500]  # the first try fails: retried with the same id
    receiver.hold_after = 3  # the fourth POST is held: the server dies waiting for it
    try:
        server.start(wait_for_broker=False)
        assert receiver.held.wait(30)
        acked_before = {r.json["id"] for r in receiver.acked()}
        server.kill()
        receiver.release.set()
        server.start(wait_for_broker=False)
        wait_until(lambda: len({r.json["id"] for r in receiver.acked()}) == 6, 30)
        wait_until(lambda: len(smtp.messages) >= 6, 30)
    finally:
        server.stop()
    acked = Counter(r.json["id"] for r in receiver.acked())
    assert len(acked) == 6
    assert set(acked.values()) == {1}  # none acknowledged twice
    assert acked_before <= set(acked)
    assert len(acked_before) == 2  # a 500, two 200s, then the held one
    # The refused first message came again with the same id and bytes.
    first = receiver.received[0]
    assert first.status == 500
    assert [r.body for r in receiver.received if r.json["id"] == first.json["id"]] == [
        first.body,
        first.body,
    ]
    for hook in receiver.acked():
        body = hook.json
        assert signature_matches(hook.body, SECRET.encode(), hook.headers["X-Drivethru-Signature"])
        assert body["link"] == f"https://izin.example.go.id/p/{codes[body['permit']['id']]}"
    mail_ids = Counter(m["Message-ID"] for m in smtp.messages)
    assert len(mail_ids) == 6
    assert set(mail_ids.values()) == {1}


def test_an_application_with_a_contact_is_notified_and_the_citizen_changes_it(
    tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _server(tmp_path, receiver, smtp, monkeypatch)
    server.start(wait_for_broker=False)
    try:
        with server.client("officer") as officer:
            refused = officer.post("/api/applications", json={
                "reference": "LAP-X", "kind": "SIUP", "applicant_name": "Sri Rahayu",
                "nik": "3404016002850003", "contact": {"phone": "0812345678"},
            })  # fmt: skip
            assert refused.status_code == 422
            made = officer.post("/api/applications", json={
                "reference": "LAP-C1", "kind": "SIUP", "applicant_name": "Sri Rahayu",
                "nik": "3404016002850003",
                "contact": {"phone": "+6281234567890", "email": "sri@example.com", "lang": "en"},
            })  # fmt: skip
            assert made.status_code == 201, made.text
            base = f"/api/applications/{made.json()['id']}"
            for step, body in (("verify", {}), ("fee", {"amount_rupiah": 0}), ("approve", {}),
                               ("print", {}), ("stage", {"slot": "R1-01"})):  # fmt: skip
                answer = officer.post(f"{base}/{step}", json=body)
                assert answer.status_code == 200, answer.text
            code = answer.json()["code"]
            schema = officer.get("/openapi.json").json()
        assert "ContactIn" in schema["components"]["schemas"]
        wait_until(lambda: len(receiver.acked()) == 1)
        message = receiver.acked()[0].json
        assert message["link"] == f"https://izin.example.go.id/p/{code}"
        assert "Bring your original KTP" in message["text"]
        wait_until(lambda: len(smtp.messages) == 1)
        with server.client() as citizen:
            status = citizen.get(f"/p/{code}").json()
            assert status["contact"] == "+62 812*****890 · s**@e******.com"
            html = citizen.get(f"/p/{code}", headers={"Accept": "text/html"}).text
            assert "+62 812*****890" in html
            assert "81234567890" not in html
            assert "sri@example.com" not in html
            changed = citizen.post(
                f"/p/{code}/contact", content="phone=&email=baru%40example.com&lang=id",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            assert changed.status_code == 303
            assert citizen.get(f"/p/{code}").json()["contact"] == "b***@e******.com"
            bad = citizen.post(
                f"/p/{code}/contact", content="phone=12&email=&lang=id",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            assert bad.status_code == 422
        metrics = httpx.get(f"{server.url}/metrics").text
        assert "drivethru_notify_outbox_sent 2" in metrics  # the webhook's and the e-mail
        assert "drivethru_notify_outbox_failed 0" in metrics
        log = server.log.read_text()
        assert not re.search(r"sri@example\.com|\+6281234567890", log)
    finally:
        server.stop()


def test_permits_seeded_by_the_cli_before_the_server_starts_are_notified_on_catch_up(
    tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "DRIVETHRU_NIK_KEY": NIK_KEY, "DRIVETHRU_STORE": "sqlite"}
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "seed", "--ready", "2",
         "--db", str(tmp_path / "events.db"), "--notify-db", str(tmp_path / "notify.db"),
         "--contact", "warga@example.com"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    codes = [json.loads(line)["code"] for line in done.stdout.splitlines()]
    server = _server(tmp_path, receiver, smtp, monkeypatch)
    server.start(wait_for_broker=False)
    try:
        wait_until(lambda: len(smtp.messages) == 2)
        wait_until(lambda: len(receiver.acked()) == 2)
    finally:
        server.stop()
    links = sorted(r.json["link"] for r in receiver.acked())
    assert links == sorted(f"https://izin.example.go.id/p/{code}" for code in codes)
    assert {m["To"] for m in smtp.messages} == {"warga@example.com"}
