"""The citizen's "Saya sudah di sini / I'm here": a manual arrival by their own pickup code.

For a car the camera missed. It goes the console's way (`api/routes/lanes.py`,
``manual_arrival``): the service releases the permit to the lane's window with the manual
method, and the consoles hear of it from the log. Only a READY permit not assigned to a mobile
team, only while the site is open; the routes rate-limit it like the citizen's other forms.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from uuid import UUID, uuid5

from api.routes.citizen import UnknownCodeError
from api.routes.lanes import UnknownLaneError
from api.runtime import Runtime
from core.codes import PickupCode
from core.errors import CodeRefusedError, DrivethruError, PermitError
from core.values import PermitStatus, ReleaseMethod

# The visit an "I'm here" makes derives from the permit and its version when the button
# was pressed: two presses racing make the same visit, and the second release is a no-op.
HERE_NAMESPACE = UUID("9d3c51a8-2f6e-5b47-8e1c-7a0b4d92c6f3")


class ClosedNowError(DrivethruError):
    """The drive-through is closed now (the site's opening hours)."""

    code = "closed_now"
    status = 409

    def __init__(self, said: tuple[str, str]) -> None:
        super().__init__(f"{said[0]} / {said[1]}")


class NotWaitingError(PermitError):
    """The permit is not READY: not yet, already at a window, or gone."""

    code = "not_ready"
    status = 409


@dataclass(frozen=True, slots=True)
class HereArrival:
    """What the press did: the permit released to ``lane``'s ``window`` for ``visit``."""

    permit_id: str
    lane: str
    window: str
    visit: str


async def arrive_here(runtime: Runtime, code: str, lane: str) -> HereArrival:
    """Release the permit of ``code`` to ``lane``'s window, as a manual arrival."""
    parsed = PickupCode.parse(code)
    settings = runtime.settings
    window = settings.window_of(lane)
    if window is None:
        raise UnknownLaneError(lane)
    now = runtime.service.clock()
    open_now = settings.opening_hours.now(now, settings.zone)
    if not open_now.open:
        raise ClosedNowError(open_now.said(now.astimezone(settings.zone).date()))
    service = runtime.service
    try:
        holder = await asyncio.to_thread(service.resolve_code, parsed.sha256, site=settings.site)
    except CodeRefusedError as refused:
        if refused.reason == "unknown":
            raise UnknownCodeError("kode tidak dikenal / unknown code") from None
        if refused.reason != "not_ready":
            raise
        holder = None
    permit = await asyncio.to_thread(service.get, holder.permit_id) if holder else None
    if permit is None or permit.status is not PermitStatus.READY:
        where = (
            f"sudah di jendela {permit.window} / already at window {permit.window}"
            if permit is not None and permit.status is PermitStatus.RELEASED
            else "izin belum siap diambil / the permit is not ready for pickup"
        )
        raise NotWaitingError(holder.permit_id if holder else None, where)
    if permit.team is not None:
        # The document travels with the team, not on the mall's shelf: no window has it.
        raise NotWaitingError(
            permit.id,
            f"izin dibawa tim keliling {permit.team} / the permit is with mobile team "
            f"{permit.team}",
        )
    visit = uuid5(HERE_NAMESPACE, f"{permit.id}/{permit.version}")
    await asyncio.to_thread(
        service.release, permit.id, lane=lane, window=window, visit=visit,
        method=ReleaseMethod.MANUAL, code_sha256=parsed.sha256,
    )  # fmt: skip
    # The consoles hear of it from the log, as of the console's own manual arrivals.
    runtime.runner.wake()
    return HereArrival(str(permit.id), lane, window, str(visit))
