"""The citizen's view, reached only through the pickup code they hold."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import RuntimeDep
from api.rate_limit import Rule, client_address
from api.runtime import Runtime
from core.codes import PickupCode
from core.errors import PickupCodeError
from projections import queries

router = APIRouter(tags=["citizen"])


class UnknownCodeError(PickupCodeError):
    code = "unknown_code"
    status = 404


@router.get("/p/{code}")
async def status_by_code(code: str, request: Request, runtime: RuntimeDep) -> dict[str, object]:
    """Where the application stands, what is still needed, and where to collect it."""
    address = client_address(request)
    runtime.limiter.check(Rule.WRONG_CODES, address, code)
    try:
        return await _status(code, runtime)
    except PickupCodeError:
        runtime.limiter.spend(Rule.WRONG_CODES, address, code)
        raise


async def _status(code: str, runtime: Runtime) -> dict[str, object]:
    parsed = PickupCode.parse(code)
    conn = runtime.read_models.conn
    found = await queries.code(conn, parsed.sha256)
    permit = await queries.permit(conn, found.permit_id) if found else None
    if found is None or permit is None:
        raise UnknownCodeError("kode tidak dikenal / unknown code")
    timeline = await queries.timeline(conn, permit.id)
    ready = permit.status in ("ready", "released")
    return {
        "number": permit.number,
        "kind": permit.kind,
        "holder": permit.holder,
        "status": permit.status,
        "code_active": found.active,
        "code_expires_at": found.expires_at,
        "recipient": found.recipient,
        "site": permit.site,
        "site_name": runtime.settings.site_name,
        "plate": permit.plate,
        "ready": ready,
        "lanes": [lane.lane for lane in runtime.settings.lanes] if ready else [],
        "team": (
            {"team": permit.team, "date": permit.team_date, "place": permit.team_place}
            if permit.team
            else None
        ),
        "fee_rupiah": permit.fee_rupiah,
        "timeline": [{"event": t.event, "at": t.at, "detail": t.detail} for t in timeline],
    }
