"""Personal data in events, sealed with a key per data subject so that it can be forgotten.

An event field named in `PERSONAL_FIELDS` is stored as ``v1:<subject>:<event>:<field>:<data>``:
AES-256-GCM under the subject's own key, with the subject, event and field as associated
data. The keys live in a table beside the event log (`SubjectKeys`). Deleting a subject's key
erases every such field of every event about them at once, without touching the log: the
events still load and replay, and the field reads `ERASED`.
"""

from __future__ import annotations

import base64
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID, uuid5

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent, Transcoding

ERASED = "[dihapus / erased]"
"""What an erased field reads, in events, read models, pages and exports."""

SEALED_TYPE = "sealed_v1"
_VERSION = "v1"
_NONCE = 12


class Purpose(StrEnum):
    """Why a lane kept a plate it read, which sets how long (`core.retention`)."""

    UNMATCHED = "unmatched"
    """The read released or staged nothing: kept a few days, for the operator's questions."""
    MATCHED = "matched"
    """The read found a permit: kept as long as the handover's audit needs it."""


_BUCKETS = UUID("6f1d0c0e-56a4-4b8e-9d0b-2f7c1e8a9b31")
MATCHED_OUTCOMES = frozenset({"released", "prestaged", "ambiguous"})
"""Arrival outcomes whose plate read found a permit (`Purpose.MATCHED`)."""


def bucket_subject(purpose: Purpose, day: date) -> UUID:
    """The subject of the plates lanes read on ``day`` (UTC) for ``purpose``: one key each,
    so that retention deletes one key a day rather than one per car."""
    return uuid5(_BUCKETS, f"lane-plates/{purpose.value}/{day.isoformat()}")


def _visit_subject(_: UUID, state: dict[str, Any]) -> UUID:
    purpose = Purpose.MATCHED if state.get("outcome") in MATCHED_OUTCOMES else Purpose.UNMATCHED
    at: datetime = state["timestamp"]
    return bucket_subject(purpose, at.astimezone(UTC).date())


def _own_subject(originator_id: UUID, _: dict[str, Any]) -> UUID:
    return originator_id


@dataclass(frozen=True, slots=True)
class Sealing:
    """An event's personal fields, and whose key seals them (by default: the aggregate's)."""

    fields: tuple[str, ...]
    subject: Callable[[UUID, dict[str, Any]], UUID] = _own_subject


# The aggregate event classes' qualified names (their topic after the module) and the fields
# of each that are personal data. A name here is part of the stored associated data: an event
# class renamed keeps its old name in this table, or its old events stay sealed.
PERSONAL_FIELDS: dict[str, Sealing] = {
    "PermitApplication.Submitted": Sealing(("applicant_name", "plate")),
    "PermitApplication.DelegateAuthorised": Sealing(("name",)),
    "PermitApplication.ContactRecorded": Sealing(("phone", "email")),
    "LaneVisit.Arrived": Sealing(("plate",), _visit_subject),
    "LaneVisit.ArrivalRecorded": Sealing(("plate",), _visit_subject),
}


class KeyStore(Protocol):
    """Where subjects' keys are kept: a table beside the event log (`core.subject_keys`)."""

    def get(self, subject: str) -> bytes | None: ...

    def get_many(self, subjects: list[str]) -> dict[str, bytes]: ...

    def create(self, subject: str, key: bytes) -> bytes:
        """Store ``key`` for ``subject`` unless one exists; the key that holds."""
        ...

    def delete(self, subject: str) -> bool: ...


