"""The permit's events by name, and the status each leaves it in: the one table of it.

`PermitApplication` sets its status as it applies each event; `STATUS_AFTER` says the same
for readers that fold stored events without the aggregate (the read models), and a test
replays the aggregate through every path to keep the two equal. Names are checked against
the aggregate's event classes when this module loads: a renamed event fails at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from eventsourcing.utils import get_topic

from core.permit import PermitApplication
from core.values import PermitStatus as S

EVENTS: Mapping[str, type[PermitApplication.Event]] = {
    name: cls
    for name, cls in vars(PermitApplication).items()
    if isinstance(cls, type) and issubclass(cls, PermitApplication.Event) and name != "Event"
}
"""Every event class of the permit, by its name."""

TOPICS: Mapping[str, str] = {get_topic(cls): name for name, cls in EVENTS.items()}
"""The stored topic of each event class -> its name."""


def known(names: Iterable[str]) -> frozenset[str]:
    """``names``, each checked to be a permit event (`ValueError` naming any that is not)."""
    chosen = frozenset(names)
    unknown = sorted(chosen - EVENTS.keys())
    if unknown:
        raise ValueError(f"not events of PermitApplication: {', '.join(unknown)}")
    return chosen


STATUS_AFTER: Mapping[str, S] = {
    "DocumentsVerified": S.DOCUMENTS_VERIFIED,
    "CorrectionRequested": S.CORRECTION_REQUESTED,
    "DocumentsResubmitted": S.SUBMITTED,
    "FeePaid": S.FEE_PAID,
    "Approved": S.APPROVED,
    "Rejected": S.REJECTED,
    "Printed": S.PRINTED,
    "PickupCodeIssued": S.READY,
    "Released": S.RELEASED,
    "ReturnedToStorage": S.READY,
    "HandedOver": S.HANDED_OVER,
    "Cancelled": S.CANCELLED,
    "Expired": S.EXPIRED,
    "PickupCodeExpired": S.EXPIRED,
}
"""The status after each event that always sets one. Two depend on the event's data:
``FeeAssessed`` (fee paid when the fee is 0, else fee assessed) and ``PickupCodeReissued``
(ready again when the permit had expired)."""
known(STATUS_AFTER)

CLOSING: frozenset[str] = known(
    {"Rejected", "HandedOver", "Cancelled", "Expired", "PickupCodeExpired"}
)
"""Events that close the permit's case."""
