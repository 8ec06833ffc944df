"""One place that turns our errors into HTTP answers: a code and a bilingual message."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Route

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


class Problem(BaseModel):
    where: str
    problem: str


class ErrorDetail(BaseModel):
    code: str
    """Machine-readable: ``invalid_transition``, ``forbidden``, ``rate_limited``, ..."""
    message: str
    """Bahasa Indonesia / English."""
    message_id: str
    message_en: str
    reason: str | None = None
    problems: list[Problem] | None = None
    """For ``invalid_request``: each field that was refused and why."""


class ErrorOut(BaseModel):
    """Every error answer has this shape."""

    error: ErrorDetail


_MEANINGS = {
    400: "Badan permintaan atau kode tidak terbaca / unreadable body or malformed code",
    401: "Perlu kunci API yang dikenal / a known API key is required",
    403: "Peran atau jalur tidak boleh / role or lane not allowed",
    404: "Tidak ditemukan / not found",
    409: "Tidak cocok dengan keadaan izin / conflicts with the permit's state",
    422: "Data tidak sah / invalid data",
    429: "Terlalu banyak percobaan / too many attempts (see Retry-After)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` for these error statuses, all with the error shape."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorOut, "description": _MEANINGS[status]}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {
                    "description": "Detik menunggu / seconds to wait",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        documented[status] = entry
    return documented


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


def _methods_at(request: Request) -> list[str]:
    """The methods the routes at this request's path answer (HEAD goes with GET)."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.path_regex.match(request.url.path):
            methods |= set(route.methods or ()) - {"HEAD"}
    return sorted(methods)


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

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        # The framework's own refusals (an unreadable body, no such route, a method not
        # allowed) in the same shape as ours.
        detail = error.detail if isinstance(error.detail, str) else "HTTP error"
        code = {400: "unreadable_body", 404: "not_found", 405: "method_not_allowed"}.get(
            error.status_code, "http_error"
        )
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # The router names only the first route that matched the path; a path with a
            # GET and a POST route allows both.
            headers["Allow"] = ", ".join(_methods_at(request))
        return JSONResponse(
            error_body(code, detail), status_code=error.status_code, headers=headers
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
