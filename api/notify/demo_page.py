# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""`/demo/outbox`: the demo's notification outbox, so a newcomer sees the whole journey.

Only `drivethru demo` has it: the router is added to the app only when the service runs
with the demo's key (`api/app.py`), and the ``demo_outbox`` channel whose messages it lists
is refused outside the demo (`api/settings.py`). Each ready message shows its link; one
click opens the citizen's page.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import RuntimeDep
from api.notify.settings import DemoOutboxChannel
from api.pages.layout import L, e, message_page, page, respond, when
from core.contact import mask_email, mask_phone

router = APIRouter(include_in_schema=False)
_TYPES = {
    "permit.ready": ("Siap diambil", "Ready"),
    "permit.team_visit_scheduled": ("Jadwal tim keliling", "Mobile team visit"),
    "permit.waiting_at_window": ("Menunggu di jendela", "Waiting at the window"),
    "permit.expiring": ("Segera kedaluwarsa", "Expires soon"),
    "complaint.answered": ("Pengaduan dijawab", "Complaint answered"),
}


@router.get("/demo/outbox", response_model=None)
async def demo_outbox(request: Request, runtime: RuntimeDep) -> Response:
    """The messages the demo's notifier sent, newest first, with their links."""
    notifier = runtime.notifier
    channels = [c.key for c in runtime.settings.notify if isinstance(c, DemoOutboxChannel)]
    if notifier is None or not channels:
        return message_page(
            ("Tidak ada", "Not found"), ("Hanya di demo.", "Only in the demo."), 404
        )
    rows = await asyncio.to_thread(notifier.store.rows, channel=channels[0])
    items = []
    for row in rows:
        body = orjson.loads(row.body)
        link = body.get("link")
        # The link as the citizen gets it, opened here on this same server.
        opened = urlparse(link).path if link else None
        open_link = (
            f'<a class="button primary" href="{e(opened)}" target="_blank" rel="noopener">{L("Buka halaman warga", "Open the citizen page")}</a>'
            f'<p class="muted code-link">{e(link)}</p>'
            if opened
            else ""
        )
        contact = body.get("contact") or {}
        # Masked here too: the contact is personal data on every page, the demo's included.
        phone, email = contact.get("phone"), contact.get("email")
        masked = [mask_phone(phone)] if isinstance(phone, str) else []
        if isinstance(email, str):
            masked.append(mask_email(email))
        to = " · ".join(masked)
        items.append(f"""
<li class="card outbox-message" data-type="{e(body["type"])}">
  <p class="eyebrow">{L(*_TYPES.get(body["type"], (body["type"], body["type"])))} · {e(body["permit"]["number"])} · {when(body["at"], runtime.settings.zone)}</p>
  <p>{L("Kepada", "To")}: {e(to)} ({e(contact.get("lang", "id"))})</p>
  <pre class="message-text">{e(body["text"])}</pre>
  {open_link}
</li>""")
    empty = f'<p class="muted">{L("Belum ada pesan.", "No messages yet.")}</p>' if not items else ""
    body_html = f"""
<section class="card">
  <h1>{L("Kotak keluar pemberitahuan (demo)", "Notification outbox (demo)")}</h1>
  <p class="muted">{L("Yang akan dikirim ke warga lewat WhatsApp/SMS/e-mail. Hanya di demo.", "What citizens would get by WhatsApp/SMS/e-mail. Demo only.")}</p>
  {empty}
</section>
<ol class="outbox">{"".join(items)}</ol>"""
    return respond(page(("Kotak keluar (demo)", "Outbox (demo)"), body_html))
