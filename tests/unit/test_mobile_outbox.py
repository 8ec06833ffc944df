"""The team device's handovers: recorded in order, kept across a crash, settled by acks.

The device here never connects (its link is not started): everything below is what it does
offline, with real SQLite files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest

from core.codes import PickupCode
from core.contract import TeamAck, TeamHandover, TeamManifest, Topics, decode, encode
from edge_lane.mobile.config import TeamSettings
from edge_lane.mobile.device import TeamDevice, bootstrap
from edge_lane.mobile.errors import HandoverRefusedError
from edge_lane.mobile.page import page_view
from edge_lane.mobile.vault import new_key_text
from edge_lane.mobile.verify import RefusalReason, Refused
from tests.unit.test_mobile_offline import NOW, permit

TOPICS = Topics("badung")
KEY = new_key_text()
Outcome = Literal["applied", "duplicate", "conflict", "rejected"]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def device(data: Path, clock: Clock | None = None) -> TeamDevice:
    settings = TeamSettings.model_validate(
        {"site": "badung", "team": "a", "officer": "Made", "data_dir": str(data),
         "broker": {"url": "mqtt://127.0.0.1:1"}}
    )  # fmt: skip
    made = bootstrap(settings, environ={"DRIVETHRU_MANIFEST_KEY": KEY})
    if clock is not None:
        made.clock = clock
    return made


def close(made: TeamDevice) -> None:
    made.outbox.close()
    made.journal.close()


@pytest.fixture
def codes() -> list[PickupCode]:
    return [PickupCode.generate() for _ in range(5)]


def give_manifest(made: TeamDevice, codes: list[PickupCode]) -> None:
    manifest = TeamManifest(team="a", permits=[permit(f"p{i}", c) for i, c in enumerate(codes)])
    made.on_message(TOPICS.team_manifest("a"), encode(manifest))


def test_handovers_wait_in_the_outbox_in_the_order_they_happened(
    tmp_path: Path, codes: list[PickupCode]
) -> None:
    made = device(tmp_path, Clock())
    try:
        give_manifest(made, codes)
        for index in (3, 0, 4):
            made.hand_over(codes[index].sha256, id_checked=True)
        sent = [decode(TeamHandover, e.payload) for e in made.outbox.due(None)]
        assert [h.permit_id for h in sent] == ["p3", "p0", "p4"]
        assert sorted(h.happened_at for h in sent) == [h.happened_at for h in sent]
        assert all(h.by == "Made" and h.id_checked for h in sent)
        assert page_view(made)["unsynced"] == 3
    finally:
        close(made)


def test_a_second_handover_of_the_same_permit_or_one_without_the_ktp_check_is_refused(
    tmp_path: Path, codes: list[PickupCode]
) -> None:
    made = device(tmp_path)
    try:
        give_manifest(made, codes)
        with pytest.raises(HandoverRefusedError, match="KTP"):
            made.hand_over(codes[0].sha256, id_checked=False)
        made.hand_over(codes[0].sha256, id_checked=True)
        with pytest.raises(HandoverRefusedError, match="sudah diserahkan"):
            made.hand_over(codes[0].sha256, id_checked=True)
        assert made.outbox.depth() == 1
    finally:
        close(made)


def test_the_manifest_and_the_handovers_survive_a_restart(
    tmp_path: Path, codes: list[PickupCode]
) -> None:
    first = device(tmp_path)
    give_manifest(first, codes)
    first.hand_over(codes[1].sha256, id_checked=True)
    close(first)
    again = device(tmp_path)
    try:
        assert [p.permit_id for p in again.state.permits()] == [f"p{i}" for i in range(5)]
        assert again.check_hash(codes[1].sha256) == Refused(
            RefusalReason.HANDED_OVER_HERE, "p1", "MPP/p1"
        )
        assert again.outbox.depth() == 1
    finally:
        close(again)


def test_a_handover_journaled_but_lost_before_the_outbox_is_put_back_at_start(
    tmp_path: Path, codes: list[PickupCode]
) -> None:
    first = device(tmp_path)
    give_manifest(first, codes)
    handover = first.hand_over(codes[2].sha256, id_checked=True)
    first.outbox.ack(handover.id)  # as if the process died between the two writes
    close(first)
    again = device(tmp_path)
    try:
        assert [e.id for e in again.outbox.due(None)] == [handover.id]
    finally:
        close(again)


def test_every_outcome_ends_the_entry_and_conflicts_stay_visible(
    tmp_path: Path, codes: list[PickupCode]
) -> None:
    made = device(tmp_path)
    try:
        give_manifest(made, codes)
        ids = [made.hand_over(c.sha256, id_checked=True).id for c in codes[:4]]
        outcomes: list[Outcome] = ["applied", "duplicate", "conflict", "rejected"]
        for handover_id, outcome in zip(ids, outcomes, strict=True):
            ack = TeamAck(id=handover_id, outcome=outcome, reason=f"why {outcome}")
            made.on_message(TOPICS.team_acks("a"), encode(ack))
        # A late duplicate ack does not overwrite what the server first said.
        late = TeamAck(id=ids[2], outcome="duplicate")
        made.on_message(TOPICS.team_acks("a"), encode(late))
        view = page_view(made)
        assert made.outbox.depth() == 0
        assert view["unsynced"] == 0
        assert view["last_sync"] is not None
        assert [(p["outcome"], p["reason"]) for p in view["problems"]] == [
            ("conflict", "why conflict"), ("rejected", "why rejected"),
        ]  # fmt: skip
    finally:
        close(made)


def test_a_manifest_for_another_team_is_refused(tmp_path: Path, codes: list[PickupCode]) -> None:
    made = device(tmp_path)
    try:
        other = TeamManifest(team="b", permits=[permit("p0", codes[0])], at=datetime.now(UTC))
        made.on_message(TOPICS.team_manifest("a"), encode(other))
        assert made.state.manifest is None
        assert made.refused_messages == 1
    finally:
        close(made)
