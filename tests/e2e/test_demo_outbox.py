"""The demo's notification outbox: ready messages with their links, one click to the citizen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from api.notify.store import IssuedLinks
from api.settings import ServerSettings
from bench.seed import seed_on_store
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from launcher.demo_site import _contacts
from tests.e2e.conftest import Console
from tests.notify_peers import wait_until
from tests.server_process import ServerProcess, write_site_toml

pytestmark = pytest.mark.slow


def _demo_server(tmp_path: Path, demo: bool) -> tuple[ServerProcess, dict[str, str]]:
    service = PermitService(
        ServiceSettings.for_demo(
            StoreSettings(backend="sqlite", sqlite_path=tmp_path / "events.db")
        )
    )
    service.add_code_listener(IssuedLinks(tmp_path / "notify.db"))
    try:
        seeded = list(seed_on_store(service, "badung", 3, contacts=_contacts(3)))
    finally:
        service.close()
    config = tmp_path / "site.toml"
    write_site_toml(config)
    config.write_text(config.read_text() + '[[notify]]\nkind = "demo_outbox"\n')
    extra = ("--demo",) if demo else ()
    return ServerProcess(tmp_path, None, "", extra_args=extra), {p.id: p.code for p in seeded}


def test_the_demo_outbox_lists_ready_messages_and_one_click_opens_the_citizen_page(
    tmp_path: Path, browser: Any
) -> None:
    server, codes = _demo_server(tmp_path, demo=True)
    server.start(wait_for_broker=False)
    console = Console()
    try:

        def listed() -> bool:
            html = httpx.get(f"{server.url}/demo/outbox").text
            return html.count('data-type="permit.ready"') == 3

        wait_until(listed)
        page = console.watch(browser.new_context().new_page())
        page.goto(f"{server.url}/demo/outbox")
        text = page.inner_text("body")
        for code in codes.values():
            assert f"/p/{code}" in text
        assert "Bring your original KTP" in text  # the citizens who chose English
        assert "+62 811*****000" in text  # masked, the demo's page too
        assert "+6281100000000" not in text
        assert "warga1@example.com" not in text
        with page.context.expect_page() as opened:
            page.click("a.button.primary >> nth=0")
        citizen = console.watch(opened.value)
        citizen.wait_for_load_state()
        assert "/p/DT1:" in citizen.url
        assert "Siap diambil" in citizen.inner_text("#status")
        assert citizen.inner_text("#contact-now").count("*") > 6  # masked
        assert console.errors == []
    finally:
        server.stop()


def test_outside_the_demo_there_is_no_outbox_page_nor_channel(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="demo_outbox"):
        ServerSettings.model_validate(
            {
                "service": {"nik_key": "a-real-secret-0123456789"},
                "notify": [{"kind": "demo_outbox"}],
            }
        )
    server, _ = _demo_server(tmp_path, demo=False)
    config = tmp_path / "site.toml"
    config.write_text(config.read_text().replace('[[notify]]\nkind = "demo_outbox"\n', ""))
    server.start(wait_for_broker=False)
    try:
        assert httpx.get(f"{server.url}/demo/outbox").status_code == 404
    finally:
        server.stop()
