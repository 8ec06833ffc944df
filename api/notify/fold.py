"""Permit events into the notifier's tables and outbox, one page in one transaction.

What each event does:
- ``Submitted``, ``ContactRecorded``: the recipient's number, masked holder and contact;
- ``PickupCodeIssued`` / ``PickupCodeReissued``: READY with a new code: the ready message,
  with the link the issuer left in ``links`` (moved into the message, then deleted);
- ``AssignedToTeam``: the team visit's place and date;
- ``Released`` / ``ReturnedToStorage``: the "waiting at the window" timer starts / stops;
- ``HandedOver``, ``Cancelled``, ``Expired``, ``PickupCodeExpired``: no more timers;
- ``DataErased``: the contact is forgotten and the permit's outbox rows deleted;
- ``ComplaintAnswered`` (`core.complaint.Complaint`, naming its ``permit_id``): the office's
  answer; a corrected answer is a new message.
A permit without a contact gets no messages. A message not sent yet is cancelled when a later
event makes it obsolete (the permit collected, cancelled or expired; its code reissued).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from eventsourcing.utils import get_topic

from api.notify.messages import (
    MessageType,
    Recipient,
    message_body,
    message_id,
    without_link,
)
from core.codes import mask_name
from core.complaint import Complaint
from core.permit_states import TOPICS, known
from projections.log import Entry, originator_key

COMPLAINT_ANSWERED = "ComplaintAnswered"
_CLOSED = frozenset({"HandedOver", "Cancelled", "Expired", "PickupCodeExpired", "Rejected"})
ChannelsFor = Callable[[Recipient], Sequence[str]]
"""The names of the channels that can reach a recipient (email needs an address)."""
StateOpener = Callable[[dict[str, Any]], dict[str, Any]]
"""An event's state with its sealed personal fields opened (`core.personal`); an erased
field reads None."""


def plain(value: Any) -> Any:
    """A stored value as JSON gives it: the library keeps datetimes and UUIDs tagged."""
    if isinstance(value, dict) and "_data_" in value:
        return value["_data_"]
    return value


def epoch(value: Any) -> float:
    return datetime.fromisoformat(str(plain(value))).timestamp()


_COMPLAINT_ANSWERED_TOPIC = get_topic(Complaint.ComplaintAnswered)  # type: ignore[attr-defined]


def _event_name(topic: str) -> str | None:
    """The permit event's name, or `COMPLAINT_ANSWERED`, for a stored topic; else None."""
    name = TOPICS.get(topic)
    if name is not None:
        return name
    return COMPLAINT_ANSWERED if topic == _COMPLAINT_ANSWERED_TOPIC else None


