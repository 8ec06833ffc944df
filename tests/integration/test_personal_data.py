"""Personal data sealed with a key per subject: erased by deleting the key, never the events.

Against a SQLite file and a real PostgreSQL: what the store holds is read straight from its
tables, not through the service that sealed it.
"""

from __future__ import annotations

import base64
import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from core.contact import Contact
from core.personal import ERASED, SubjectKeys, unseal
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from core.subject_keys import TABLE, SqliteKeyStore
from projections import queries
from projections.store import ReadModels
from tests.factories import DELEGATE_NIK, SOLE_WRITER, FrozenClock, ready_permit
from tests.integration.test_projections import build, dump
from tests.integration.test_service_stores import open_service

NAME = "I Wayan Sudirta"
DELEGATE = "Ketut Arta Wibawa"
PHONE = "+6281234567890"
EMAIL = "wayan.sudirta@example.id"


def stored_text(store: StoreSettings) -> str:
    """Every stored event's state, as the database holds it."""
    if store.backend == "sqlite":
        with sqlite3.connect(store.sqlite_path) as conn:
            rows = conn.execute("SELECT state FROM stored_events").fetchall()
    else:
        with psycopg.connect(**store.postgres_connection()) as conn:
            rows = conn.execute("SELECT state FROM drivethru_events").fetchall()
    return "\n".join(bytes(row[0]).decode() for row in rows)


def a_permit_with_everything_personal(service: PermitService) -> uuid.UUID:
    ready = ready_permit(service, plate="DK 4321 XY")
    service.record_contact(ready.id, Contact(PHONE, EMAIL, "en"))
    service.authorise_delegate(
        ready.id, name=DELEGATE, nik=DELEGATE_NIK,
        expires_at=FrozenClock()() + timedelta(days=3),
    )  # fmt: skip
    return ready.id


def test_the_store_holds_no_personal_field_in_clear(store: StoreSettings) -> None:
    service = open_service(store)
    permit_id = a_permit_with_everything_personal(service)
    text = stored_text(store)
    for secret in (NAME, "DK4321XY", DELEGATE, PHONE, EMAIL):
        assert secret not in text
    assert text.count('"_type_":"sealed_v1"') == 5
    again = open_service(store).get(permit_id)  # a new process reads them back
    assert (again.applicant_name, again.plate) == (NAME, "DK4321XY")


def test_an_erased_subject_still_replays_and_reads_erased_everywhere(store: StoreSettings) -> None:
    service = open_service(store)
    permit_id = a_permit_with_everything_personal(service)
    other = ready_permit(service, plate="DK 1 A").id
    before = len(stored_text(store).splitlines())

    assert service.erase_personal_data(permit_id, "officer", "permintaan subjek / request")
    assert not service.erase_personal_data(permit_id, "officer", "again")  # nothing new

    reader = open_service(store)
    events = list(reader.events.get(permit_id))
    assert type(events[-1]).__name__ == "DataErased"
    erased = vars(events[-1])
    assert (erased["by"], erased["reason"]) == ("officer", "permintaan subjek / request")
    assert len(stored_text(store).splitlines()) == before + 1  # one event, nothing edited
    submitted = vars(events[0])
    assert (submitted["applicant_name"], submitted["plate"]) == (ERASED, ERASED)

    fresh = open_service(store)  # replays every event, the sealed ones without their key
    snapshot = fresh.get(permit_id)
    assert (snapshot.applicant_name, snapshot.plate) == (ERASED, ERASED)
    assert fresh.contact_of(permit_id) is None
    assert fresh.get(other).applicant_name == NAME  # other subjects keep theirs
    assert fresh.subject_keys.key(permit_id.hex) is None
    assert fresh.subject_keys.key(other.hex) is not None


async def test_read_models_after_an_erasure_equal_a_rebuild(tmp_path: Path) -> None:
    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    service = open_service(store)
    permit_id = a_permit_with_everything_personal(service)
    kept = ready_permit(service, plate="DK 77 B").id
    followed = await build(service, tmp_path / "followed.db")  # built before the erasure
    row = await queries.permit(followed.conn, str(permit_id))
    assert row is not None
    assert row.holder != ERASED
    service.erase_personal_data(permit_id, "retention", "masa simpan habis / retention")
    from projections.bootstrap import runner_for

    await runner_for(service, followed).catch_up()
    rebuilt = await build(open_service(store), tmp_path / "rebuilt.db")
    try:
        for models in (followed, rebuilt):
            row = await queries.permit(models.conn, str(permit_id))
            assert row is not None
            assert (row.holder, row.plate) == (ERASED, None)
            other = await queries.permit(models.conn, str(kept))
            assert other is not None
            assert other.plate == "DK77B"
            async with models.conn.execute(
                "SELECT name_masked FROM delegates WHERE permit_id = ?", (str(permit_id),)
            ) as cursor:
                assert [r[0] for r in await cursor.fetchall()] == [ERASED]
        assert await dump(followed) == await dump(rebuilt)
        # An erased plate matches nothing any more.
        _, permits = await queries.match_ready_plate(rebuilt.conn, "badung", "DK4321XY")
        assert permits == []
    finally:
        await followed.close()
        await rebuilt.close()


