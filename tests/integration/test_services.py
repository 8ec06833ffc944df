"""The harness itself, proved with real clients: PostgreSQL, Mosquitto and the embedded broker."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import paho.mqtt.client as mqtt
import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.conftest import LANES, MOSQUITTO_MISSING, MQTT_USERS, SITE, TEAMS
from tests.services import (
    BrokerEndpoint,
    MosquittoServer,
    PostgresServer,
    drivethru_acl,
    require_service,
    running_mosquitto,
)

ROOT = f"drivethru/v1/{SITE}"
WAIT = 5.0
# How long to wait for a message that must not arrive: the broker forwards within
# milliseconds, and a message published later by the same client has already arrived.
QUIET = 0.3


class MqttProbe:
    """A paho client that records what happens to it, for asserting on a broker."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.connect_result: ReasonCode | None = None
        self._subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        self.connect_result = reason_code
        self.connected.set()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.messages.put(message)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: object,
    ) -> None:
        self._subacks.put(reason_codes)

    def subscribe(self, topic: str) -> ReasonCode:
        """Subscribe at QoS 1 and return the broker's answer."""
        self.client.subscribe(topic, qos=1)
        return self._subacks.get(timeout=WAIT)[0]

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(WAIT)
        assert info.is_published()

    def receive(self, count: int) -> list[mqtt.MQTTMessage]:
        """The next `count` messages, failing if they do not come in time."""
        return [self.messages.get(timeout=WAIT) for _ in range(count)]

    def received_within(self, seconds: float) -> list[mqtt.MQTTMessage]:
        """Whatever arrives within `seconds`."""
        found: list[mqtt.MQTTMessage] = []
        try:
            while True:
                found.append(self.messages.get(timeout=seconds))
        except queue.Empty:
            return found


@contextmanager
def mqtt_client(
    host: str,
    port: int,
    user: str | None,
    password: str | None,
    *,
    client_id: str = "",
    persistent: bool = False,
    ca_file: Path | None = None,
    expect_refusal: bool = False,
) -> Iterator[MqttProbe]:
    """A connected MQTT 3.1.1 client (both brokers speak it), disconnected on exit."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=not persistent,
        protocol=mqtt.MQTTv311,
    )
    if user is not None:
        client.username_pw_set(user, password)
    if ca_file is not None:
        client.tls_set(ca_certs=str(ca_file))
    probe = MqttProbe(client)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        assert probe.connected.wait(WAIT), f"no CONNACK from {host}:{port}"
        assert probe.connect_result is not None
        if not expect_refusal:
            assert not probe.connect_result.is_failure, probe.connect_result
        yield probe
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def connect_as(
    broker: BrokerEndpoint | MosquittoServer,
    user: str,
    *,
    client_id: str = "",
    persistent: bool = False,
) -> Iterator[MqttProbe]:
    """A client logged in as one of the site's users."""
    with mqtt_client(
        broker.host,
        broker.port,
        user,
        MQTT_USERS[user],
        client_id=client_id,
        persistent=persistent,
    ) as probe:
        yield probe


# --- PostgreSQL ---------------------------------------------------------------------------


