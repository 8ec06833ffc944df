"""Shared fixtures: real PostgreSQL, Mosquitto and the embedded broker (see tests/services.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.settings import StoreSettings
from tests.services import (
    BrokerEndpoint,
    EmbeddedBroker,
    MosquittoServer,
    PostgresServer,
    drivethru_acl,
    require_service,
    running_embedded_broker,
    running_mosquitto,
)

SITE = "badung"
LANES = ("1", "2")
TEAMS = ("a",)
# Test-only credentials, one per device as in production.
MQTT_USERS: dict[str, str] = {
    "server": "server-test-secret",
    "server-2": "server-2-test-secret",  # a second replica: client ids are bound to users
    "lane-1": "lane-1-test-secret",
    "lane-2": "lane-2-test-secret",
    "team-a": "team-a-test-secret",
}

POSTGRES_MISSING = "PostgreSQL is not installed (Debian package postgresql)"
MOSQUITTO_MISSING = "Mosquitto is not installed (Debian packages mosquitto, mosquitto-clients)"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; tests create their own databases on it."""
    require_service("postgres", POSTGRES_MISSING)
    with PostgresServer() as server:
        yield server


@pytest.fixture
def mosquitto() -> Iterator[MosquittoServer]:
    """A fresh Mosquitto with the site's users and the contract's ACL."""
    require_service("mosquitto", MOSQUITTO_MISSING)
    # The production config but for client ids bound to users: many tests watch a device's
    # topics with that device's own login while the device runs, which binding forbids.
    # tests/integration/test_broker_acl.py runs the binding itself.
    acl = drivethru_acl(SITE, LANES, TEAMS)
    with running_mosquitto(MQTT_USERS, acl, bind_client_ids=False) as server:
        yield server


@pytest.fixture
def embedded_broker() -> Iterator[EmbeddedBroker]:
    """A fresh embedded (amqtt) broker with the site's users and the contract's ACL."""
    with running_embedded_broker(MQTT_USERS, drivethru_acl(SITE, LANES, TEAMS)) as broker:
        yield broker


@pytest.fixture(
    params=[
        pytest.param("mosquitto", marks=pytest.mark.mosquitto),
        pytest.param("embedded"),
    ]
)
def broker(request: pytest.FixtureRequest) -> BrokerEndpoint:
    """Each broker in turn, for behaviour that both must share (the ACL included)."""
    if request.param == "mosquitto":
        server: MosquittoServer = request.getfixturevalue("mosquitto")
        return BrokerEndpoint("mosquitto", server.host, server.port, MQTT_USERS)
    embedded: EmbeddedBroker = request.getfixturevalue("embedded_broker")
    return BrokerEndpoint("embedded", embedded.host, embedded.port, MQTT_USERS)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreSettings]:
    """An empty event store: a SQLite file, then a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        yield StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
        return
    server = request.getfixturevalue("postgres")
    dbname = server.create_database(f"t_{uuid.uuid4().hex[:12]}")
    yield StoreSettings(
        backend="postgres",
        postgres_host=server.host,
        postgres_port=server.port,
        postgres_dbname=dbname,
        postgres_user=server.user,
        postgres_password=SecretStr(server.password),
    )
