"""Mobile teams' handovers arriving over MQTT: applied once, each acked on the team's topic."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from api.metrics import Metrics
from core.contract import Message, TeamAck, TeamHandover, Topics, decode, peek_id
from core.errors import ContractError
from core.teams import TeamDesk

Publish = Callable[[str, Message], None]


class TeamHandovers:
    """The bridge's team side: validates, applies through `TeamDesk`, answers."""

    def __init__(
        self,
        desk: TeamDesk,
        topics: Topics,
        publish: Publish,
        metrics: Metrics,
        notify: Callable[[dict[str, Any]], None],
    ) -> None:
        self.desk = desk
        self.topics = topics
        self._publish = publish
        self.metrics = metrics
        self.notify = notify

    async def handle(self, team: str, payload: bytes) -> None:
        """Apply a mobile team's handover and ack it on the team's topic, whatever happens."""
        ack_topic = self.topics.team_acks(team)
        try:
            handover = decode(TeamHandover, payload)
        except ContractError as invalid:
            self.metrics.invalid_message()
            handover_id = peek_id(payload)
            if handover_id is not None:
                self._publish(
                    ack_topic, TeamAck(id=handover_id, outcome="rejected", reason=invalid.reason)
                )
            return
        if handover.team != team:
            self.metrics.invalid_message()
            self._publish(
                ack_topic,
                TeamAck(id=handover.id, outcome="rejected", reason="team in payload != topic"),
            )
            return
        decision = await asyncio.to_thread(self.desk.apply, handover)
        if decision.outcome == "applied":
            self.metrics.handover()
        elif decision.outcome == "conflict":
            self.metrics.conflict()
        self._publish(
            ack_topic,
            TeamAck(
                id=handover.id,
                outcome=decision.outcome.value,
                reason=decision.reason[:200] if decision.reason else None,
                permit_id=handover.permit_id,
            ),
        )
        self.notify(
            {"type": "team_handover", "team": team, "permit": handover.permit_id,
             "outcome": decision.outcome.value, "reason": decision.reason}
        )  # fmt: skip
