"""The write model's own lookup from a pickup code's hash to its permit."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.values import code_index_id


class PickupCodeIndex(Aggregate):
    """Points from a code hash to its permit, saved atomically with the permit's own event.

    The event store cannot be queried by attribute; an aggregate whose id derives from the
    hash (uuid5) is the write model's own, consistent lookup.
    """

    @staticmethod
    def create_id(code_sha256: str) -> UUID:
        return code_index_id(code_sha256)

    @event("Registered")
    def __init__(self, code_sha256: str, permit_id: UUID) -> None:
        self.code_sha256 = code_sha256
        self.permit_id = permit_id
