"""What the lane receives, routed by topic and validated: acks, releases and the manifest.

Every message is routed by its topic on receipt, because the embedded broker delivers retained
messages of topics the client never subscribed to. Anything not for this lane is ignored;
anything for this lane that breaks the contract is refused with a reason and counted.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from core.contract import Ack, LaneManifest, Release, Topics, decode
from core.errors import ContractError


class InboxKind(StrEnum):
    ACK = "ack"
    RELEASE = "release"
    MANIFEST = "manifest"


@dataclass(frozen=True, slots=True)
class Ignored:
    """A message on a topic that is not this lane's."""

    topic: str


@dataclass(frozen=True, slots=True)
class Refused:
    """A message for this lane that does not follow the contract."""

    topic: str
    kind: InboxKind
    reason: str


InboxItem = Ack | Release | LaneManifest | Ignored | Refused


class LaneInbox:
    """Routes and decodes one lane's incoming messages, and counts what it refused."""

    def __init__(self, site: str, lane: str) -> None:
        self.site = site
        self.lane = lane
        topics = Topics(site)
        self.subscriptions: dict[str, InboxKind] = {
            topics.acks(lane): InboxKind.ACK,
            topics.releases(lane): InboxKind.RELEASE,
            topics.lane_manifest(lane): InboxKind.MANIFEST,
        }
        self._lock = threading.Lock()
        self.refused: Counter[InboxKind] = Counter()
        self.ignored = 0

    def route(self, topic: str, payload: bytes) -> InboxItem:
        """Decode ``payload`` according to ``topic``; never raises for a bad message."""
        kind = self.subscriptions.get(topic)
        if kind is None:
            with self._lock:
                self.ignored += 1
            return Ignored(topic)
        try:
            item = self._decode(kind, payload)
        except ContractError as error:
            return self._refuse(topic, kind, error.reason)
        return item

    def _decode(self, kind: InboxKind, payload: bytes) -> Ack | Release | LaneManifest:
        if kind is InboxKind.ACK:
            return decode(Ack, payload)
        if kind is InboxKind.RELEASE:
            release = decode(Release, payload)
            if release.lane != self.lane:
                raise ContractError(f"lane {release.lane!r} is not this lane {self.lane!r}")
            return release
        manifest = decode(LaneManifest, payload)
        if manifest.site != self.site:
            raise ContractError(f"site {manifest.site!r} is not this site {self.site!r}")
        return manifest

    def _refuse(self, topic: str, kind: InboxKind, reason: str) -> Refused:
        with self._lock:
            self.refused[kind] += 1
        return Refused(topic, kind, reason)