class SubjectKeys:
    """Subjects' keys through an in-memory cache; `erase` deletes one for good."""

    def __init__(self, store: KeyStore, cache_size: int = 100_000) -> None:
        self.store = store
        self._cache: OrderedDict[str, bytes | None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._forget_listeners: list[Callable[[str], None]] = []

    def on_forget(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(subject)`` when another process's erasure is seen (`forget`)."""
        self._forget_listeners.append(listener)

    def key(self, subject: str, *, create: bool = False) -> bytes | None:
        with self._lock:
            if subject in self._cache:
                key = self._cache[subject]
                self._cache.move_to_end(subject)
                if key is not None or not create:
                    return key
        key = self.store.get(subject)
        if key is None and create:
            key = self.store.create(subject, AESGCM.generate_key(bit_length=256))
        self._remember(subject, key)
        return key

    def prefetch(self, subjects: list[str]) -> None:
        """Cache the keys of ``subjects`` with one query (a page of the read models' fold)."""
        with self._lock:
            missing = [s for s in subjects if s not in self._cache]
        if not missing:
            return
        found = self.store.get_many(missing)
        for subject in missing:
            self._remember(subject, found.get(subject))

    def erase(self, subject: str) -> bool:
        """Delete ``subject``'s key: everything sealed with it is unreadable from now on."""
        deleted = self.store.delete(subject)
        self._remember(subject, None)
        return deleted

    def forget(self, subject: str) -> None:
        """Drop a cached key (another process erased it): the next use asks the store, and
        whatever was opened with it is dropped too (the service's cached aggregate)."""
        with self._lock:
            self._cache.pop(subject, None)
        for listener in self._forget_listeners:
            listener(subject)

    def _remember(self, subject: str, key: bytes | None) -> None:
        with self._lock:
            self._cache[subject] = key
            self._cache.move_to_end(subject)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Personal:
    """A personal field on its way into the store: sealed when the event is encoded."""

    subject: UUID
    event: str
    field: str
    text: str


def _aad(subject: str, event: str, field: str) -> bytes:
    return f"{_VERSION}:{subject}:{event}:{field}".encode()


def seal(keys: SubjectKeys, value: Personal) -> str:
    subject = value.subject.hex
    key = keys.key(subject, create=True)
    assert key is not None  # created above
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(
        nonce, value.text.encode(), _aad(subject, value.event, value.field)
    )
    data = base64.urlsafe_b64encode(nonce + sealed).decode()
    return f"{_VERSION}:{subject}:{value.event}:{value.field}:{data}"


def unseal(keys: SubjectKeys, stored: str) -> str:
    """The field's text, or `ERASED` when its subject's key is gone.

    Raises `ValueError` for a sealed value that is damaged or not ours: never silently erased.
    """
    try:
        version, subject, event, field, data = stored.split(":", 4)
    except ValueError:
        raise ValueError("bukan nilai tersegel / not a sealed value") from None
    if version != _VERSION:
        raise ValueError(f"versi segel {version!r} tidak dikenal / unknown seal version")
    key = keys.key(subject)
    if key is None:
        return ERASED
    raw = base64.urlsafe_b64decode(data)
    try:
        text = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(subject, event, field))
    except InvalidTag:
        raise ValueError(f"segel {event}.{field} rusak / damaged sealed value") from None
    return text.decode()


def sealed_subject(stored: str) -> str:
    """The subject (hex UUID) a stored sealed value belongs to."""
    return stored.split(":", 2)[1]


class SealedText(Transcoding):
    """Writes a `Personal` value sealed, and reads it back as its text (or `ERASED`)."""

    type = Personal
    name = SEALED_TYPE

    def __init__(self, keys: SubjectKeys) -> None:
        self.keys = keys

    def encode(self, obj: Personal) -> str:
        return seal(self.keys, obj)

    def decode(self, data: str) -> str:
        return unseal(self.keys, data)


def mark_personal(event_name: str, originator_id: UUID, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the personal fields of ``event_name`` wrapped to be sealed (a copy)."""
    sealing = PERSONAL_FIELDS.get(event_name)
    if sealing is None:
        return state
    marked = dict(state)
    subject: UUID | None = None
    for name in sealing.fields:
        value = marked.get(name)
        if isinstance(value, str):
            subject = subject or sealing.subject(originator_id, state)
            marked[name] = Personal(subject, event_name, name, value)
    return marked


def unseal_state(keys: SubjectKeys, state: dict[str, Any]) -> dict[str, Any]:
    """An event's state as plain JSON (the read models' fold) with its sealed fields opened."""
    for name, value in state.items():
        if type(value) is dict and value.get("_type_") == SEALED_TYPE:
            state[name] = unseal(keys, value["_data_"])
    return state


class PersonalDataMapper(Mapper[UUID]):
    """The library's mapper, sealing the personal fields of each event on its way to the store.

    Reading needs nothing of its own: the transcoder's `SealedText` opens what was sealed.
    """

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        name = type(domain_event).__qualname__
        if name in PERSONAL_FIELDS:
            marked = object.__new__(type(domain_event))
            state = mark_personal(name, domain_event.originator_id, vars(domain_event))
            object.__setattr__(marked, "__dict__", state)
            domain_event = marked
        return super().to_stored_event(domain_event)
