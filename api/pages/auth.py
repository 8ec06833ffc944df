"""Signing in for the pages: a signed session token (never the API key itself) goes into an
HttpOnly, SameSite=Strict cookie for a working day."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.pages.layout import SECURITY_HEADERS, L, e, message_page, page, respond
from api.security import SESSION_COOKIE, Caller, KeyRing, key_caller, request_caller
from api.settings import Role

router = APIRouter(include_in_schema=False)
SESSION_SECONDS = 12 * 3600  # one working day; the token ends then, the key does not


def _safe_next(target: str | None) -> str:
    """Only a path on this server: an open redirect would lend our name to a phishing link."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/office"
    return target


def _caller(request: Request) -> Caller | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" and token else None
    return request_caller(request, bearer)


def page_caller(request: Request, *roles: Role, lane: str | None = None) -> Caller | Response:
    """The signed-in caller if allowed here; otherwise the login redirect or a 403 page."""
    caller = _caller(request)
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    allowed = caller.role == "admin" or caller.role in roles
    if lane is not None and caller.role == "operator" and lane not in caller.lanes:
        allowed = False
    if not allowed:
        return message_page(
            ("Tidak diizinkan", "Not allowed"),
            (
                f"Peran {caller.role} tidak boleh membuka halaman ini.",
                f"Role {caller.role} may not open this page.",
            ),
            403,
        )
    return caller


def _login_form(target: str, failed: bool) -> HTMLResponse:
    error = (
        f'<p class="alert error" role="alert">{L("Kunci tidak dikenal.", "Unknown key.")}</p>'
        if failed
        else ""
    )
    body = f"""
<section class="card narrow">
  <h1>{L("Masuk petugas", "Staff sign-in")}</h1>
  <p class="muted">{
        L(
            "Masukkan kunci API Anda. Warga tidak perlu masuk: tautan status sudah cukup.",
            "Enter your API key. Citizens need no sign-in: the status link is enough.",
        )
    }
  </p>
  {error}
  <form method="post" action="/login" class="stack">
    <input type="hidden" name="next" value="{e(target)}">
    <label for="key">{L("Kunci API", "API key")}</label>
    <input id="key" name="key" type="password" autocomplete="current-password" required
           autofocus>
    <button type="submit" class="primary big">{L("Masuk", "Sign in")}</button>
  </form>
</section>"""
    return respond(page(("Masuk", "Sign in"), body), 401 if failed else 200)


@router.get("/login")
async def login_page(next: str | None = None) -> HTMLResponse:
    return _login_form(_safe_next(next), failed=False)


@router.post("/login")
async def login(request: Request) -> Response:
    # A form body parsed by hand: python-multipart is not a dependency of ours.
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=4)
    key = (fields.get("key") or [""])[0].strip()
    target = _safe_next((fields.get("next") or [""])[0])
    caller = key_caller(request, key) if key else None
    if caller is None:
        return _login_form(target, failed=True)
    if caller.role == "operator" and target == "/office" and caller.lanes:
        target = f"/lanes/{caller.lanes[0]}/console"
    return _signed_in(request, key, target)


def _signed_in(request: Request, key: str, target: str) -> Response:
    """Redirect to ``target`` with a session cookie for ``key`` (a key the keyring knows)."""
    keyring: KeyRing = request.app.state.keyring
    token = keyring.session(key, time.time(), SESSION_SECONDS)
    answer = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    if token is not None:
        answer.set_cookie(
            SESSION_COOKIE, token, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
            secure=request.url.scheme == "https", path="/",
        )  # fmt: skip
    return answer


@router.get("/demo/login/{role}")
async def demo_login(role: str, request: Request, next: str | None = None) -> Response:
    """Demo only: sign in as the demo's operator, officer or admin with one click."""
    logins = request.app.state.runtime.settings.demo_logins
    key = logins.get(role)
    if key is None:
        return message_page(
            ("Tidak ada", "Not found"), ("Hanya di demo.", "Only in the demo."), 404
        )
    return _signed_in(request, key.get_secret_value(), _safe_next(next))


@router.post("/logout")
async def logout() -> Response:
    answer = RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer


@router.get("/")
async def home(request: Request) -> Response:
    """Staff land on their page; everyone else on the sign-in form."""
    caller = _caller(request)
    if caller is None:
        return RedirectResponse("/login", status_code=303)
    if caller.role == "operator" and caller.lanes:
        return RedirectResponse(f"/lanes/{caller.lanes[0]}/console", status_code=303)
    return RedirectResponse("/office", status_code=303)
