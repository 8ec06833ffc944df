"""Routing what the lane receives: other lanes ignored, bad messages refused and counted."""

from __future__ import annotations

from uuid import uuid4

from core.contract import Ack, AckOutcome, LaneManifest, Release, Topics, encode
from edge_lane.inbox import Ignored, InboxKind, LaneInbox, Refused

TOPICS = Topics("badung")


def test_an_ack_for_this_lane_is_decoded() -> None:
    inbox = LaneInbox("badung", "1")
    ack = Ack(id=uuid4(), outcome=AckOutcome.RELEASED)
    assert inbox.route(TOPICS.acks("1"), encode(ack)) == ack


def test_messages_of_other_lanes_and_sites_are_ignored() -> None:
    inbox = LaneInbox("badung", "1")
    payload = encode(Ack(id=uuid4(), outcome=AckOutcome.RELEASED))
    for topic in (TOPICS.acks("2"), Topics("denpasar").acks("1"), TOPICS.lane_status("1")):
        assert isinstance(inbox.route(topic, payload), Ignored)
    assert inbox.ignored == 3


def test_a_broken_ack_is_refused_with_a_reason_and_counted() -> None:
    inbox = LaneInbox("badung", "1")
    item = inbox.route(TOPICS.acks("1"), b'{"v": 1, "id": "nope", "outcome": "released"}')
    assert isinstance(item, Refused)
    assert item.reason.startswith("id:")
    assert isinstance(inbox.route(TOPICS.acks("1"), b"\xff not json"), Refused)
    assert inbox.refused[InboxKind.ACK] == 2


def test_a_release_for_another_lane_on_this_topic_is_refused() -> None:
    inbox = LaneInbox("badung", "1")
    release = Release(lane="2", window="1", visit=uuid4())
    item = inbox.route(TOPICS.releases("1"), encode(release))
    assert isinstance(item, Refused)
    assert "lane" in item.reason


def test_a_manifest_of_another_site_is_refused() -> None:
    inbox = LaneInbox("badung", "1")
    manifest = LaneManifest(site="denpasar", plates=["DK1234AB"])
    assert isinstance(inbox.route(TOPICS.lane_manifest("1"), encode(manifest)), Refused)
    ours = LaneManifest(site="badung", plates=["DK1234AB"])
    assert inbox.route(TOPICS.lane_manifest("1"), encode(ours)) == ours
