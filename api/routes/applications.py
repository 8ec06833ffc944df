"""Back office: the permit lifecycle, from intake to staging, for officers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from api.deps import OfficeOrLaneDep, OfficerDep, RuntimeDep
from api.errors import error_responses
from api.history import AtQuery, require_office, state_at
from core.codes import mask_name
from core.contact import EMAIL_PATTERN, PHONE_PATTERN, Contact
from core.plates import REGION_CODES
from core.service import PermitSnapshot
from projections import queries

router = APIRouter(
    prefix="/api/applications", tags=["applications"], responses=error_responses(401, 403, 422, 429)
)
# What a command can answer besides: its permit unknown, its stage wrong or changed meanwhile,
# and (with a body) a body that is not JSON.
COMMAND = error_responses(404, 409)
COMMAND_WITH_BODY = error_responses(400, 404, 409)


NIK = Field(pattern=r"^[0-9]{16}$", description="NIK di KTP: 16 angka / the KTP's 16 digits")
# The plate grammar `core.plates.parse_plate` checks (a known region, a number without a
# leading 0, up to 3 letters), in either case, parts apart by one space or hyphen or none;
# empty means no plate. Checked here so that the schema says exactly what is accepted.
_REGIONS = "|".join(
    "".join(f"[{c}{c.lower()}]" for c in code)
    for code in sorted(REGION_CODES, key=lambda code: (-len(code), code))
)
PLATE_PATTERN = rf"^(|({_REGIONS})[ -]?[1-9][0-9]{{0,3}}[ -]?[A-Za-z]{{0,3}})$"


# "Not blank" as the domain checks it (`str.strip`): some character that is not white space.
# Spelled out, so that every regex dialect reading the schema means the same characters.
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitIn(Body):
    site: str | None = None
    reference: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=80)
    applicant_name: str = Field(min_length=1, max_length=120, pattern=NOT_BLANK)
    nik: str = NIK
    plate: str | None = Field(
        default=None,
        max_length=16,
        pattern=PLATE_PATTERN,
        description="Plat TNKB / the TNKB plate, e.g. DK 1234 AB",
    )
    contact: ContactIn | None = None


class ContactIn(Body):
    """Where the citizen is notified (`docs/server.md`, Notifications): a phone, an e-mail or
    both. Never put on MQTT; pages show it masked."""

    model_config = ConfigDict(
        extra="forbid",
        # At least one of them, as a string (either may be null when the other is given).
        json_schema_extra={
            "anyOf": [
                {"required": ["phone"], "properties": {"phone": {"type": "string"}}},
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
            ]
        },
    )
    phone: Annotated[str, Field(pattern=PHONE_PATTERN)] | None = Field(
        default=None, description="+62…, e.g. +6281234567890"
    )
    email: Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN)] | None = None
    lang: Literal["id", "en"] = Field(
        default="id", description="id: Bahasa Indonesia; en: Indonesian and English"
    )

    @model_validator(mode="after")
    def _phone_or_email(self) -> ContactIn:
        if self.phone is None and self.email is None:
            raise ValueError("Isi nomor HP atau e-mail / give a phone number or an e-mail")
        return self

    def contact(self) -> Contact:
        return Contact.parse(self.phone, self.email, self.lang)


class ReasonIn(Body):
    reason: str = Field(min_length=1, max_length=500, pattern=NOT_BLANK)


class FeeIn(Body):
    amount_rupiah: int = Field(ge=0, le=1_000_000_000)


class PaymentIn(Body):
    reference: str = Field(min_length=1, max_length=80, pattern=NOT_BLANK)
    amount_rupiah: int = Field(ge=0)
    paid_at: AwareDatetime | None = None


class StageIn(Body):
    slot: str = Field(min_length=1, max_length=32)


class DelegateIn(Body):
    name: str = Field(min_length=1, max_length=120)
    nik: str = NIK
    expires_at: AwareDatetime = Field(
        description="Belum lewat / not passed yet: an authorisation already expired is 422"
    )


class TeamIn(Body):
    team: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    date: str = Field(min_length=1, max_length=32)
    place: str = Field(min_length=1, max_length=200)


class PermitOut(BaseModel):
    """A permit as the API shows it; the holder's name is masked, the NIK never shown."""

    id: UUID
    version: int
    site: str
    reference: str
    number: str
    kind: str
    holder: str
    plate: str | None
    status: str
    status_id: str
    fee_rupiah: int | None
    slot: str | None
    lane: str | None
    window: str | None
    team: str | None
    handed_over_by: str | None
    conflicts: int

    @classmethod
    def of(cls, permit: PermitSnapshot) -> PermitOut:
        return cls(
            id=permit.id, version=permit.version, site=permit.site,
            reference=permit.reference, number=permit.number, kind=permit.kind,
            holder=mask_name(permit.applicant_name), plate=permit.plate,
            status=permit.status.value, status_id=permit.status.label_id,
            fee_rupiah=permit.fee_rupiah, slot=permit.slot, lane=permit.lane,
            window=permit.window, team=permit.team, handed_over_by=permit.handed_over_by,
            conflicts=permit.conflicts,
        )  # fmt: skip