class NotificationFold:
    """Applies pages of the notification log; queues messages for the channels."""

    def __init__(
        self,
        channels_for: ChannelsFor,
        public_url: str,
        uncollected_days: float,
        open_state: StateOpener | None = None,
    ) -> None:
        self.channels_for = channels_for
        self.open_state = open_state
        self.public_url = public_url.rstrip("/")
        self.uncollected_seconds = uncollected_days * 86_400

    def apply_page(self, conn: sqlite3.Connection, page: Sequence[Entry]) -> int:
        """Fold ``page`` inside the caller's transaction; returns the messages queued."""
        queued = 0
        for entry in page:
            name = _event_name(entry.topic)
            if name not in _HANDLED:
                continue  # not decoded: most of a busy log is releases and visits
            state: dict[str, Any] = orjson.loads(entry.state)
            if self.open_state is not None:
                state = self.open_state(state)
            permit_id = originator_key(entry.originator_id)
            if name == COMPLAINT_ANSWERED and "permit_id" in state:
                # A `Complaint` aggregate's event (core/complaint.py) names its permit.
                permit_id = originator_key(plain(state["permit_id"]))
            queued += self._apply(conn, name, permit_id, state, entry.originator_version)
        if page:
            conn.execute(
                "INSERT INTO tracking VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET "
                "position = excluded.position",
                (page[-1].id,),
            )
        return queued

    def _apply(
        self, conn: sqlite3.Connection, name: str, permit_id: str, state: dict[str, Any],
        version: int,
    ) -> int:  # fmt: skip
        at = str(plain(state["timestamp"]))
        if name == "Submitted":
            conn.execute(
                "INSERT OR IGNORE INTO recipients (permit_id, site, number, holder_masked, status)"
                " VALUES (?, ?, ?, ?, 'submitted')",
                (
                    permit_id,
                    state["site"],
                    state["number"],
                    mask_name(state["applicant_name"] or ""),
                ),
            )
        elif name == "ContactRecorded":
            conn.execute(
                "UPDATE recipients SET phone = ?, email = ?, lang = ? WHERE permit_id = ?",
                (state["phone"], state["email"], state["lang"], permit_id),
            )
        elif name in ("PickupCodeIssued", "PickupCodeReissued"):
            return self._ready(conn, permit_id, state, at)
        elif name == "AssignedToTeam":
            team = {"team": state["team"], "date": state["date"], "place": state["place"]}
            return self._queue(conn, permit_id, MessageType.TEAM_VISIT, str(version), at,
                               {"team": team})  # fmt: skip
        elif name == "Released":
            conn.execute(
                "UPDATE recipients SET status = 'released', released_at = ?, visit = ?, "
                "window = ? WHERE permit_id = ?",
                (epoch(state["timestamp"]), str(plain(state["visit"])), state["window"],
                 permit_id),
            )  # fmt: skip
        elif name == "ReturnedToStorage":
            conn.execute(
                "UPDATE recipients SET status = 'ready', released_at = NULL WHERE permit_id = ?",
                (permit_id,),
            )
            _cancel(conn, permit_id, (MessageType.WAITING,), name)
        elif name == "UnassignedFromTeam":
            _cancel(conn, permit_id, (MessageType.TEAM_VISIT,), name)
        elif name == "DataErased":
            # The subject's personal data is erased: nothing about them is kept or sent.
            conn.execute(
                "UPDATE recipients SET phone = NULL, email = NULL, holder_masked = '' "
                "WHERE permit_id = ?",
                (permit_id,),
            )
            conn.execute("DELETE FROM outbox WHERE permit_id = ?", (permit_id,))
            conn.execute("DELETE FROM links WHERE permit_id = ?", (permit_id,))
        elif name in _CLOSED:
            conn.execute(
                "UPDATE recipients SET status = 'closed' WHERE permit_id = ?", (permit_id,)
            )
            _cancel(conn, permit_id, _ABOUT_PICKUP, name)
        elif name == COMPLAINT_ANSWERED:
            answer = state.get("answer") or state.get("text")
            fields = {"answer": answer if isinstance(answer, str) else None}
            kind = MessageType.COMPLAINT_ANSWERED
            return self._queue(conn, permit_id, kind, str(version), at, fields)
        return 0

    def apply_timers(
        self, conn: sqlite3.Connection, now: float, waiting_seconds: float, warning_seconds: float
    ) -> int:
        """Queue "waiting at the window" and "expires soon" where their time has come."""
        at = datetime.fromtimestamp(now, UTC).isoformat()
        queued = 0
        waiting = conn.execute(
            "SELECT permit_id, visit, window FROM recipients WHERE status = 'released' "
            "AND released_at <= ? AND waited_visit IS NOT visit",
            (now - waiting_seconds,),
        ).fetchall()
        for permit_id, visit, window in waiting:
            queued += self._queue(conn, permit_id, MessageType.WAITING, visit, at,
                                  {"window": window})  # fmt: skip
            conn.execute(
                "UPDATE recipients SET waited_visit = visit WHERE permit_id = ?", (permit_id,)
            )
        expiring = conn.execute(
            "SELECT permit_id, ready_until FROM recipients WHERE status = 'ready' "
            "AND ready_until - ? <= ? AND ready_until > ? AND warned_until IS NOT ready_until",
            (warning_seconds, now, now),
        ).fetchall()
        for permit_id, until in expiring:
            expires_at = datetime.fromtimestamp(until, UTC).isoformat()
            queued += self._queue(conn, permit_id, MessageType.EXPIRING, repr(until), at,
                                  {"expires_at": expires_at})  # fmt: skip
            conn.execute(
                "UPDATE recipients SET warned_until = ready_until WHERE permit_id = ?",
                (permit_id,),
            )
        return queued

    def _ready(
        self, conn: sqlite3.Connection, permit_id: str, state: dict[str, Any], at: str
    ) -> int:
        code_sha256 = str(state["code_sha256"])
        expires = epoch(state["expires_at"])
        issued = state.get("issued_at")
        since = epoch(issued) if issued else epoch(state["timestamp"])
        ready_until = min(expires, since + self.uncollected_seconds)
        conn.execute(
            "UPDATE recipients SET status = 'ready', code_sha256 = ?, ready_until = ?, "
            "released_at = NULL WHERE permit_id = ?",
            (code_sha256, ready_until, permit_id),
        )
        found = conn.execute(
            "SELECT code FROM links WHERE code_sha256 = ?", (code_sha256,)
        ).fetchone()
        conn.execute("DELETE FROM links WHERE code_sha256 = ? OR created < ?",
                     (code_sha256, time.time() - LINK_LIFETIME))  # fmt: skip
        link = f"{self.public_url}/p/{found[0]}" if found else None
        # A ready message not sent yet carries a code that has just died (not this code's own
        # message, already queued when a log is folded again).
        kinds = (MessageType.READY, MessageType.EXPIRING)
        keep = message_id(permit_id, MessageType.READY, code_sha256)
        _cancel(conn, permit_id, kinds, "PickupCodeReissued", keep=keep)
        # The code's hash names the occasion: a reissue is a new ready message.
        return self._queue(conn, permit_id, MessageType.READY, code_sha256, at, {"link": link})

    def _queue(
        self, conn: sqlite3.Connection, permit_id: str, kind: MessageType, occasion: str,
        at: str, fields: dict[str, Any],
    ) -> int:  # fmt: skip
        to = recipient(conn, permit_id)
        if to is None or (to.phone is None and to.email is None):
            return 0
        channels = self.channels_for(to)
        if not channels:
            return 0
        message = message_id(permit_id, kind, occasion)
        body = message_body(kind, message, at, to, fields)
        now = time.time()
        for channel in channels:
            conn.execute(
                "INSERT OR IGNORE INTO outbox (id, channel, permit_id, type, body, created, "
                "next_try) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (message, channel, permit_id, kind.value, body, now, now),
            )
        return 1


