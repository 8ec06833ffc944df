"""Topics are parsed by the same class that builds them."""

from __future__ import annotations

import pytest

from core.contract import ANY_NAME, TopicKind, Topics

TOPICS = Topics("badung")


@pytest.mark.parametrize("kind", list(TopicKind))
def test_every_topic_a_lane_or_team_has_parses_back_to_its_kind_and_owner(
    kind: TopicKind,
) -> None:
    topic = getattr(TOPICS, kind.value)("3")

    assert TOPICS.parse(topic) == (kind, "3")


def test_a_lane_topic_and_a_team_topic_with_the_same_last_level_stay_apart() -> None:
    assert TOPICS.parse("drivethru/v1/badung/lanes/3/acks") == (TopicKind.ACKS, "3")
    assert TOPICS.parse("drivethru/v1/badung/teams/a/acks") == (TopicKind.TEAM_ACKS, "a")
    assert TOPICS.parse("drivethru/v1/badung/lanes/3/status") == (TopicKind.LANE_STATUS, "3")
    assert TOPICS.parse("drivethru/v1/badung/teams/a/status") == (TopicKind.TEAM_STATUS, "a")


@pytest.mark.parametrize(
    "topic",
    [
        "drivethru/v1/sleman/lanes/3/arrivals",  # another site
        "drivethru/v1/badung/server/status",
        "drivethru/v1/badung/lanes/3/arrivals/extra",
        "drivethru/v1/badung/lanes//arrivals",
        "drivethru/v1/badung/lanes/3/handovers",  # a team's kind under a lane
        "drivethru/v1/badung/teams/a/arrivals",  # a lane's kind under a team
        "drivethru/v1/badung/lanes/3",
        "homeassistant/sensor/x/config",
        "",
    ],
)
def test_a_topic_outside_this_sites_lanes_and_teams_parses_to_none(topic: str) -> None:
    assert TOPICS.parse(topic) is None


def test_a_filter_with_a_wildcard_is_not_a_topic() -> None:
    assert TOPICS.parse(TOPICS.all_arrivals) is None
    assert TOPICS.parse(TOPICS.team_handovers(ANY_NAME)) is None
    assert TOPICS.parse("drivethru/v1/badung/lanes/#") is None
