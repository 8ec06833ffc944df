"""Bearer API keys and roles. Keys are compared by their SHA-256; none is stored in clear."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.rate_limit import RateLimiter, Rule, client_address
from api.settings import MIN_KEY_LENGTH, ApiKey, Role
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
    """The configured keys, looked up by digest in constant time per key; and the pages'
    sessions, which name a key without holding it."""

    def __init__(self, keys: Iterable[ApiKey], session_secret: bytes) -> None:
        self._keys = tuple(keys)
        self._secret = session_secret

    def caller(self, presented: str) -> Caller | None:
        return _caller_of(self._key(presented))

    def _key(self, presented: str) -> ApiKey | None:
        if len(presented) < MIN_KEY_LENGTH:
            return None  # whatever is configured: a short key is too easy to guess
        digest = ApiKey.digest(presented)
        found = None
        for key in self._keys:  # every key compared: the time tells nothing of which matched
            if hmac.compare_digest(key.sha256, digest):
                found = key
        return found

    def session(self, presented: str, now: float, seconds: int) -> str | None:
        """A session token for a valid key: when it ends, a MAC over that and the key's
        digest and role, and which key (the digest's first characters: cookie-safe, and no
        help in guessing a random key). A leaked token ends with the session and never
        reveals the key; removing or changing the key ends its sessions."""
        key = self._key(presented)
        if key is None:
            return None
        until = int(now) + seconds
        return f"{until}.{self._mac(key, until)}.{key.sha256[:_KEY_ID]}"

    def session_caller(self, token: str, now: float) -> Caller | None:
        """The caller a session token speaks for, while it lasts and its key is configured."""
        until_text, _, rest = token.partition(".")
        mac, _, key_id = rest.partition(".")
        if not until_text.isdigit() or int(until_text) <= now or len(key_id) != _KEY_ID:
            return None
        until = int(until_text)
        found = None
        for key in self._keys:
            if key.sha256.startswith(key_id) and hmac.compare_digest(self._mac(key, until), mac):
                found = key
        return _caller_of(found)

    def _mac(self, key: ApiKey, until: int) -> str:
        message = f"{key.sha256}|{key.role}|{until}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


_KEY_ID = 12


def _caller_of(key: ApiKey | None) -> Caller | None:
    return Caller(key.name, key.role, key.lanes) if key is not None else None


def session_secret(nik_key: str) -> bytes:
    """The pages' session signing key, derived from the site's secret so that sessions
    survive a restart and no second secret has to be configured."""
    return hmac.new(nik_key.encode(), b"drivethru page sessions", hashlib.sha256).digest()


_bearer = HTTPBearer(auto_error=False)

SESSION_COOKIE = "drivethru_session"
"""The pages' session: a signed token naming the key (`KeyRing.session`) in an HttpOnly,
SameSite=Strict cookie, because a browser's EventSource cannot send an Authorization header
(see docs/pages.md)."""


def limiter_of(request: Request) -> RateLimiter | None:
    runtime = getattr(request.app.state, "runtime", None)
    limiter = getattr(runtime, "limiter", None)
    return limiter if isinstance(limiter, RateLimiter) else None


def key_caller(request: Request, presented: str) -> Caller | None:
    """The caller a presented API key names; wrong keys are rate limited (429)."""
    keyring: KeyRing = request.app.state.keyring
    limiter, address = limiter_of(request), client_address(request)
    if limiter is not None:
        limiter.check(Rule.WRONG_KEYS, address, presented)
    caller = keyring.caller(presented)
    if caller is None and limiter is not None:
        limiter.spend(Rule.WRONG_KEYS, address, presented)
    return caller


def request_caller(request: Request, bearer: str | None) -> Caller | None:
    """The caller by its bearer key or, when no header is sent, by the pages' session."""
    keyring: KeyRing = request.app.state.keyring
    if bearer:
        return key_caller(request, bearer)
    token = request.cookies.get(SESSION_COOKIE)
    return keyring.session_caller(token, time.time()) if token else None


def current_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Caller:
    """The caller by its bearer key or, when no header is sent, by the pages' session cookie."""
    bearer = credentials.credentials if credentials else None
    if not bearer and not request.cookies.get(SESSION_COOKIE):
        raise AuthError("Perlu kunci API / an API key is required (Authorization: Bearer)")
    caller = request_caller(request, bearer)
    if caller is None:
        raise AuthError("Kunci API atau sesi tidak dikenal / unknown API key or session")
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
