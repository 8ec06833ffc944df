"""MQTT over TLS: Mosquitto from `drivethru broker config` with a TLS listener, our clients on it.

The certificates are made here (a site CA, a stranger's CA, server and client certificates);
Mosquitto runs from exactly the files the command writes, plus logging and ``user root``.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from bench.seed import seed_on_store
from core.contract import Ack, AckOutcome, Arrival, Topics, decode, encode
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from edge_lane.config import BrokerSettings, LaneSettings, build_settings
from edge_lane.errors import ConfigError
from edge_lane.frigate.config import FrigateLaneSettings, build_frigate_settings
from edge_lane.mobile.config import TeamSettings, build_team_settings
from edge_lane.mosquitto import password_env_name
from edge_lane.mqtt import DeviceLink
from tests.conftest import MOSQUITTO_MISSING, MQTT_USERS, SITE
from tests.server_process import NIK_KEY, ServerProcess
from tests.services import (
    _stop_process,
    _wait_for_port,
    free_port,
    mosquitto_binary,
    require_service,
)

pytestmark = [pytest.mark.mosquitto, pytest.mark.timeout(120)]
HOST = "127.0.0.1"
T = Topics(SITE)
USERS = {user: MQTT_USERS[user] for user in ("server", "lane-1", "lane-2")}


# -- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


class Authority:
    """A CA that writes its certificate and issues server and client certificates."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
        self.subject = subject
        self.certificate = (
            self._builder(subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.cert_file = directory / f"{name}-ca.crt"
        self.cert_file.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def _builder(
        self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(getattr(self, "subject", subject))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
        )

    def issue(self, common_name: str, *, server: bool) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            self._builder(subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            names = [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(self.key, hashes.SHA256())
        stem = self.directory / f"{self.name}-{common_name}"
        issued = Issued(stem.with_suffix(".crt"), stem.with_suffix(".key"))
        issued.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        issued.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        issued.key.chmod(0o600)
        return issued


@dataclass(frozen=True)
class Pki:
    site: Authority
    stranger: Authority
    broker: Issued
    lane: Issued
    server: Issued
    stranger_lane: Issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    site, stranger = Authority(directory, "site"), Authority(directory, "stranger")
    return Pki(
        site=site,
        stranger=stranger,
        broker=site.issue("broker", server=True),
        lane=site.issue("lane-1", server=False),
        server=site.issue("server", server=False),
        stranger_lane=stranger.issue("lane-1", server=False),
    )


# -- the broker, from `drivethru broker config` -----------------------------------------------


@dataclass(frozen=True)
class Broker:
    plain_port: int
    tls_port: int
    config: Path


def _password_env() -> dict[str, str]:
    return {password_env_name(user): password for user, password in USERS.items()}


def _drivethru(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher", *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def _site_file(path: Path, pki: Pki, plain_port: int, tls_port: int, **options: object) -> Path:
    lines = [
        f'site = "{SITE}"', "[[lanes]]", 'lane = "1"', "[[lanes]]", 'lane = "2"',
        "[mosquitto]", f'host = "{HOST}"', f"port = {plain_port}",
        f"plain = {json.dumps(options.get('plain', True))}",
        "[mosquitto.tls]", f"port = {tls_port}",
        f'ca_file = "{pki.site.cert_file}"',
        f'cert_file = "{pki.broker.cert}"', f'key_file = "{pki.broker.key}"',
        f"require_certificate = {json.dumps(options.get('require_certificate', False))}",
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def mosquitto(tmp_path: Path, pki: Pki, **options: object) -> Iterator[Broker]:
    """Mosquitto from the files `drivethru broker config` writes for `options`."""
    require_service("mosquitto", MOSQUITTO_MISSING)
    tmp_path.mkdir(parents=True, exist_ok=True)
    plain_port, tls_port = free_port(), free_port()
    site = _site_file(tmp_path / "site.toml", pki, plain_port, tls_port, **options)
    out = tmp_path / "broker"
    done = _drivethru("broker", "config", "--config", str(site), "--out", str(out),
                      env=_password_env())  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = out / "mosquitto.conf"
    # Logging for the test; as root, Mosquitto would drop to a user that cannot read 0600.
    extra = ["log_dest stdout", "log_type all", *(["user root"] if os.getuid() == 0 else [])]
    config.write_text(config.read_text() + "\n".join(extra) + "\n")
    binary = mosquitto_binary()
    assert binary is not None
    log = tmp_path / "mosquitto.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(binary), "-c", str(config)], stdout=output, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        _wait_for_port(HOST, tls_port, process, log, deadline)
        if options.get("plain", True):
            _wait_for_port(HOST, plain_port, process, log, deadline)
        yield Broker(plain_port, tls_port, config)
    finally:
        _stop_process(process)


# -- clients ----------------------------------------------------------------------------------


def _connect(
    port: int,
    user: str,
    *,
    ca: Path | None,
    client: Issued | None = None,
    tls: bool = True,
) -> tuple[mqtt.Client, ReasonCode | None]:
    """A plain paho client; raises what the TLS handshake raises, returns the CONNACK reason."""
    paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    paho.username_pw_set(user, USERS[user])
    if tls:
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        if client is not None:
            context.load_cert_chain(client.cert, client.key)
        paho.tls_set_context(context)
    answered = threading.Event()
    reasons: list[ReasonCode] = []

    def on_connect(
        _client: mqtt.Client, _data: object, _flags: object, reason: ReasonCode, _props: object
    ) -> None:
        reasons.append(reason)
        answered.set()

    paho.on_connect = on_connect
    paho.connect(HOST, port, keepalive=10)
    paho.loop_start()
    answered.wait(5)
    return paho, (reasons[0] if reasons else None)


def _refused(port: int, user: str, *, ca: Path | None, client: Issued | None = None) -> str:
    """Why a TLS connection was refused; fails the test if it was accepted."""
    try:
        paho, reason = _connect(port, user, ca=ca, client=client)
    except (ssl.SSLError, OSError) as error:
        return type(error).__name__
    paho.loop_stop()
    paho.disconnect()
    assert reason is None or reason.is_failure, f"{user} connected: {reason}"
    return f"no CONNACK ({reason})"


def _lane_link(broker: Broker, pki: Pki, *, with_certificate: bool) -> tuple[DeviceLink, list[Ack]]:
    acks: list[Ack] = []
    settings = BrokerSettings(
        url=f"mqtts://{HOST}:{broker.tls_port}",
        username="lane-1",
        ca_file=pki.site.cert_file,
        cert_file=pki.lane.cert if with_certificate else None,
        key_file=pki.lane.key if with_certificate else None,
    )
    link = DeviceLink(
        settings,
        client_id="lane-1",
        password=USERS["lane-1"],
        will_topic=T.lane_status("1"),
        will_payload=b'{"v": 1}',
        subscriptions=[T.acks("1")],
        on_message=lambda _topic, payload: acks.append(decode(Ack, payload)),
        on_connected=lambda: None,
    )
    return link, acks


def _ready_permit(workdir: Path) -> tuple[str, str]:
    """One READY permit in the server's store: its id and its pickup code's SHA-256."""
    store = StoreSettings(backend="sqlite", sqlite_path=workdir / "events.db")
    service = PermitService(ServiceSettings.model_validate({"store": store, "nik_key": NIK_KEY}))
    try:
        (permit,) = seed_on_store(service, SITE, 1)
    finally:
        service.close()
    return permit.id, hashlib.sha256(permit.code.encode()).hexdigest()


def _arrival(code_sha256: str) -> Arrival:
    return Arrival(site=SITE, lane="1", visit=uuid.uuid4(), code_sha256=code_sha256)


def _wait_for(predicate: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise TimeoutError("condition not met in time")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# -- tests ------------------------------------------------------------------------------------


def test_broker_config_writes_the_tls_listener_and_keeps_plain_on_loopback(
    tmp_path: Path, pki: Pki
) -> None:
    site = _site_file(tmp_path / "site.toml", pki, 1883, 8883, require_certificate=True)
    out = tmp_path / "broker"
    done = _drivethru("broker", "config", "--config", str(site), "--out", str(out),
                      env=_password_env())  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr  # the plain listener is on loopback
    lines = (out / "mosquitto.conf").read_text().splitlines()
    tls_at = lines.index(f"listener 8883 {HOST}")
    assert lines[tls_at + 1 : tls_at + 7] == [
        f"cafile {pki.site.cert_file}",
        f"certfile {pki.broker.cert}",
        f"keyfile {pki.broker.key}",
        "tls_version tlsv1.2",
        "require_certificate true",
        "use_username_as_clientid true",  # a listener setting: each listener binds ids
    ]
    plain_at = lines.index(f"listener 1883 {HOST}")
    assert lines[plain_at + 1] == "use_username_as_clientid true"


def test_broker_config_warns_of_a_plain_listener_on_the_network_and_refuses_no_listener(
    tmp_path: Path, pki: Pki
) -> None:
    site = _site_file(tmp_path / "site.toml", pki, 1883, 8883)
    site.write_text(site.read_text().replace(f'host = "{HOST}"', 'host = "0.0.0.0"'))
    out = tmp_path / "broker"
    env = _password_env()
    warned = _drivethru("broker", "config", "--config", str(site), "--out", str(out), env=env)
    assert warned.returncode == 0, warned.stderr
    assert "tanpa TLS" in warned.stderr
    assert "WARNING" in warned.stderr
    no_tls = tmp_path / "no-tls.toml"
    no_tls.write_text(
        site.read_text().split("[mosquitto.tls]")[0].replace("plain = true", "plain = false")
    )
    refused = _drivethru(
        "broker", "config", "--config", str(no_tls), "--out", str(tmp_path / "x"), env=env
    )
    assert refused.returncode == 2
    assert "plain = false" in refused.stderr
    assert not (tmp_path / "x").exists()


def test_a_lane_with_the_sites_ca_gets_its_arrival_acked_by_the_server_over_tls(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mosquitto(tmp_path, pki) as broker:
        monkeypatch.setenv("DRIVETHRU_BROKER_CA_FILE", str(pki.site.cert_file))
        permit, code_sha256 = _ready_permit(tmp_path)
        server = ServerProcess(tmp_path, f"mqtts://{HOST}:{broker.tls_port}", USERS["server"])
        server.start()  # returns once /healthz says the server's link is connected
        link, acks = _lane_link(broker, pki, with_certificate=False)
        try:
            link.start()
            _wait_for(lambda: link.connected)
            arrival = _arrival(code_sha256)
            assert link.publish(T.arrivals("1"), encode(arrival)) is not None
            _wait_for(lambda: acks)
        finally:
            link.stop()
            server.stop()
    released = [(ack.id, ack.outcome, ack.permits) for ack in acks]
    assert released == [(arrival.id, AckOutcome.RELEASED, [permit])]


def test_a_client_without_the_sites_ca_or_trusting_another_ca_is_refused(
    tmp_path: Path, pki: Pki
) -> None:
    with mosquitto(tmp_path, pki) as broker:
        without_ca = _refused(broker.tls_port, "lane-1", ca=None)
        wrong_ca = _refused(broker.tls_port, "lane-1", ca=pki.stranger.cert_file)
        paho, reason = _connect(broker.tls_port, "lane-1", ca=pki.site.cert_file)
        paho.disconnect()
        paho.loop_stop()
    assert without_ca == "SSLCertVerificationError"
    assert wrong_ca == "SSLCertVerificationError"
    assert reason is not None
    assert not reason.is_failure


def test_with_require_certificate_only_the_sites_client_certificates_get_in(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mosquitto(tmp_path, pki, require_certificate=True) as broker:
        no_certificate = _refused(broker.tls_port, "lane-1", ca=pki.site.cert_file)
        stranger = _refused(
            broker.tls_port, "lane-1", ca=pki.site.cert_file, client=pki.stranger_lane
        )
        # The server's link and a lane's link, both with the site's client certificates.
        monkeypatch.setenv("DRIVETHRU_BROKER_CA_FILE", str(pki.site.cert_file))
        monkeypatch.setenv("DRIVETHRU_BROKER_CERT_FILE", str(pki.server.cert))
        monkeypatch.setenv("DRIVETHRU_BROKER_KEY_FILE", str(pki.server.key))
        permit, code_sha256 = _ready_permit(tmp_path)
        server = ServerProcess(tmp_path, f"mqtts://{HOST}:{broker.tls_port}", USERS["server"])
        server.start()
        link, acks = _lane_link(broker, pki, with_certificate=True)
        try:
            link.start()
            _wait_for(lambda: link.connected)
            arrival = _arrival(code_sha256)
            assert link.publish(T.arrivals("1"), encode(arrival)) is not None
            _wait_for(lambda: acks)
        finally:
            link.stop()
            server.stop()
    assert no_certificate
    assert stranger
    assert [(ack.id, ack.permits) for ack in acks] == [(arrival.id, [permit])]


def test_the_plain_port_is_open_only_where_the_config_says(tmp_path: Path, pki: Pki) -> None:
    with mosquitto(tmp_path / "one-box", pki) as broker:
        # Bound to 127.0.0.1 only: another address of this machine does not answer.
        assert _port_open(HOST, broker.plain_port)
        assert not _port_open("127.0.0.2", broker.plain_port)
        assert not _port_open("127.0.0.2", broker.tls_port)
        paho, reason = _connect(broker.plain_port, "lane-2", ca=None, tls=False)
        paho.disconnect()
        paho.loop_stop()
        assert reason is not None
        assert not reason.is_failure
        # The TLS port does not speak plain MQTT: no CONNACK comes back.
        paho, reason = _connect(broker.tls_port, "lane-2", ca=None, tls=False)
        paho.loop_stop()
        assert reason is None or reason.is_failure
    with mosquitto(tmp_path / "tls-only", pki, plain=False) as broker:
        assert _port_open(HOST, broker.tls_port)
        assert not _port_open(HOST, broker.plain_port)
        assert f"listener {broker.plain_port}" not in broker.config.read_text()


def test_clients_refuse_tls_files_that_would_be_ignored_or_cannot_be_read(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="mqtts://"):
        BrokerSettings(url="mqtt://127.0.0.1:1883", ca_file=pki.site.cert_file)
    with pytest.raises(ValidationError, match="key_file"):
        BrokerSettings(url="mqtts://127.0.0.1", cert_file=pki.lane.cert)
    assert BrokerSettings(url="mqtts://broker.local").port == 8883
    monkeypatch.setenv("DRIVETHRU_BROKER_CA_FILE", str(tmp_path / "missing-ca.pem"))
    server = ServerProcess(tmp_path, f"mqtts://{HOST}:8883", USERS["server"])
    with pytest.raises(RuntimeError, match=r"missing-ca\.pem"):
        server.start()  # exits 2 at once, naming the file: it never retries a missing CA
    assert server.process is not None
    assert server.process.returncode == 2


Builder = Callable[..., LaneSettings | TeamSettings | FrigateLaneSettings]
CLIENT_FILES: dict[str, tuple[Builder, dict[str, Any]]] = {
    "lane": (build_settings, {"site": SITE, "lane": "1", "cameras": [{"source": "0"}]}),
    "team": (build_team_settings, {"site": SITE, "team": "a"}),
    "frigate": (build_frigate_settings, {"site": SITE, "cameras": [{"camera": "c", "lane": "1"}]}),
}


@pytest.mark.parametrize("client", sorted(CLIENT_FILES))
def test_every_clients_file_takes_the_same_tls_keys_and_refusals(client: str, pki: Pki) -> None:
    build, base = CLIENT_FILES[client]
    tls = {
        "url": "mqtts://broker.mpp-badung.local",
        "ca_file": str(pki.site.cert_file),
        "cert_file": str(pki.lane.cert),
        "key_file": str(pki.lane.key),
    }
    broker = build({**base, "broker": tls}, origin=client).broker
    assert (broker.host, broker.port, broker.tls) == ("broker.mpp-badung.local", 8883, True)
    assert broker.tls_files.cert_file == pki.lane.cert
    with pytest.raises(ConfigError) as plain:
        build({**base, "broker": {**tls, "url": "mqtt://10.0.5.2"}}, origin=client)
    with pytest.raises(ConfigError) as no_key:
        build({**base, "broker": {**tls, "key_file": None}}, origin=client)
    assert "mqtts://" in " ".join(plain.value.problems)
    assert "cert_file needs key_file" in " ".join(no_key.value.problems)
