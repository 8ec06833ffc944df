"""The KTP check at the window, for the handover and the operator's pick: the NIK typed from
the KTP (or its last 6 digits) checked against the keyed hashes, or an override with a
reason. Wrong NIKs are rate limited per lane and per permit (`Rule.WRONG_NIK`)."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.rate_limit import RateLimiter, Rule
from core.errors import (
    DelegateNotAuthorisedError,
    InvalidInputError,
    InvalidTransitionError,
    PermitError,
    ReleasedToAnotherLaneError,
)
from core.identity import IdentityCheck, IdentityMethod, Verdict
from core.service import PermitService
from core.values import PermitStatus, Recipient
from core.window import Identified, identify

NIK_PATTERN = r"^ *(?:(?:[0-9] *){6}|(?:[0-9] *){16})$"
"""16 digits or the last 6, spaces allowed (as printed on the KTP)."""


class IdentityIn(BaseModel):
    """What the operator established at the window: exactly one of ``nik`` and
    ``override_reason``."""

    model_config = ConfigDict(
        extra="forbid",
        # What `_one_of` checks, stated in the schema: one is a string, the other absent or null.
        json_schema_extra={
            "oneOf": [
                {"required": ["nik"], "properties": {"nik": {"type": "string"},
                                                     "override_reason": {"type": "null"}}},
                {"required": ["override_reason"],
                 "properties": {"override_reason": {"type": "string"}, "nik": {"type": "null"}}},
            ]
        },
    )  # fmt: skip

    nik: str | None = Field(default=None, pattern=NIK_PATTERN)
    """The NIK on the KTP shown (16 digits) or its last 6 digits; never stored or logged."""
    override_reason: str | None = Field(default=None, min_length=3, max_length=200)
    """Hand over without a NIK match, and why (recorded on the handover)."""

    @model_validator(mode="after")
    def _one_of(self) -> IdentityIn:
        if (self.nik is None) == (self.override_reason is None):
            raise ValueError(
                "isi nik atau override_reason / give the NIK from the KTP or an override reason"
            )
        return self


class IdentityMismatchError(PermitError):
    code = "identity_mismatch"
    status = 409

    def __init__(self, permit_id: UUID, whose: tuple[str, str]) -> None:
        super().__init__(
            permit_id,
            f"NIK tidak cocok dengan {whose[0]}: jangan serahkan / "
            f"the NIK does not match {whose[1]}: do not hand over",
        )


class NikTailUnavailableError(PermitError):
    code = "nik_tail_unavailable"
    status = 409

    def __init__(self, permit_id: UUID) -> None:
        super().__init__(
            permit_id,
            "Izin ini tercatat sebelum pemeriksaan 6 digit: ketik NIK lengkap (16 angka) / "
            "this permit was recorded before 6-digit checks: type the whole NIK (16 digits)",
        )


_WHOSE = {
    Recipient.OWNER: ("pemilik izin", "the permit holder"),
    Recipient.DELEGATE: ("penerima kuasa", "the delegate"),
}
_ANYONE = ("pemilik maupun penerima kuasa", "the holder or any delegate")


def _refuse(verdict: Verdict, permit_id: UUID, whose: tuple[str, str]) -> PermitError:
    if verdict is Verdict.TAIL_UNAVAILABLE:
        return NikTailUnavailableError(permit_id)
    if verdict is Verdict.UNREADABLE:
        return InvalidInputError(
            permit_id, "NIK harus 16 angka atau 6 angka terakhir / NIK must be 16 or 6 digits"
        )
    return IdentityMismatchError(permit_id, whose)


def _checked(
    limiter: RateLimiter, lane: str, permit_id: UUID, found: Verdict, whose: tuple[str, str]
) -> None:
    if found is Verdict.MATCH:
        return
    if found is Verdict.MISMATCH:
        limiter.spend(Rule.WRONG_NIK, f"lane:{lane}", str(permit_id))
    raise _refuse(found, permit_id, whose)


def at_window(service: PermitService, permit_id: UUID, lane: str) -> None:
    """Refuse before any NIK is checked unless the permit waits at (or left from) this lane's
    window: the check tells nothing about other permits. The same errors as the handover."""
    permit = service.get(permit_id)
    if permit.status not in (PermitStatus.RELEASED, PermitStatus.HANDED_OVER):
        raise InvalidTransitionError(permit_id, "hand_over", permit.status.value, "released")
    if permit.lane != lane:
        raise ReleasedToAnotherLaneError(permit_id, permit.lane, lane)


def handover_identity(
    service: PermitService,
    limiter: RateLimiter,
    *,
    lane: str,
    permit_id: UUID,
    recipient: Recipient,
    delegate_id: str | None,
    given: IdentityIn,
) -> IdentityCheck:
    """The identity a window handover records, or the refusal (mismatch: 409, 429 when
    guessing). The chosen recipient's NIK is checked: the holder's or that delegate's."""
    if given.override_reason is not None:
        return IdentityCheck(IdentityMethod.OPERATOR_OVERRIDE, given.override_reason.strip())
    limiter.check(Rule.WRONG_NIK, f"lane:{lane}", str(permit_id))
    if recipient is Recipient.DELEGATE and delegate_id is None:
        raise DelegateNotAuthorisedError(permit_id, "Pilih penerima kuasa / choose the delegate")
    asked = delegate_id if recipient is Recipient.DELEGATE else None
    found = service.check_identity(permit_id, given.nik or "", asked)
    _checked(limiter, lane, permit_id, found, _WHOSE[recipient])
    return IdentityCheck(IdentityMethod.NIK_MATCH)


def pick_identity(
    service: PermitService, limiter: RateLimiter, *, lane: str, permit_id: UUID, given: IdentityIn
) -> tuple[IdentityCheck, Identified]:
    """The KTP check before a pick: whoever's NIK it is (holder or a delegate) is named."""
    if given.override_reason is not None:
        check = IdentityCheck(IdentityMethod.OPERATOR_OVERRIDE, given.override_reason.strip())
        return check, Identified(Verdict.MATCH)
    limiter.check(Rule.WRONG_NIK, f"lane:{lane}", str(permit_id))
    found = identify(service, permit_id, given.nik or "")
    _checked(limiter, lane, permit_id, found.verdict, _ANYONE)
    return IdentityCheck(IdentityMethod.NIK_MATCH), found
