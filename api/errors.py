"""One place that turns our errors into HTTP answers: a code and a bilingual message."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from core.errors import (
    AlreadyHandedOverError,
    CodeRefusedError,
    ConcurrentChangeError,
    ContractError,
    DelegateNotAuthorisedError,
    DrivethruError,
    IdentityNotCheckedError,
    InvalidInputError,
    InvalidTransitionError,
    PermitNotFoundError,
    PickupCodeError,
    PlateError,
    ReleasedToAnotherLaneError,
)

_STATUS: tuple[tuple[type[DrivethruError], int], ...] = (
    (PermitNotFoundError, 404),
    (AlreadyHandedOverError, 409),
    (ReleasedToAnotherLaneError, 409),
    (InvalidTransitionError, 409),
    (ConcurrentChangeError, 409),
    (CodeRefusedError, 403),
    (DelegateNotAuthorisedError, 403),
    (IdentityNotCheckedError, 422),
    (InvalidInputError, 422),
    (PlateError, 422),
    (PickupCodeError, 400),
    (ContractError, 400),
)


def status_of(error: DrivethruError) -> int:
    explicit = getattr(error, "status", None)
    if isinstance(explicit, int):
        return explicit
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 400


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    indonesian, _, english = message.partition(" / ")
    return {
        "error": {
            "code": code,
            "message": message,
            "message_id": indonesian,
            "message_en": english or indonesian,
            **extra,
        }
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DrivethruError)
    async def domain_error(_request: Request, error: DrivethruError) -> JSONResponse:
        extra: dict[str, object] = {}
        reason = getattr(error, "reason", None)
        if isinstance(reason, str):
            extra["reason"] = reason
        retry_after = getattr(error, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int) else None
        return JSONResponse(
            error_body(error.code, error.message, **extra),
            status_code=status_of(error),
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in item["loc"]), "problem": item["msg"]}
            for item in error.errors()
        ]
        return JSONResponse(
            error_body(
                "invalid_request",
                "Permintaan tidak sah / invalid request",
                problems=problems,
            ),
            status_code=422,
        )
