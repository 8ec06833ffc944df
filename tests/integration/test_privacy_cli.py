"""``drivethru privacy export`` and ``erase``, run as an administrator runs them."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from api.pages.feedback import FeedbackStore
from core.personal import ERASED
from core.settings import StoreSettings
from projections import queries
from projections.bootstrap import runner_for
from projections.store import ReadModels
from tests.factories import DELEGATE_NIK, NIK
from tests.integration.test_cli import drivethru
from tests.integration.test_personal_data import (
    DELEGATE,
    EMAIL,
    NAME,
    PHONE,
    a_permit_with_everything_personal,
    open_service,
)


def files_bytes(directory: Path) -> bytes:
    """Every byte of every SQLite file the site keeps (databases and their logs)."""
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())


async def test_a_subject_exports_everything_held_and_then_is_erased(tmp_path: Path) -> None:
    site = tmp_path / "var"
    site.mkdir()
    store = StoreSettings(backend="sqlite", sqlite_path=site / "events.db")
    service = open_service(store)
    permit_id = a_permit_with_everything_personal(service)
    key = service.subject_keys.key(permit_id.hex)
    assert key is not None
    number = service.get(permit_id).number
    read_models = site / "read.db"
    async with ReadModels(read_models) as models:
        await runner_for(service, models).catch_up()
    await FeedbackStore(site / "feedback.db").record(str(permit_id), 2, "Antre lama, I Wayan")
    service.close()
    where = ("--db", str(store.sqlite_path), "--read-models", str(read_models))

    out = tmp_path / "export.json"
    done = drivethru("privacy", "export", "--permit", number, "--out", str(out), *where)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    held = json.loads(out.read_text())
    assert held["erased"] is False
    submitted = held["events"][0]["data"]
    assert (submitted["applicant_name"], submitted["plate"]) == (NAME, "DK4321XY")
    text = out.read_text()
    for personal in (DELEGATE, PHONE, EMAIL):
        assert personal in text
    for nik in (NIK, DELEGATE_NIK):  # only their keyed hashes and masked forms are held
        assert nik not in text
    assert held["feedback"][0]["complaint"] == "Antre lama, I Wayan"
    assert held["read_model"][0]["number"] == number

    done = drivethru(
        "privacy", "erase", "--permit", number, "--reason", "permintaan subjek", "--demo", *where
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "permit_id": str(permit_id), "recorded": True, "feedback_rows": 1,
    }  # fmt: skip
    again = drivethru("privacy", "erase", "--permit", str(permit_id), "--reason", "x", "--demo",
                      *where)  # fmt: skip
    assert json.loads(again.stdout)["recorded"] is False

    # The read models forget the subject as they fold the erasure (a running server: at once).
    reopened = open_service(store)
    async with ReadModels(read_models) as models:
        runner = runner_for(reopened, models)
        await runner.catch_up()
        row = await queries.permit(models.conn, str(permit_id))
        assert row is not None
        assert (row.holder, row.plate) == (ERASED, None)
    reopened.close()
    after = drivethru("privacy", "export", "--permit", number, *where)
    assert after.returncode == 0, after.stderr
    held = json.loads(after.stdout)
    assert held["erased"] is True
    assert held["events"][-1]["event"] == "DataErased"
    assert held["events"][-1]["data"]["reason"] == "permintaan subjek"
    assert held["events"][0]["data"]["applicant_name"] == ERASED
    for personal in (NAME, DELEGATE, PHONE, EMAIL, "DK4321XY", "Antre lama"):
        assert personal not in after.stdout
    assert held["feedback"] == []

    # The key itself is gone from every file, free pages and write-ahead logs included.
    assert key not in files_bytes(site)


def test_an_unknown_permit_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    open_service(StoreSettings(backend="sqlite", sqlite_path=db)).close()
    where = ("--db", str(db), "--read-models", str(tmp_path / "read.db"))
    done = drivethru("privacy", "export", "--permit", "SIUP/404", *where)
    assert done.returncode == 1
    assert "not found" in done.stderr
    done = drivethru("privacy", "erase", "--permit", "SIUP/404", "--reason", "x", "--demo", *where)
    assert done.returncode == 1
    assert "not found" in done.stderr
