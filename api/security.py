"""Bearer API keys and roles. Keys are compared by their SHA-256; none is stored in clear."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.settings import ApiKey, Role
from core.errors import DrivethruError


class AuthError(DrivethruError):
    code = "unauthorised"
    status = 401


class ForbiddenError(DrivethruError):
    code = "forbidden"
    status = 403


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's name, its role and, for operators, its lanes."""

    name: str
    role: Role
    lanes: tuple[str, ...]

    def may_work_lane(self, lane: str) -> bool:
        return self.role == "admin" or (self.role == "operator" and lane in self.lanes)


class KeyRing:
    """The configured keys, looked up by digest in constant time per key."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = tuple(keys)

    def caller(self, presented: str) -> Caller | None:
        digest = ApiKey.digest(presented)
        found = None
        for key in self._keys:
            if hmac.compare_digest(key.sha256, digest):
                found = key
        return Caller(found.name, found.role, found.lanes) if found else None


_bearer = HTTPBearer(auto_error=False)

SESSION_COOKIE = "drivethru_key"
"""The pages' session: the API key itself in an HttpOnly, SameSite=Strict cookie, because a
browser's EventSource cannot send an Authorization header (see docs/pages.md)."""


def current_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Caller:
    """The caller by its bearer key or, when no header is sent, by the pages' session cookie."""
    presented = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE)
    if not presented:
        raise AuthError("Perlu kunci API / an API key is required (Authorization: Bearer)")
    keyring: KeyRing = request.app.state.keyring
    caller = keyring.caller(presented)
    if caller is None:
        raise AuthError("Kunci API tidak dikenal / unknown API key")
    return caller


def require(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency that lets only ``roles`` (and admin) through."""
    allowed = {*roles, "admin"}

    def check(caller: Caller = Depends(current_caller)) -> Caller:  # noqa: B008
        if caller.role not in allowed:
            raise ForbiddenError(
                f"Peran {caller.role} tidak boleh / role {caller.role} may not do this "
                f"(perlu / needs: {', '.join(sorted(allowed))})"
            )
        return caller

    return check
