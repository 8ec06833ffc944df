"""Which event store the read models were built from.

Read models of another store look valid: their position is a number like any other, so a
server pointed at a new store would skip its first events and serve the old store's rows.
The store's identity is its location (from the settings) and a fingerprint of its first
event (its aggregate, version and recorded state, which holds the time to the
microsecond): two stores seeded alike still differ.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from eventsourcing.persistence import ApplicationRecorder

from core.settings import StoreSettings
from projections.runner import ProjectionRunner
from projections.store import ReadModels

log = logging.getLogger(__name__)
_EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class StoreIdentity:
    """Where the store is and what its first event was (``empty`` before it has one)."""

    location: str
    first_event: str

    @property
    def text(self) -> str:
        return f"{self.location}|{self.first_event}"

    @classmethod
    def parse(cls, text: str) -> StoreIdentity:
        location, _, first_event = text.rpartition("|")
        return cls(location, first_event)

    def same_store(self, recorded: StoreIdentity) -> bool:
        """The same store, or read models recorded while it had no event yet at the same place."""
        if self.location != recorded.location:
            return False
        return recorded.first_event in (self.first_event, _EMPTY)


def store_location(store: StoreSettings) -> str:
    if store.backend == "sqlite":
        return f"sqlite:{store.sqlite_path.resolve()}"
    if store.backend == "postgres":
        return f"postgres://{store.postgres_host}:{store.postgres_port}/{store.postgres_dbname}"
    return "memory"


def store_identity(recorder: ApplicationRecorder, store: StoreSettings) -> StoreIdentity:
    """The store's identity (reads its first notification: call it off the event loop)."""
    first = recorder.select_notifications(start=None, limit=1)
    if not first:
        return StoreIdentity(store_location(store), _EMPTY)
    event = first[0]
    digest = hashlib.sha256(
        f"{event.originator_id}/{event.originator_version}/{event.topic}/".encode() + event.state
    ).hexdigest()[:32]
    return StoreIdentity(store_location(store), digest)


async def ensure_built_from(
    read_models: ReadModels, runner: ProjectionRunner, identity: StoreIdentity
) -> bool:
    """Rebuild the read models, saying so in the log, unless they were built from this
    store; record the store either way. True when they were rebuilt."""
    recorded_text = await read_models.store_identity()
    position = await read_models.position()
    recorded = StoreIdentity.parse(recorded_text) if recorded_text else None
    if recorded is not None and identity.same_store(recorded):
        if recorded != identity:
            await read_models.record_store_identity(identity.text)
        return False
    if recorded is None and position == 0:
        await read_models.record_store_identity(identity.text)
        return False
    log.warning(
        "read model %s dibuat dari event store lain, dibangun ulang / built from another "
        "event store, rebuilding: recorded %s (position %d), this store %s",
        read_models.path, recorded.text if recorded else "none", position, identity.text,
    )  # fmt: skip
    await runner.rebuild()
    await read_models.record_store_identity(identity.text)
    return True
