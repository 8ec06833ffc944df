# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""The citizen's contact on ``/p/{code}``: shown masked, changed with the holder's own code.

The contact is personal data: the page never shows it whole, not even to the code's holder
(a shared screen, a forwarded link), and a change is a `ContactRecorded` event.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import RuntimeDep
from api.pages.layout import L, e, message_page
from api.rate_limit import Rule, client_address
from api.runtime import Runtime
from core.codes import PickupCode
from core.contact import Contact
from core.errors import DrivethruError
from projections import queries

router = APIRouter(include_in_schema=False)
_OPEN = frozenset({"submitted", "documents_verified", "correction_requested", "fee_assessed",
                   "fee_paid", "approved", "printed", "ready", "released", "expired"})  # fmt: skip


async def masked_contact(runtime: Runtime, permit_id: str) -> str | None:
    """The permit's contact as a page may show it, or None."""
    contact = await asyncio.to_thread(runtime.service.contact_of, UUID(permit_id))
    return contact.masked if contact is not None else None


async def contact_block(
    runtime: Runtime, code: str, permit_id: str, status: str, owner: bool, notice: str = ""
) -> str:
    """The contact card: masked, with a form to change it for the holder's own code."""
    shown = await masked_contact(runtime, permit_id)
    current = (
        f'<p id="contact-now">{L("Pemberitahuan dikirim ke", "Notifications go to")}: <strong>{e(shown)}</strong></p>'
        if shown
        else f'<p id="contact-now" class="muted">{L("Belum ada kontak untuk pemberitahuan.", "No contact for notifications yet.")}</p>'
    )
    form = ""
    if owner and status in _OPEN:
        form = f"""
  <details>
    <summary>{L("Ubah kontak", "Change the contact")}</summary>
    <form method="post" action="/p/{e(code)}/contact" class="stack">
      <label for="c-phone">{L("Nomor HP (+62…)", "Mobile number (+62…)")}</label>
      <input id="c-phone" name="phone" inputmode="tel" maxlength="20" autocomplete="off" placeholder="+62812…">
      <label for="c-email">E-mail</label>
      <input id="c-email" name="email" type="email" maxlength="254" autocomplete="off">
      <fieldset class="lang-choice"><legend>{L("Bahasa pesan", "Language of the messages")}</legend>
        <label><input type="radio" name="lang" value="id" checked> Bahasa Indonesia</label>
        <label><input type="radio" name="lang" value="en"> Bahasa Indonesia + English</label>
      </fieldset>
      <button type="submit" class="primary">{L("Simpan kontak", "Save the contact")}</button>
    </form>
  </details>"""
    return f'<section class="card" id="contact"><h2>{L("Kontak", "Contact")}</h2>{notice}{current}{form}</section>'


@router.post("/p/{code}/contact", response_model=None)
async def change_contact(code: str, request: Request, runtime: RuntimeDep) -> Response:
    """The holder's own code changes where notifications go (post/redirect/get)."""
    runtime.limiter.take(Rule.FORMS, client_address(request), code)
    try:
        parsed = PickupCode.parse(code)
    except DrivethruError:
        parsed = None
    conn = runtime.read_models.conn
    found = await queries.code(conn, parsed.sha256) if parsed else None
    if parsed is None or found is None:
        return message_page(("Kode tidak dikenal", "Unknown code"),
                            ("Periksa tautan dari petugas.", "Check the link the officer gave you."), 404)  # fmt: skip
    if found.recipient != "owner" or not found.active:
        return message_page(("Tidak bisa", "Not possible"),
                            ("Hanya kode pemilik yang berlaku dapat mengubah kontak.",
                             "Only the holder's valid code can change the contact."), 403)  # fmt: skip
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=8)
    form = {k: v[0] for k, v in fields.items()}
    try:
        contact = Contact.parse(form.get("phone"), form.get("email"), form.get("lang", "id"))
        await asyncio.to_thread(runtime.service.record_contact, UUID(found.permit_id), contact)
    except DrivethruError as refused:
        return message_page(
            ("Kontak ditolak", "Contact refused"), (refused.message, refused.message), 422
        )
    return RedirectResponse(f"/p/{parsed.text}#contact", status_code=303)
