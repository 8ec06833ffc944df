"""The MQTT message contract, v1 (DESIGN.md): topics and payloads, no MQTT code.

Payloads are UTF-8 JSON with ``"v": 1``, a unique ``id`` and an RFC 3339 ``at``. Unknown
fields are ignored (other vendors may add their own); anything else that does not fit is
refused with a reason that goes back to the sender in its ack.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, TypeVar
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import ContractError

ROOT = "drivethru/v1"
MAX_PAYLOAD_BYTES = 64 * 1024
SHARE_GROUP = "drivethru"
ANY_NAME = "+"
"""In place of a lane or team name: every lane or team (an MQTT single-level wildcard)."""

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
PlateText = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,12}$")]
ShortText = Annotated[str, StringConstraints(max_length=200)]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    """Fields every v1 message carries."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    v: Literal[1] = 1
    id: UUID = Field(default_factory=uuid4)
    at: AwareDatetime = Field(default_factory=utc_now)

    @field_validator("v", mode="before")
    @classmethod
    def _version_is_an_integer(cls, value: object) -> object:
        if isinstance(value, bool):  # JSON true would pass as 1
            raise ValueError("v must be the integer 1")
        return value


class PlateEvidence(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    text: PlateText
    confidence: float = Field(ge=0.0, le=1.0)
    frames: int = Field(ge=1, le=100_000)


class Arrival(Message):
    """A visit observed at a lane: the code's hash and/or the plate, as known now."""

    site: Name
    lane: Name
    visit: UUID
    camera: Name = "window"
    source: Literal["camera", "manual", "frigate"] = "camera"
    code_sha256: Sha256Hex | None = None
    plate: PlateEvidence | None = None

    @model_validator(mode="after")
    def _has_evidence(self) -> Arrival:
        if self.code_sha256 is None and self.plate is None:
            raise ValueError("an arrival needs code_sha256 or plate")
        return self


class Departure(Message):
    """A visit ended: the car left the lane (the window camera saw it go).

    Sent for every visit that sent an arrival, through the same outbox, so the server knows
    which cars are still in the lane. It may reach the server before the visit's arrival
    (another replica, a retry): the server records it either way.
    """

    site: Name
    lane: Name
    visit: UUID
    camera: Name = "window"


class AckOutcome(StrEnum):
    RELEASED = "released"
    PRESTAGED = "prestaged"
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    LEFT = "left"
    """A departure was recorded (answers a `Departure`, never an arrival)."""


class Ack(Message):
    """The server processed arrival ``id``; the edge may drop it from its outbox."""

    outcome: AckOutcome
    reason: ShortText | None = None
    permits: list[str] = Field(default_factory=list)


class ReleasedPermit(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    id: str
    number: str
    slot: str | None
    holder: str


class Release(Message):
    """What the lane's window hands over, shown on the lane display."""

    lane: Name
    window: Name
    visit: UUID
    plate: PlateText | None = None
    permits: list[ReleasedPermit] = Field(default_factory=list)
    see_operator: bool = False


class DeviceState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class LaneStatus(Message):
    state: DeviceState
    fps: float | None = None
    camera_ok: bool | None = None
    outbox_depth: int | None = None
    version: str | None = None


class ServerStatus(Message):
    state: DeviceState
    version: str | None = None


class LaneManifest(Message):
    """Hashes of the codes and the plates of permits waiting at the site."""

    site: Name
    code_hashes: list[Sha256Hex] = Field(default_factory=list)
    plates: list[PlateText] = Field(default_factory=list)


class ManifestDelegate(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    delegate_id: str
    name: str
    nik_masked: str
    code_sha256: Sha256Hex
    expires_at: AwareDatetime


class TeamPermit(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    permit_id: str
    number: str
    holder: str
    nik_masked: str
    plate: PlateText | None
    code_sha256: Sha256Hex
    delegates: list[ManifestDelegate] = Field(default_factory=list)
    place: str
    date: str


class TeamManifest(Message):
    team: Name
    permits: list[TeamPermit] = Field(default_factory=list)


class GeoPoint(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class TeamHandover(Message):
    """A handover a mobile team recorded, possibly hours before it could send it."""

    team: Name
    permit_id: str
    code_sha256: Sha256Hex | None = None
    happened_at: AwareDatetime
    by: ShortText
    recipient: Literal["owner", "delegate"]
    delegate_id: str | None = None
    id_checked: bool
    position: GeoPoint | None = None


class TeamAck(Message):
    """The server applied (or refused) team handover ``id``; the device may drop it."""

    outcome: Literal["applied", "duplicate", "conflict", "rejected"]
    reason: ShortText | None = None
    permit_id: str | None = None


M = TypeVar("M", bound=Message)


def decode(model: type[M], payload: bytes | str) -> M:
    """Parse and validate a payload; raise `ContractError` with a short reason."""
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise ContractError(f"{where}: {first['msg']}") from None


def reason_kind(reason: str) -> str:
    """A `decode` error's kind for counting and throttling: a few names, whatever the payload."""
    if "exceeds" in reason and reason.startswith("payload of"):
        return "too_large"
    if reason.startswith("payload:"):
        return "invalid_json"
    return "invalid_field"


def encode(message: Message) -> bytes:
    return message.model_dump_json(exclude_none=False).encode()


def peek_id(payload: bytes) -> UUID | None:
    """The ``id`` of a payload that failed validation, so its rejection can still be acked.

    Read by a scan of the top-level object's tokens, not a parse: a BOM, a lone surrogate,
    invalid UTF-8, nesting too deep for a parser or a payload cut at the size limit elsewhere
    in the message still leave its id readable, and an edge would otherwise resend it
    forever. Only the top-level ``id`` counts, never a nested one.
    """
    text = payload[:MAX_PAYLOAD_BYTES].decode("utf-8", "replace").removeprefix("\ufeff")
    depth = 0
    key: str | None = None
    expecting = "start"  # start | key | colon | value | comma
    for token in _JSON_TOKENS.finditer(text):
        kind = token.group()
        if expecting == "start":
            if kind != "{":
                return None
            depth, expecting = 1, "key"
        elif depth > 1:
            depth += 1 if kind in "{[" else -1 if kind in "}]" else 0
            if depth == 1:
                expecting = "comma"
        elif expecting == "key" and kind.startswith('"'):
            key, expecting = _json_string(kind), "colon"
        elif expecting == "colon" and kind == ":":
            expecting = "value"
        elif expecting == "value":
            if kind.startswith('"'):
                if key == "id":
                    try:
                        return UUID(_json_string(kind) or "")
                    except ValueError:
                        return None
                expecting = "comma"
            elif kind in "{[":
                depth = 2
            elif kind == ",":
                expecting = "key"  # the value was a number or a literal
            else:
                return None
        elif expecting == "comma" and kind == ",":
            expecting = "key"
        else:
            return None  # the top level ended, or is not an object of key: value pairs
    return None


# Strings (with their escapes) and the structural characters; numbers and literals between
# them do not matter for finding a key.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')


def _json_string(token: str) -> str | None:
    try:
        value = json.loads(token)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


class TopicKind(StrEnum):
    """What a lane's or a team's topic carries: the name of the `Topics` method that builds it."""

    ARRIVALS = "arrivals"
    DEPARTURES = "departures"
    ACKS = "acks"
    RELEASES = "releases"
    LANE_STATUS = "lane_status"
    LANE_MANIFEST = "lane_manifest"
    LANE_SUMMARY = "lane_summary"
    TEAM_MANIFEST = "team_manifest"
    TEAM_HANDOVERS = "team_handovers"
    TEAM_ACKS = "team_acks"
    TEAM_STATUS = "team_status"


# The last level of each topic under ``lanes/{lane}/`` and ``teams/{team}/``: the kind's
# name without its ``lane_`` or ``team_``.
_TEAM_TOPICS = {k.removeprefix("team_"): k for k in TopicKind if k.startswith("team_")}
_LANE_TOPICS = {k.removeprefix("lane_"): k for k in TopicKind if k not in _TEAM_TOPICS.values()}


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic name of one site, built and parsed in one place."""

    site: str

    @property
    def root(self) -> str:
        return f"{ROOT}/{self.site}"

    def lane(self, lane: str, kind: str) -> str:
        return f"{self.root}/lanes/{lane}/{kind}"

    def arrivals(self, lane: str) -> str:
        return self.lane(lane, "arrivals")

    def departures(self, lane: str) -> str:
        return self.lane(lane, "departures")

    def acks(self, lane: str) -> str:
        return self.lane(lane, "acks")

    def releases(self, lane: str) -> str:
        return self.lane(lane, "releases")

    def lane_status(self, lane: str) -> str:
        return self.lane(lane, "status")

    def lane_manifest(self, lane: str) -> str:
        return self.lane(lane, "manifest")

    def lane_summary(self, lane: str) -> str:
        """The server's retained queue and latest arrival of a lane, for Home Assistant
        (`core.home_assistant.LaneSummary`); published only when the site enables it."""
        return self.lane(lane, "summary")

    def team_manifest(self, team: str) -> str:
        return f"{self.root}/teams/{team}/manifest"

    def team_handovers(self, team: str) -> str:
        return f"{self.root}/teams/{team}/handovers"

    def team_acks(self, team: str) -> str:
        return f"{self.root}/teams/{team}/acks"

    def team_status(self, team: str) -> str:
        """A team device's retained online/offline (last will), like a lane's status."""
        return f"{self.root}/teams/{team}/status"

    @property
    def server_status(self) -> str:
        return f"{self.root}/server/status"

    @property
    def all_arrivals(self) -> str:
        return f"{self.root}/lanes/+/arrivals"

    @property
    def all_departures(self) -> str:
        return f"{self.root}/lanes/+/departures"

    @property
    def shared_arrivals(self) -> str:
        """The arrivals of every lane through a shared subscription, so replicas split them."""
        return self.shared(self.all_arrivals)

    @staticmethod
    def shared(topic_filter: str) -> str:
        """`topic_filter` as a subscription shared by the server replicas' group."""
        return f"$share/{SHARE_GROUP}/{topic_filter}"

    @staticmethod
    def unshared(topic_filter: str) -> str:
        """The plain filter of a shared subscription (`$share/{group}/...`), else itself."""
        if not topic_filter.startswith("$share/"):
            return topic_filter
        _group, _, plain = topic_filter.removeprefix("$share/").partition("/")
        return plain

    def parse(self, topic: str) -> tuple[TopicKind, str] | None:
        """What a topic of this site's lanes or teams carries, and whose it is (lane or team);
        None for any other topic, a filter with wildcards included."""
        site_root, _, rest = topic.partition("/lanes/")
        leaves = _LANE_TOPICS
        if site_root != self.root:
            site_root, _, rest = topic.partition("/teams/")
            leaves = _TEAM_TOPICS
            if site_root != self.root:
                return None
        name, _, leaf = rest.partition("/")
        kind = leaves.get(leaf)
        if kind is None or not name or "+" in name or "#" in name:
            return None
        return kind, name
