# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""The page shell every page shares, bilingual labels and the security headers."""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse

# No inline script or style anywhere: a strict policy keeps an injected tag inert.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    # The citizen's page URL holds the pickup code: never send it on as a Referer.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def e(value: object) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def L(indonesian: str, english: str) -> str:  # noqa: N802 - reads like a label in templates
    """A label in both languages; CSS shows the one chosen (Bahasa Indonesia first)."""
    return f'<span class="l-id">{e(indonesian)}</span><span class="l-en">{e(english)}</span>'


def when(iso: str | None, zone: tzinfo = UTC) -> str:
    """A timestamp as ``<time>`` on the site's clock (``zone``), named by its zone (WIB,
    WITA, WIT): the pickup happens there, whatever the reader's device is set to.
    static/lang.js rewrites the text in the reader's language, on the same clock."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return e(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    name = local.tzname() or "UTC"
    shown = f"{local.strftime('%d/%m/%Y %H.%M')} {name}"
    key = (
        f' data-zone="{e(zone.key)}" data-zone-name="{e(name)}"'
        if isinstance(zone, ZoneInfo)
        else ""
    )
    return f'<time datetime="{e(moment.isoformat())}"{key}>{e(shown)}</time>'


def page(
    title: tuple[str, str],
    body: str,
    *,
    scripts: Iterable[str] = (),
    body_class: str = "",
    nav: str = "",
    data: dict[str, str] | None = None,
) -> str:
    """A whole HTML document; ``data`` becomes ``data-*`` attributes on ``<body>`` for scripts."""
    attrs = "".join(f' data-{e(k)}="{e(v)}"' for k, v in (data or {}).items())
    tags = "".join(f'<script src="/static/{e(s)}" defer></script>' for s in scripts)
    return f"""<!doctype html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{e(title[0])} · {e(title[1])} — drivethru</title>
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">
<script src="/static/lang.js"></script>
{tags}
</head>
<body class="{e(body_class)}"{attrs}>
<header class="top">
  <a class="brand" href="/">drivethru <small>{L("Ambil izin dari mobil", "Drive-through permits")}</small></a>
  <nav>{nav}</nav>
  <button type="button" class="lang-switch" id="lang-switch" aria-pressed="false">
    <span class="l-id">English</span><span class="l-en">Bahasa Indonesia</span>
  </button>
</header>
<main id="main">
{body}
</main>
<footer class="foot">{L("KANDA DINDA — Kami Ada Untuk Anda", "KANDA DINDA — We are here for you")}</footer>
</body>
</html>
"""


def staff_nav(role: str) -> str:
    """Links for signed-in staff, and the sign-out form (a POST, so a link cannot do it)."""
    links = []
    if role in ("officer", "admin"):
        links.append(f'<a href="/office">{L("Kantor", "Office")}</a>')
        links.append(f'<a href="/dashboard">{L("Dasbor", "Dashboard")}</a>')
        links.append(f'<a href="/office/complaints">{L("Pengaduan", "Complaints")}</a>')
    if role in ("operator", "officer", "admin"):
        links.append(f'<a href="/runner">{L("Ambil sekarang", "Fetch now")}</a>')
    links.append(
        f'<form method="post" action="/logout" class="inline">'
        f'<button type="submit" class="link">{L("Keluar", "Sign out")}</button></form>'
    )
    return "".join(links)


def respond(document: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(document, status_code=status, headers=SECURITY_HEADERS)


def message_page(title: tuple[str, str], text: tuple[str, str], status: int) -> HTMLResponse:
    """A short page for an error or a notice, in both languages."""
    body = f'<section class="card notice"><h1>{L(*title)}</h1><p>{L(*text)}</p></section>'
    return respond(page(title, body), status)
