"""The citizen's view, reached only through the pickup code they hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from api.code_lookup import code_and_permit
from api.deps import RuntimeDep
from api.errors import error_responses
from api.notify.contact_page import masked_contact
from api.rate_limit import Rule, client_address
from api.runtime import Runtime
from core.codes import PickupCode
from core.errors import PickupCodeError
from projections import queries

router = APIRouter(tags=["citizen"])


class UnknownCodeError(PickupCodeError):
    code = "unknown_code"
    status = 404


# The code as issued; surrounding space and lower case are forgiven too. Stated in the schema,
# checked by `PickupCode.parse` (400 with the reason), not by the framework's 422.
CODE_PATTERN = r"^DT1:[A-Z2-7]{25}[AEIMQUY4]$"  # the last 2 of 130 bits are zero
CodeParam = Annotated[
    str,
    Path(
        description="Kode pengambilan / the pickup code: DT1: and 26 base32 characters",
        json_schema_extra={"pattern": CODE_PATTERN},
    ),
]


@router.get("/p/{code}", responses=error_responses(400, 404, 429))
async def status_by_code(
    code: CodeParam, request: Request, runtime: RuntimeDep
) -> dict[str, object]:
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
    rows = await code_and_permit(runtime, parsed.sha256)
    if rows is None:
        raise UnknownCodeError("kode tidak dikenal / unknown code")
    found, permit = rows
    conn = runtime.read_models.conn
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
        "contact": await masked_contact(runtime, permit.id),
        "timeline": [{"event": t.event, "at": t.at, "detail": t.detail} for t in timeline],
    }