def test_a_backup_taken_after_the_erasure_holds_no_key_for_the_subject(tmp_path: Path) -> None:
    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    service = open_service(store)
    permit_id = a_permit_with_everything_personal(service)
    service.erase_personal_data(permit_id, "officer", "request")
    copy = tmp_path / "backup.db"
    with sqlite3.connect(store.sqlite_path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as conn:
        assert conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0] == 0
        states = [bytes(r[0]).decode() for r in conn.execute("SELECT state FROM stored_events")]
    assert all(NAME not in state for state in states)
    restored = open_service(StoreSettings(backend="sqlite", sqlite_path=copy))
    assert restored.get(permit_id).applicant_name == ERASED


def test_a_damaged_sealed_value_is_an_error_not_an_erasure(tmp_path: Path) -> None:
    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    service = open_service(store)
    ready_permit(service)
    sealed = stored_text(store).split('"applicant_name":{"_type_":"sealed_v1","_data_":"')[1]
    sealed = sealed.split('"')[0]
    keys = SubjectKeys(SqliteKeyStore(store.sqlite_path))
    assert unseal(keys, sealed) == NAME
    version, subject, event, field, data = sealed.split(":", 4)
    with pytest.raises(ValueError, match="rusak / damaged"):
        unseal(keys, f"{version}:{subject}:{event}:plate:{data}")  # moved to another field
    raw = bytearray(base64.urlsafe_b64decode(data))
    raw[-1] ^= 0x01  # one bit of the tag (editing the text could land in padding bits)
    flipped = base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(ValueError, match="rusak / damaged"):
        unseal(keys, f"{version}:{subject}:{event}:{field}:{flipped}")
    with pytest.raises(ValueError, match="tidak dikenal / unknown"):
        unseal(keys, f"v9:{subject}:{event}:{field}:{data}")


async def test_the_read_models_refuse_sealed_events_without_the_key_table(tmp_path: Path) -> None:
    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    service = open_service(store)
    ready_permit(service)
    from projections.bootstrap import runner_for
    from projections.permits import PermitFold

    async with ReadModels(tmp_path / "read.db") as models:
        runner = runner_for(service, models)
        runner._fold = PermitFold()  # a fold given neither the transcoder nor the keys
        with pytest.raises(ValueError, match="kunci tak ada / sealed, no key table"):
            await runner.catch_up()


async def test_a_server_sees_an_erasure_another_process_made_once_it_folds_it(
    tmp_path: Path,
) -> None:
    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    # As `drivethru serve` runs it: its cached aggregates are not fast-forwarded.
    server = PermitService(ServiceSettings.for_demo(store), clock=FrozenClock(), env=SOLE_WRITER)
    permit_id = a_permit_with_everything_personal(server)
    assert server.get(permit_id).applicant_name == NAME  # cached, fields opened
    models = await build(server, tmp_path / "read.db")
    try:
        admin = open_service(store)  # `drivethru privacy erase`, say
        admin.erase_personal_data(permit_id, "admin", "request")
        admin.close()
        from projections.bootstrap import runner_for

        await runner_for(server, models).catch_up()
    finally:
        await models.close()
    snapshot = server.get(permit_id)
    assert (snapshot.applicant_name, snapshot.plate) == (ERASED, ERASED)
    assert server.contact_of(permit_id) is None


async def test_the_manifests_carry_nothing_of_an_erased_holder(tmp_path: Path) -> None:
    from api.manifests import lane_manifest, team_manifests

    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    service = open_service(store)
    at_lane = a_permit_with_everything_personal(service)
    with_team = ready_permit(service, plate="DK 55 TM").id
    service.assign_to_team(with_team, "officer", "ribon-1", "2026-12-03", "Balai Desa Mengwi")
    service.authorise_delegate(
        with_team, name=DELEGATE, nik=DELEGATE_NIK, expires_at=FrozenClock()() + timedelta(days=3)
    )
    models = await build(service, tmp_path / "read.db")
    try:
        before = await lane_manifest(models.conn, "badung")
        assert "DK4321XY" in before.plates
        for permit_id in (at_lane, with_team):
            service.erase_personal_data(permit_id, "officer", "request")
        from projections.bootstrap import runner_for

        await runner_for(service, models).catch_up()
        lane = await lane_manifest(models.conn, "badung")
        assert "DK4321XY" not in lane.plates
        assert len(lane.code_hashes) == len(before.code_hashes)  # still collectable by code
        team = (await team_manifests(models.conn, "badung", set()))["ribon-1"]
        entry = team.permits[0]
        assert (entry.holder, entry.plate) == (ERASED, None)
        assert [d.name for d in entry.delegates] == [ERASED]
        assert DELEGATE not in team.model_dump_json()
    finally:
        await models.close()


def test_a_pages_keys_are_read_before_the_fold_from_the_stored_text(tmp_path: Path) -> None:
    from projections.log import SqliteFileSource
    from projections.permits import PermitFold

    store = StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
    service = open_service(store)
    permit_id = a_permit_with_everything_personal(service)
    keys = SubjectKeys(SqliteKeyStore(store.sqlite_path))
    page = SqliteFileSource(str(store.sqlite_path), "stored_events").select_after(0, 100)
    PermitFold(keys=keys).prefetch_keys(page)
    assert list(keys._cache) == [permit_id.hex]  # the fold then opens fields from memory
