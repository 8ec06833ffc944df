"""When the server publishes Home Assistant's configs and summaries: on a (re)connected link,
on a changed lane, on the refresh, and never while the link is down. Real SQLite store and
read models; the MQTT side is a recorder of what would be published (the broker's side is
tests/e2e/test_home_assistant.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from api.home_assistant import HomeAssistantPublisher
from core.home_assistant import HomeAssistantSettings
from core.values import ReleaseMethod
from projections.bootstrap import runner_for
from projections.store import ReadModels
from tests.factories import ready_permit, sqlite_service


class Recorder:
    """Stands for the bridge: connected or not, and what was published, retained."""

    def __init__(self) -> None:
        self.connected = False
        self.sent: list[tuple[str, bytes]] = []

    def publish_retained(self, topic: str, payload: bytes) -> None:
        self.sent.append((topic, payload))

    def take(self) -> list[tuple[str, bytes]]:
        sent, self.sent = self.sent, []
        return sent


async def test_configs_go_out_on_connect_and_summaries_when_a_lane_changes(
    tmp_path: Path,
) -> None:
    service = sqlite_service(tmp_path / "events.db")
    ready = ready_permit(service)
    link = Recorder()
    async with ReadModels(tmp_path / "read.db") as models:
        runner = runner_for(service, models)
        await runner.catch_up()
        settings = HomeAssistantSettings(enabled=True)
        publisher = HomeAssistantPublisher(settings, "badung", ["1", "2"], models.conn, link)
        # The link is down: nothing is published, nothing is lost.
        assert await publisher.publish_changes() == 0
        assert link.take() == []
        link.connected = True
        assert await publisher.publish_changes() == 8  # 6 configs, 2 summaries
        sent = dict(link.take())
        assert len([t for t in sent if t.endswith("/config")]) == 6
        summary = json.loads(sent["drivethru/v1/badung/lanes/1/summary"])
        assert (summary["waiting"], summary["last_arrival"]) == (0, None)
        # Nothing changed: nothing sent.
        assert await publisher.publish_changes() == 0
        # A car at lane 1's window: lane 1's summary only.
        service.release(
            ready.id, lane="1", window="1", visit=uuid.uuid4(), method=ReleaseMethod.PLATE
        )
        await runner.catch_up()
        assert await publisher.publish_changes() == 1
        [(topic, payload)] = link.take()
        assert topic == "drivethru/v1/badung/lanes/1/summary"
        assert json.loads(payload)["waiting"] == 1
        # The link drops and comes back (a broker may have lost its retained messages).
        link.connected = False
        assert await publisher.publish_changes() == 0
        assert link.take() == []
        link.connected = True
        assert await publisher.publish_changes() == 8
        assert json.loads(dict(link.take())["drivethru/v1/badung/lanes/1/summary"])["waiting"] == 1
    service.close()


async def test_everything_goes_out_again_at_the_refresh(tmp_path: Path) -> None:
    link = Recorder()
    link.connected = True
    async with ReadModels(tmp_path / "read.db") as models:
        settings = HomeAssistantSettings(enabled=True, refresh_seconds=10)
        publisher = HomeAssistantPublisher(settings, "badung", ["1"], models.conn, link)
        assert await publisher.publish_changes() == 4
        assert await publisher.publish_changes() == 0
        publisher._refreshed_at -= 10  # ten seconds later
        assert await publisher.publish_changes() == 4