class CodeOut(BaseModel):
    """A pickup code, shown once: give it to the citizen (link and QR), it is not kept."""

    permit: PermitOut
    code: str
    expires_at: datetime
    recipient: str
    status_url: str


def _code_out(
    runtime: RuntimeDep, permit_id: UUID, code: str, expires: datetime, who: str
) -> CodeOut:
    return CodeOut(
        permit=PermitOut.of(runtime.service.get(permit_id)),
        code=code,
        expires_at=expires,
        recipient=who,
        status_url=f"/p/{code}",
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 409))
def submit(body: SubmitIn, runtime: RuntimeDep, _caller: OfficerDep) -> PermitOut:
    """Submit an application (idempotent by site and reference)."""
    permit_id = runtime.service.submit(
        site=body.site or runtime.settings.site, reference=body.reference, kind=body.kind,
        applicant_name=body.applicant_name, nik=body.nik, plate=body.plate,
        contact=body.contact.contact() if body.contact else None,
    )  # fmt: skip
    return PermitOut.of(runtime.service.get(permit_id))


@router.get("")
async def list_by_status(
    runtime: RuntimeDep,
    _caller: OfficeOrLaneDep,
    status: str = "ready",
    site: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[dict[str, object]]:
    """Applications at one stage, from the read models: the ``limit`` longest at it."""
    rows = await queries.permits_by_status(
        runtime.read_models.conn, site or runtime.settings.site, status, limit
    )
    return [_row(row) for row in rows]


def _row(row: queries.PermitRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


@router.get("/{permit_id}", responses=error_responses(404))
def get(
    permit_id: UUID, runtime: RuntimeDep, caller: OfficeOrLaneDep, at: AtQuery = None
) -> PermitOut:
    """The permit now, or as it stood at ``at`` (the audit: officers, api/history.py)."""
    if at is not None:
        require_office(caller)
        return PermitOut.of(state_at(runtime.service, permit_id, at))
    return PermitOut.of(runtime.service.get(permit_id))


@router.post("/{permit_id}/verify", responses=COMMAND)
def verify(permit_id: UUID, runtime: RuntimeDep, caller: OfficerDep) -> PermitOut:
    runtime.service.verify_documents(permit_id, caller.name)
    return PermitOut.of(runtime.service.get(permit_id))


@router.post("/{permit_id}/correction", responses=COMMAND_WITH_BODY)
def request_correction(
    permit_id: UUID, body: ReasonIn, runtime: RuntimeDep, caller: OfficerDep
) -> PermitOut:
    runtime.service.request_correction(permit_id, caller.name, body.reason)
    return PermitOut.of(runtime.service.get(permit_id))


@router.post("/{permit_id}/fee", responses=COMMAND_WITH_BODY)
def assess_fee(permit_id: UUID, body: FeeIn, runtime: RuntimeDep, caller: OfficerDep) -> PermitOut:
    runtime.service.assess_fee(permit_id, caller.name, body.amount_rupiah)
    return PermitOut.of(runtime.service.get(permit_id))


@router.post("/{permit_id}/payment", responses=COMMAND_WITH_BODY)
def record_payment(
    permit_id: UUID, body: PaymentIn, runtime: RuntimeDep, _caller: OfficerDep
) -> dict[str, object]:
    """A payment gateway's callback: the same reference again is acknowledged, not doubled."""
    recorded = runtime.service.record_payment(
        permit_id, body.reference, body.amount_rupiah, body.paid_at
    )
    permit = PermitOut.of(runtime.service.get(permit_id))
    return {"recorded": recorded, "permit": permit.model_dump(mode="json")}


@router.post("/{permit_id}/approve", responses=COMMAND)
def approve(permit_id: UUID, runtime: RuntimeDep, caller: OfficerDep) -> PermitOut:
    runtime.service.approve(permit_id, caller.name)
    return PermitOut.of(runtime.service.get(permit_id))


@router.post("/{permit_id}/reject", responses=COMMAND_WITH_BODY)
def reject(permit_id: UUID, body: ReasonIn, runtime: RuntimeDep, caller: OfficerDep) -> PermitOut:
    runtime.service.reject(permit_id, caller.name, body.reason)
    return PermitOut.of(runtime.service.get(permit_id))


@router.post("/{permit_id}/print", responses=COMMAND)
def print_document(permit_id: UUID, runtime: RuntimeDep, caller: OfficerDep) -> PermitOut:
    runtime.service.print_document(permit_id, caller.name)
    return PermitOut.of(runtime.service.get(permit_id))


@router.post("/{permit_id}/stage", responses=COMMAND_WITH_BODY)
def stage(permit_id: UUID, body: StageIn, runtime: RuntimeDep, caller: OfficerDep) -> CodeOut:
    """Stage in a slot and issue the pickup code: the permit is READY."""
    issued = runtime.service.stage(permit_id, caller.name, body.slot)
    return _code_out(runtime, permit_id, issued.code, issued.expires_at, "owner")


@router.post("/{permit_id}/reissue", responses=COMMAND_WITH_BODY)
def reissue(permit_id: UUID, body: ReasonIn, runtime: RuntimeDep, caller: OfficerDep) -> CodeOut:
    issued = runtime.service.reissue_code(permit_id, caller.name, body.reason)
    return _code_out(runtime, permit_id, issued.code, issued.expires_at, "owner")


@router.post("/{permit_id}/delegates", responses=COMMAND_WITH_BODY)
def authorise_delegate(
    permit_id: UUID, body: DelegateIn, runtime: RuntimeDep, _caller: OfficerDep
) -> CodeOut:
    issued = runtime.service.authorise_delegate(
        permit_id, name=body.name, nik=body.nik, expires_at=body.expires_at
    )
    return _code_out(runtime, permit_id, issued.code, issued.expires_at, "delegate")


@router.post("/{permit_id}/team", responses=COMMAND_WITH_BODY)
def assign_to_team(
    permit_id: UUID, body: TeamIn, runtime: RuntimeDep, caller: OfficerDep
) -> PermitOut:
    runtime.service.assign_to_team(permit_id, caller.name, body.team, body.date, body.place)
    return PermitOut.of(runtime.service.get(permit_id))


@router.post("/{permit_id}/cancel", responses=COMMAND_WITH_BODY)
def cancel(permit_id: UUID, body: ReasonIn, runtime: RuntimeDep, caller: OfficerDep) -> PermitOut:
    runtime.service.cancel(permit_id, caller.name, body.reason)
    return PermitOut.of(runtime.service.get(permit_id))