class Counter(Aggregate):
    """A tiny aggregate to prove the event store round trip."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class Counters(Application[UUID]):
    """The application whose events land in PostgreSQL."""


@pytest.mark.postgres
def test_postgres_accepts_a_password_login_and_refuses_a_wrong_one(
    postgres: PostgresServer,
) -> None:
    with postgres.connect() as connection:
        row = connection.execute("SHOW server_version").fetchone()
    assert row is not None
    assert str(row[0]).startswith("15")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=postgres.host,
            port=postgres.port,
            user=postgres.user,
            password="not-the-password",
            dbname="postgres",
        ).close()


@pytest.mark.postgres
def test_eventsourcing_saves_and_reads_an_aggregate_in_postgres(postgres: PostgresServer) -> None:
    dbname = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    env = postgres.eventsourcing_env(dbname)
    writer = Counters(env=env)
    try:
        counter = Counter("lane-1 arrivals")
        counter.increment()
        counter.increment()
        writer.save(counter)
        assert type(writer.recorder).__module__ == "eventsourcing.postgres"
    finally:
        writer.close()
    reader = Counters(env=env)
    try:
        assert reader.repository.get(counter.id).count == 2
    finally:
        reader.close()
    with postgres.connect(dbname) as connection:
        row = connection.execute("SELECT count(*) FROM counters_events").fetchone()
    assert row == (3,)  # created and incremented twice


# --- both brokers -------------------------------------------------------------------------


def test_an_authenticated_client_receives_what_another_publishes(broker: BrokerEndpoint) -> None:
    topic = f"{ROOT}/lanes/1/arrivals"
    with connect_as(broker, "server") as server, connect_as(broker, "lane-1") as lane:
        assert not server.subscribe(topic).is_failure
        lane.publish(topic, "arrival-1")
        [message] = server.receive(1)
    assert (message.topic, message.payload) == (topic, b"arrival-1")


def test_a_wrong_password_is_refused(broker: BrokerEndpoint) -> None:
    with mqtt_client(
        broker.host, broker.port, "lane-1", "wrong-password", expect_refusal=True
    ) as probe:
        assert probe.connect_result is not None
        assert probe.connect_result.is_failure


def test_a_client_without_credentials_is_refused(broker: BrokerEndpoint) -> None:
    # Anonymous sessions would get no offline queue from amqtt; neither broker allows them.
    with mqtt_client(broker.host, broker.port, None, None, expect_refusal=True) as probe:
        assert probe.connect_result is not None
        assert probe.connect_result.is_failure


def test_qos1_messages_wait_for_an_offline_persistent_session(broker: BrokerEndpoint) -> None:
    topic = f"{ROOT}/lanes/1/releases"
    client_id = f"lane-1-display-{uuid.uuid4().hex[:8]}"
    with connect_as(broker, "lane-1", client_id=client_id, persistent=True) as display:
        assert not display.subscribe(topic).is_failure
    with connect_as(broker, "server") as server:
        for n in range(5):
            server.publish(topic, f"release-{n}")
    with connect_as(broker, "lane-1", client_id=client_id, persistent=True) as display:
        payloads = [m.payload for m in display.receive(5)]
    assert payloads == [f"release-{n}".encode() for n in range(5)]


# --- Mosquitto only -----------------------------------------------------------------------


@pytest.mark.mosquitto
def test_the_acl_drops_a_lane_publishing_under_another_lane(mosquitto: MosquittoServer) -> None:
    with connect_as(mosquitto, "server") as server, connect_as(mosquitto, "lane-1") as lane:
        assert not server.subscribe(f"{ROOT}/lanes/+/arrivals").is_failure
        lane.publish(f"{ROOT}/lanes/2/arrivals", "forged")
        lane.publish(f"{ROOT}/lanes/1/arrivals", "genuine")
        received = server.receive(1) + server.received_within(QUIET)
    assert [(m.topic, m.payload) for m in received] == [(f"{ROOT}/lanes/1/arrivals", b"genuine")]


@pytest.mark.mosquitto
def test_the_acl_keeps_another_lanes_releases_from_a_lane(mosquitto: MosquittoServer) -> None:
    # Mosquitto 2.0 grants the SUBSCRIBE and applies the read ACL to each message instead.
    with connect_as(mosquitto, "lane-1") as lane, connect_as(mosquitto, "server") as server:
        lane.subscribe(f"{ROOT}/lanes/2/releases")
        assert not lane.subscribe(f"{ROOT}/lanes/1/releases").is_failure
        server.publish(f"{ROOT}/lanes/2/releases", "for lane 2")
        server.publish(f"{ROOT}/lanes/1/releases", "for lane 1")
        received = lane.receive(1) + lane.received_within(QUIET)
    assert [m.payload for m in received] == [b"for lane 1"]


@pytest.mark.mosquitto
def test_servers_share_arrivals_through_a_shared_subscription(mosquitto: MosquittoServer) -> None:
    shared = f"$share/drivethru/{ROOT}/lanes/+/arrivals"
    with (
        connect_as(mosquitto, "server") as first,
        connect_as(mosquitto, "server-2") as second,
        connect_as(mosquitto, "lane-1") as lane,
    ):
        assert not first.subscribe(shared).is_failure
        assert not second.subscribe(shared).is_failure
        for n in range(10):
            lane.publish(f"{ROOT}/lanes/1/arrivals", f"arrival-{n}")
        received = first.received_within(QUIET) + second.received_within(QUIET)
    # Each arrival goes to exactly one of the replicas.
    assert sorted(m.payload for m in received) == sorted(f"arrival-{n}".encode() for n in range(10))


@pytest.mark.mosquitto
def test_a_client_connects_over_tls_with_the_generated_ca() -> None:
    require_service("mosquitto", MOSQUITTO_MISSING)
    require_service("openssl", "openssl is not installed (needed for the test certificates)")
    acl = drivethru_acl(SITE, LANES, TEAMS)
    with running_mosquitto(MQTT_USERS, acl, tls=True) as server:
        assert server.tls_port is not None
        assert server.ca_file is not None
        topic = f"{ROOT}/server/status"
        with mqtt_client(
            server.host, server.tls_port, "server", MQTT_USERS["server"], ca_file=server.ca_file
        ) as probe:
            assert not probe.subscribe(topic).is_failure
            probe.publish(topic, "online")
            [message] = probe.receive(1)
    assert message.payload == b"online"


@pytest.mark.mosquitto
def test_queued_messages_survive_a_broker_restart(mosquitto: MosquittoServer) -> None:
    topic = f"{ROOT}/lanes/2/acks"
    client_id = "lane-2-edge"
    with connect_as(mosquitto, "lane-2", client_id=client_id, persistent=True) as edge:
        assert not edge.subscribe(topic).is_failure
    with connect_as(mosquitto, "server") as server:
        for n in range(3):
            server.publish(topic, f"ack-{n}")
    mosquitto.restart()
    with connect_as(mosquitto, "lane-2", client_id=client_id, persistent=True) as edge:
        payloads = [m.payload for m in edge.receive(3)]
    assert payloads == [b"ack-0", b"ack-1", b"ack-2"]


# --- the skip / fail switch ---------------------------------------------------------------


def test_a_missing_service_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIVETHRU_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no such broker here"):
        require_service("drivethru-no-such-binary", "no such broker here")


def test_a_missing_service_fails_when_ci_requires_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIVETHRU_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="no such broker here"):
        require_service("drivethru-no-such-binary", "no such broker here")
