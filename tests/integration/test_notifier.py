"""The notifier against a real SQLite store, a real HTTP receiver and a real SMTP server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from api.notify.bootstrap import state_opener
from api.notify.channels import DeliveryError, Email, Webhook
from api.notify.messages import MessageType, Recipient, message_body, signature_matches
from api.notify.notifier import Notifier
from api.notify.settings import EmailChannel, NotifyOptions, WebhookChannel
from api.notify.store import IssuedLinks, NotifyStore
from core.complaint import ComplaintDesk
from core.contact import Contact
from core.service import PermitService
from core.values import Recipient as PickupRecipient
from core.values import ReleaseMethod
from projections.bootstrap import runner_for
from projections.identity import StoreIdentity
from projections.store import ReadModels
from tests.factories import NIK, FrozenClock, sqlite_service
from tests.notify_peers import SmtpServer, WebhookReceiver
from tests.services import _make_certificates

SECRET = "webhook-secret-0123456789"
OPTIONS = NotifyOptions(retry_first_seconds=0.01, retry_max_seconds=0.05, waiting_minutes=5)


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


@pytest.fixture
def clock() -> FrozenClock:
    # Near the wall clock: an event's own timestamp (a release's) is the library's, not ours.
    return FrozenClock(datetime.now(UTC))


@pytest.fixture
def service(tmp_path: Path, clock: FrozenClock) -> Iterator[PermitService]:
    found = sqlite_service(tmp_path / "events.db", clock)
    found.add_code_listener(IssuedLinks(tmp_path / "notify.db"))
    yield found
    found.close()


def _notifier(
    service: PermitService, tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer,
    clock: FrozenClock,
) -> Notifier:  # fmt: skip
    webhook = WebhookChannel(kind="webhook", url=receiver.url, secret_env="NOTIFY_TEST_SECRET")
    email = EmailChannel.model_validate(
        {"kind": "email", "host": "127.0.0.1", "port": smtp.port, "from": "izin@mpp.go.id"}
    )
    return Notifier(
        service.recorder, NotifyStore(tmp_path / "notify.db"), [Webhook(webhook), Email(email)],
        OPTIONS, public_url="https://izin.example.go.id", uncollected_days=30, clock=clock,
        open_state=state_opener(service),
    )  # fmt: skip


def _ready(service: PermitService, contact: Contact | None, reference: str) -> tuple[str, str]:
    permit_id = service.submit(
        site="badung", reference=reference, kind="SIUP", applicant_name="Ni Made Ayu Lestari",
        nik=NIK, plate="DK 77 XY", contact=contact,
    )  # fmt: skip
    service.verify_documents(permit_id, "ani")
    service.assess_fee(permit_id, "ani", 0)
    service.approve(permit_id, "ani")
    service.print_document(permit_id, "ani")
    issued = service.stage(permit_id, "komang", "R1-01")
    return str(permit_id), issued.code


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_TEST_SECRET", SECRET)


def test_a_ready_permit_is_notified_once_with_its_link_by_webhook_and_email(
    service: PermitService, tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer,
    clock: FrozenClock,
) -> None:  # fmt: skip
    contact = Contact.parse("+6281234567890", "ayu@example.co.id", "en")
    permit_id, code = _ready(service, contact, "LAP-1")
    _ready(service, None, "LAP-2")  # no contact: nothing to send
    notifier = _notifier(service, tmp_path, receiver, smtp, clock)
    assert notifier.catch_up() == 1
    assert notifier.deliver_due() == 2
    [hook] = receiver.received
    body = hook.json
    assert body["type"] == "permit.ready"
    assert body["v"] == 1
    assert body["link"] == f"https://izin.example.go.id/p/{code}"
    assert body["permit"] == {
        "id": permit_id, "number": "LAP-1", "holder_masked": "N* M*** A** L******"
    }  # fmt: skip
    assert body["contact"] == {
        "phone": "+6281234567890", "email": "ayu@example.co.id", "lang": "en"
    }  # fmt: skip
    assert body["text"].startswith("Izin LAP-1 siap diambil")
    assert "is ready" in body["text"]
    assert signature_matches(hook.body, SECRET.encode(), hook.headers["X-Drivethru-Signature"])
    [mail] = smtp.messages
    assert mail["To"] == "ayu@example.co.id"
    assert mail["Message-ID"] == f"<{body['id']}@drivethru>"
    assert code in mail.get_payload()
    # Caught up again (a restart): nothing new, nothing resent.
    assert notifier.catch_up() == 0
    assert notifier.deliver_due() == 0
    assert len(receiver.received) == 1
    assert len(smtp.messages) == 1
    # Once delivered, the code in clear is kept nowhere.
    for row in notifier.store.rows():
        assert code.encode() not in row.body
    assert notifier.store.conn.execute("SELECT COUNT(*) FROM links").fetchone()[0] == 0


def test_a_refused_webhook_is_retried_with_the_same_id_and_bytes(
    service: PermitService, tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer,
    clock: FrozenClock,
) -> None:  # fmt: skip
    receiver.statuses = [500, 503]
    _ready(service, Contact.parse("+6281234567890", None), "LAP-3")
    notifier = _notifier(service, tmp_path, receiver, smtp, clock)
    notifier.catch_up()
    for _ in range(40):
        notifier.deliver_due()
        if receiver.acked():
            break
        time.sleep(0.02)
    assert [r.status for r in receiver.received] == [500, 503, 200]
    assert len({r.body for r in receiver.received}) == 1
    [row] = notifier.store.rows()
    assert row.attempts == 3
    assert row.sent_at is not None
    assert row.last_error == "HTTP 503"
    assert smtp.messages == []  # no e-mail address: the e-mail channel does not reach


def test_reissue_team_waiting_and_expiry_each_notify_once(
    service: PermitService, tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer,
    clock: FrozenClock,
) -> None:  # fmt: skip
    permit_id, first = _ready(service, Contact.parse(None, "sari@example.com"), "LAP-4")
    notifier = _notifier(service, tmp_path, receiver, smtp, clock)
    reissued = service.reissue_code(uuid.UUID(permit_id), "ani", "hilang / lost")
    service.assign_to_team(uuid.UUID(permit_id), "ani", "a", "2026-12-05", "Balai Desa Mengwi")
    notifier.catch_up()
    notifier.queue_timers()
    notifier.deliver_due()
    types = [r.json["type"] for r in receiver.received]
    # The first code died before its message went: only the new code's is sent.
    assert types == ["permit.ready", "permit.team_visit_scheduled"]
    assert receiver.received[0].json["link"].endswith(reissued.code)
    assert receiver.received[1].json["team"] == {
        "team": "a", "date": "2026-12-05", "place": "Balai Desa Mengwi"
    }  # fmt: skip
    assert "Balai Desa Mengwi" in receiver.received[1].json["text"]
    # Released and not collected after 5 minutes: one "waiting at the window".
    service.unassign_from_team(uuid.UUID(permit_id), "ani")
    visit = uuid.uuid4()
    service.release(uuid.UUID(permit_id), lane="1", window="2", visit=visit,
                    method=ReleaseMethod.CODE, code_sha256=reissued.code_sha256)  # fmt: skip
    notifier.catch_up()
    clock.advance(timedelta(minutes=4))
    assert notifier.queue_timers() == 0
    clock.advance(timedelta(minutes=2))
    assert notifier.queue_timers() == 1
    assert notifier.queue_timers() == 0
    assert notifier.deliver_due() == 2  # webhook and e-mail, before the car leaves
    service.return_to_storage(uuid.UUID(permit_id), "op", "left / pergi")
    notifier.catch_up()
    # Three days before the code's end (30 days): "expires soon", once.
    clock.advance(timedelta(days=26))
    assert notifier.queue_timers() == 0
    clock.advance(timedelta(days=1, hours=1))
    assert notifier.queue_timers() == 1
    assert notifier.queue_timers() == 0
    notifier.deliver_due()
    types = [r.json["type"] for r in receiver.received]
    assert types[2:] == ["permit.waiting_at_window", "permit.expiring"]
    assert receiver.received[2].json["window"] == "2"
    assert len(smtp.messages) == 4
    assert first not in str(notifier.store.rows())


def test_the_contact_is_checked() -> None:
    from core.errors import InvalidInputError

    for phone, email in (("081234567890", None), (None, "not-an-email"), (None, None)):
        with pytest.raises(InvalidInputError):
            Contact.parse(phone, email)
    assert Contact.parse("+62 812-3456-7890", None).phone == "+6281234567890"
    assert Contact.parse("+6281234567890", "ibu.sari@gmail.com").masked == (
        "+62 812*****890 · i*******@g****.com"
    )
    assert orjson.loads(b"{}") == {}


def test_an_answered_complaint_is_notified_with_its_answer(
    service: PermitService, tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer,
    clock: FrozenClock,
) -> None:  # fmt: skip
    permit_id, _ = _ready(service, Contact.parse("+6281234567890", None, "id"), "LAP-5")
    desk = ComplaintDesk(service)
    desk.answer(uuid.UUID(permit_id), "badung", "Mohon maaf, antrean sudah kami tambah.", "ani")
    desk.close(uuid.UUID(permit_id), "badung", "ani", "selesai")
    notifier = _notifier(service, tmp_path, receiver, smtp, clock)
    notifier.catch_up()
    notifier.deliver_due()
    types = [r.json["type"] for r in receiver.received]
    assert types == ["permit.ready", "complaint.answered"]
    answered = receiver.received[1].json
    assert answered["permit"]["id"] == permit_id
    assert answered["answer"] == "Mohon maaf, antrean sudah kami tambah."
    assert "sudah dijawab" in answered["text"]


def test_erased_personal_data_is_neither_kept_nor_sent(
    service: PermitService, tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer,
    clock: FrozenClock,
) -> None:  # fmt: skip
    permit_id, code = _ready(service, Contact.parse("+6281234567890", "a@example.com"), "LAP-6")
    service.erase_personal_data(uuid.UUID(permit_id), "ani", "permintaan warga / on request")
    notifier = _notifier(service, tmp_path, receiver, smtp, clock)
    notifier.catch_up()
    notifier.deliver_due()
    assert receiver.received == []
    assert smtp.messages == []
    assert notifier.store.rows() == []
    notifier.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = (tmp_path / "notify.db").read_bytes()
    assert b"6281234567890" not in stored
    assert code.encode() not in stored


async def test_the_contact_stays_out_of_the_read_models_and_so_off_mqtt(
    service: PermitService, tmp_path: Path
) -> None:
    # Manifests and releases are built from the read models: what they never hold is never
    # published.
    _ready(service, Contact.parse("+6281299887766", "rahasia@example.com"), "LAP-7")
    async with ReadModels(tmp_path / "read.db") as models:
        runner = runner_for(service, models)
        assert (await runner.catch_up()).events > 0
        await models.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = (tmp_path / "read.db").read_bytes()
    assert b"6281299887766" not in stored
    assert b"rahasia@example.com" not in stored
    assert b"LAP-7" in stored


def test_a_catch_up_over_history_announces_nothing_already_obsolete(
    service: PermitService, tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer,
    clock: FrozenClock,
) -> None:  # fmt: skip
    contact = Contact.parse("+6281234567890", None)
    collected, _ = _ready(service, contact, "LAP-8")
    visit = uuid.uuid4()
    service.release(uuid.UUID(collected), lane="1", window="1", visit=visit,
                    method=ReleaseMethod.MANUAL)  # fmt: skip
    service.hand_over(uuid.UUID(collected), handover_id="h-8", by="op",
                      recipient=PickupRecipient.OWNER, id_checked=True,
                      channel="lane:1")  # fmt: skip
    reissued, _ = _ready(service, contact, "LAP-9")
    new = service.reissue_code(uuid.UUID(reissued), "ani", "hilang / lost")
    notifier = _notifier(service, tmp_path, receiver, smtp, clock)  # first start: all history
    notifier.catch_up()
    notifier.deliver_due()
    [sent] = receiver.received  # not the collected permit's, nor the dead code's
    assert sent.json["permit"]["id"] == reissued
    assert sent.json["link"].endswith(new.code)
    assert notifier.store.counts() == {"waiting": 0, "sent": 1, "failed": 0, "cancelled": 2}


def test_validate_config_names_a_missing_webhook_secret(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(
        'site = "badung"\n[[notify]]\nkind = "webhook"\nurl = "https://gw.example/x"\n'
        'secret_env = "NOTIFY_MISSING_SECRET"\n'
    )
    env = {**os.environ, "DRIVETHRU_NIK_KEY": "test-nik-key-0123456789abcdef"}
    env.pop("NOTIFY_MISSING_SECRET", None)
    args = [sys.executable, "-m", "api", "serve", "--config", str(config), "--no-broker",
            "--validate-config"]  # fmt: skip
    refused = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert refused.returncode == 2
    assert "NOTIFY_MISSING_SECRET" in refused.stderr
    env["NOTIFY_MISSING_SECRET"] = "a-long-enough-secret-0123"
    assert subprocess.run(args, capture_output=True, env=env, check=False).returncode == 0


def test_a_notify_file_of_another_store_starts_over_without_queuing_twice(
    service: PermitService, tmp_path: Path, receiver: WebhookReceiver, smtp: SmtpServer,
    clock: FrozenClock,
) -> None:  # fmt: skip
    _ready(service, Contact.parse("+6281234567890", None), "LAP-10")
    notifier = _notifier(service, tmp_path, receiver, smtp, clock)
    here = StoreIdentity("sqlite:/here/events.db", "first-event-digest")
    assert not notifier.store.ensure_from(here)
    notifier.catch_up()
    position = notifier.store.position()
    assert position > 0
    assert not notifier.store.ensure_from(here)  # a restart on the same store
    assert notifier.store.position() == position
    assert notifier.store.ensure_from(StoreIdentity("sqlite:/elsewhere.db", "another-digest"))
    assert notifier.store.position() == 0
    notifier.catch_up()  # the same log again: the same message ids, nothing queued twice
    notifier.deliver_due()
    assert len(receiver.received) == 1


def test_email_goes_over_starttls_when_offered_and_not_in_clear_when_required(
    tmp_path: Path,
) -> None:
    ca, cert, key = _make_certificates(tmp_path)
    secure = SmtpServer(tls=(cert, key))  # offers STARTTLS and refuses mail before it
    plain = SmtpServer()
    to = Recipient("p-1", "badung", "N-1", "A***", None, "ayu@example.com", "id")
    body = message_body(MessageType.READY, "m-1", "2026-12-02T01:00:00+00:00", to, {})
    try:
        Email(_email_channel(secure.port, ca_file=ca)).deliver(body)
        [mail] = secure.messages
        assert mail["Message-ID"] == "<m-1@drivethru>"
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            Email(_email_channel(secure.port)).deliver(body)  # not the system's CAs' cert
        with pytest.raises(DeliveryError, match="STARTTLS"):
            Email(_email_channel(plain.port, require_tls=True)).deliver(body)
        assert plain.messages == []
        Email(_email_channel(plain.port)).deliver(body)  # STARTTLS only when offered
        assert len(plain.messages) == 1
    finally:
        secure.stop()
        plain.stop()


def _email_channel(port: int, **more: object) -> EmailChannel:
    return EmailChannel.model_validate(
        {"kind": "email", "host": "127.0.0.1", "port": port, "from": "izin@mpp.go.id", **more}
    )


def test_the_notify_benchmark_reports_its_figures_and_its_anchor() -> None:
    from bench.notify import run

    result = run(permits=20)
    assert result["messages_queued"] == result["messages_delivered"] == 20
    assert result["events"] > 20 * 8
    assert result["notifier_fold_events_per_s"] > 0
    assert result["read_models_fold_events_per_s"] > 0
    assert result["ms_per_message_marked_sent"] > 0