def _cancel(
    conn: sqlite3.Connection,
    permit_id: str,
    kinds: Sequence[MessageType],
    because: str,
    keep: str = "",
) -> None:
    """Cancel the permit's messages of ``kinds`` not sent yet: the log made them obsolete
    (a catch-up over a long history would otherwise announce "ready" for permits long
    collected; a reissue kills the code an unsent ready message carries). Their links go."""
    marks = ", ".join("?" * len(kinds))
    obsolete = conn.execute(
        "SELECT seq, body FROM outbox WHERE permit_id = ? AND sent_at IS NULL AND failed_at "
        f"IS NULL AND cancelled_at IS NULL AND id != ? AND type IN ({marks})",
        (permit_id, keep, *(kind.value for kind in kinds)),
    ).fetchall()
    now = time.time()
    conn.executemany(
        "UPDATE outbox SET cancelled_at = ?, last_error = ?, body = ? WHERE seq = ?",
        [(now, f"obsolete: {because}", without_link(body), seq) for seq, body in obsolete],
    )


_ABOUT_PICKUP = (MessageType.READY, MessageType.TEAM_VISIT, MessageType.WAITING,
                 MessageType.EXPIRING)  # fmt: skip
_HANDLED = frozenset({
    "Submitted", "ContactRecorded", "PickupCodeIssued", "PickupCodeReissued", "AssignedToTeam",
    "UnassignedFromTeam", "Released", "ReturnedToStorage", "DataErased", COMPLAINT_ANSWERED,
    *_CLOSED,
})  # fmt: skip
known(_HANDLED - {COMPLAINT_ANSWERED})  # a renamed permit event fails here, by name
LINK_LIFETIME = 86_400.0
"""A link whose code's event never came (its save failed) is dropped after a day."""


def recipient(conn: sqlite3.Connection, permit_id: str) -> Recipient | None:
    row = conn.execute(
        "SELECT permit_id, site, number, holder_masked, phone, email, lang FROM recipients "
        "WHERE permit_id = ?",
        (permit_id,),
    ).fetchone()
    return Recipient(*row) if row else None
