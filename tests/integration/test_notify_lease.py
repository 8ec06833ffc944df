"""One notifier per event store: a second server with ``[[notify]]`` sends nothing."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.notify.bootstrap import build_notifier
from api.notify.lease import take_lease
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from tests.factories import FrozenClock
from tests.integration.server_app import server_settings

HOLD = """
import sys, time
from pydantic import SecretStr
from core.settings import StoreSettings
from api.notify.lease import take_lease
store = StoreSettings.model_validate_json(sys.argv[1])
lease = take_lease(store.model_copy(update={"postgres_password": SecretStr(sys.argv[2])}))
print("held" if lease is not None else "refused", flush=True)
time.sleep(600)
"""


def test_the_lease_is_held_once_and_free_again_when_released(store: StoreSettings) -> None:
    first = take_lease(store)
    assert first is not None
    assert take_lease(store) is None
    first.release()
    again = take_lease(store)
    assert again is not None
    again.release()


def test_a_killed_holder_leaves_the_lease_to_the_next_server(store: StoreSettings) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, store.model_dump_json(),
         store.postgres_password.get_secret_value()],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert take_lease(store) is None
    finally:
        holder.kill()  # SIGKILL: no release, the database or the kernel lets go
        holder.wait(10)
    deadline = time.monotonic() + 15
    while (lease := take_lease(store)) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lease is not None
    lease.release()


def test_a_second_server_with_notify_on_one_store_sends_nothing_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIVETHRU_WEBHOOK_SECRET", "s" * 32)
    channel = {"kind": "webhook", "url": "http://127.0.0.1:9/hook"}
    for name in "ab":
        (tmp_path / name).mkdir()
    first_settings = server_settings(tmp_path / "a", notify=[channel])
    store = first_settings.service.store
    second_settings = server_settings(
        tmp_path / "b", notify=[channel], service=ServiceSettings.for_demo(store)
    )
    services = [PermitService(ServiceSettings.for_demo(store), clock=FrozenClock()) for _ in "ab"]
    try:
        first = build_notifier(first_settings, services[0])
        assert first is not None
        with caplog.at_level(logging.ERROR):
            assert build_notifier(second_settings, services[1]) is None
        assert "another server sends this event store's notifications" in caplog.text
        first.close()
        second = build_notifier(second_settings, services[1])
        assert second is not None
        second.close()
    finally:
        for service in services:
            service.close()
