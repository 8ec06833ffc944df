# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""The citizen's status page at ``/p/{code}``: HTML for browsers, the JSON API otherwise.

The pickup code in the path is the credential: no login. It is shown back only on this page
(the QR) and never logged; the page is sent with ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, tzinfo
from urllib.parse import parse_qs
from uuid import UUID

import segno
from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.code_lookup import code_and_permit
from api.deps import RuntimeDep
from api.notify.contact_page import contact_block
from api.pages.complaints import answer_block
from api.pages.here import here_block
from api.pages.labels import EVENTS, event_detail, event_label, rupiah, status_label
from api.pages.layout import L, e, message_page, page, respond, when
from api.rate_limit import Rule, client_address
from api.routes.citizen import status_by_code
from api.runtime import Runtime
from core.codes import PickupCode
from core.errors import DrivethruError
from core.plates import display_plate
from projections import queries

router = APIRouter(include_in_schema=False)


def qr_svg(code: str) -> str:
    """The pickup QR as inline SVG; big modules read best through a car window."""
    return segno.make(code, error="m").svg_inline(
        scale=10, border=4, dark="#000", light="#fff", omitsize=True
    )


def _wants_html(request: Request, format: str | None) -> bool:
    return format != "json" and "text/html" in request.headers.get("accept", "")


async def _lookup(
    runtime: Runtime, code: str
) -> tuple[PickupCode, queries.CodeRow, queries.PermitRow] | None:
    try:
        parsed = PickupCode.parse(code)
    except DrivethruError:
        return None
    rows = await code_and_permit(runtime, parsed.sha256)
    return (parsed, *rows) if rows is not None else None


def _unknown() -> Response:
    return message_page(
        ("Kode tidak dikenal", "Unknown code"),
        (
            "Periksa tautan dari petugas, atau hubungi Mal Pelayanan Publik.",
            "Check the link the officer gave you, or contact the public service mall.",
        ),
        404,
    )


@router.get("/p/{code}", response_model=None)
async def status_page(
    code: str,
    request: Request,
    runtime: RuntimeDep,
    format: str | None = None,
) -> Response:
    """The status page for a browser; API clients keep getting the JSON document."""
    if not _wants_html(request, format):
        return JSONResponse(jsonable_encoder(await status_by_code(code, request, runtime)))
    address = client_address(request)
    runtime.limiter.check(Rule.WRONG_CODES, address, code)
    found = await _lookup(runtime, code)
    if found is None:
        runtime.limiter.spend(Rule.WRONG_CODES, address, code)
        return _unknown()
    return await _render(request, runtime, *found)


async def _render(
    request: Request,
    runtime: Runtime,
    parsed: PickupCode,
    code_row: queries.CodeRow,
    permit: queries.PermitRow,
    notice: str = "",
) -> Response:
    timeline = await queries.timeline(runtime.read_models.conn, permit.id)
    parts = [notice, _summary(permit, code_row)]
    parts.append(_needs(permit, timeline))
    live = code_row.active and permit.status in ("ready", "released")
    if live:
        parts.append(_pickup(runtime, parsed.text, permit))
        parts.append(await here_block(runtime, parsed.text, permit.status, team=permit.team))
    if live and code_row.recipient == "owner":
        parts.append(_delegate_form(parsed.text))
    owner = code_row.active and code_row.recipient == "owner"
    parts.append(await contact_block(runtime, parsed.text, permit.id, permit.status, owner))
    if permit.status == "handed_over":
        parts.append(await _feedback_block(runtime, parsed.text, permit.id))
        parts.append(await answer_block(runtime, permit.id))
    parts.append(_timeline(timeline, runtime.settings.zone))
    return respond(page(("Status izin", "Permit status"), "\n".join(parts), body_class="citizen"))


def _summary(permit: queries.PermitRow, code_row: queries.CodeRow) -> str:
    stale = ""
    if not code_row.active and permit.status in ("ready", "released"):
        stale = (
            '<p class="alert error" role="alert">'
            + L("Kode ini tidak berlaku lagi. Minta kode baru ke petugas.",
                "This code no longer works. Ask an officer for a new one.")
            + "</p>"
        )  # fmt: skip
    if permit.status == "expired":
        stale = (
            '<p class="alert error" role="alert">'
            + L("Izin tidak diambil tepat waktu atau kodenya kedaluwarsa. Minta kode baru ke petugas.",
                "The permit was not collected in time or its code expired. Ask an officer for a new code.")
            + "</p>"
        )  # fmt: skip
    who = (
        f'<p class="muted">{L("Kode untuk kuasa pengambilan", "Code for the delegate")}</p>'
        if code_row.recipient == "delegate"
        else ""
    )
    return f"""
<section class="card summary">
  <p class="eyebrow">{e(permit.kind)} · {e(permit.number)}</p>
  <h1 class="status status-{e(permit.status)}" id="status">{status_label(permit.status)}</h1>
  <p>{L("Atas nama", "Holder")}: <strong>{e(permit.holder)}</strong></p>
  {who}{stale}
</section>"""


def _needs(permit: queries.PermitRow, timeline: list[queries.TimelineEntry]) -> str:
    if permit.status == "fee_assessed":
        text = L(f"Bayar retribusi {rupiah(permit.fee_rupiah)} melalui Retribusi Online.",
                 f"Pay the fee of {rupiah(permit.fee_rupiah)} through Retribusi Online.")  # fmt: skip
    elif permit.status == "correction_requested":
        reasons = [t.detail.get("reason") for t in timeline
                   if t.event == "CorrectionRequested" and t.detail]  # fmt: skip
        reason = e(reasons[-1]) if reasons else ""
        text = L("Perbaiki berkas Anda:", "Please correct your documents:") + f" {reason}"
    else:
        return ""
    return f'<section class="card needs" role="status"><h2>{L("Yang masih perlu", "Still needed")}</h2><p>{text}</p></section>'


def _pickup(runtime: Runtime, code: str, permit: queries.PermitRow) -> str:
    lanes = "".join(
        f"<li>{L(f'Jalur {x.lane} — Jendela {x.window}', f'Lane {x.lane} — Window {x.window}')}</li>"
        for x in runtime.settings.lanes
    )
    plate = (
        f"<p>{L('Kamera juga mengenali pelat', 'The camera also knows the plate')} "
        f'<strong class="plate">{e(display_plate(permit.plate))}</strong></p>'
        if permit.plate
        else ""
    )
    team = (
        '<p class="alert ok" role="status">'
        + L(
            f"Siap diambil dari tim keliling {permit.team} di {permit.team_place or ''}, "
            f"tanggal {permit.team_date or ''}.",
            f"Ready with mobile team {permit.team} at {permit.team_place or ''}, "
            f"on {permit.team_date or ''}.",
        )
        + "</p>"
        if permit.team and permit.status == "ready"
        else ""
    )
    at_window = (
        f'<p class="alert ok" role="status">'
        f"{L(f'Izin Anda sudah di Jendela {permit.window}. Silakan maju.', f'Your permit is at window {permit.window}. Please drive up.')}</p>"
        if permit.status == "released"
        else ""
    )
    return f"""
<section class="card pickup">
  <h2>{L("Tunjukkan QR ini ke kamera jendela", "Hold this QR up to the window camera")}</h2>
  {team}
  {at_window}
  <div class="qr" role="img" aria-label="QR">{qr_svg(code)}</div>
  <p class="muted">{L("Bawa KTP asli. Jangan bagikan QR ini.", "Bring your original KTP. Do not share this QR.")}</p>
  <h3>{e(runtime.settings.site_name)}</h3>
  <ul class="lanes">{lanes}</ul>
  {_opening(runtime)}
  {plate}
</section>"""


def _opening(runtime: Runtime) -> str:
    """Open now or not, on the site's clock, and the week's hours."""
    settings = runtime.settings
    hours, zone = settings.opening_hours, settings.zone
    now = runtime.service.clock()
    state = hours.now(now, zone)
    cls = "ok" if state.open else "warn"
    return (
        f'<p class="alert {cls} opening" role="status">{L(*state.said(now.astimezone(zone).date()))}</p>'
        f'<p class="muted">{L("Jam buka", "Opening hours")}: {L(*hours.weekly())}</p>'
    )


def _delegate_form(code: str) -> str:
    return f"""
<section class="card">
  <details>
    <summary>{L("Tidak bisa datang? Beri kuasa pengambilan", "Cannot come? Authorise a delegate")}</summary>
    <form method="post" action="/p/{e(code)}/delegate" class="stack">
      <label for="d-name">{L("Nama kuasa", "Delegate's name")}</label>
      <input id="d-name" name="name" required maxlength="120" autocomplete="off">
      <label for="d-nik">{L("NIK kuasa (16 angka)", "Delegate's NIK (16 digits)")}</label>
      <input id="d-nik" name="nik" required inputmode="numeric" pattern="[0-9]{{16}}" maxlength="16" autocomplete="off">
      <label for="d-until">{L("Berlaku sampai", "Valid until")}</label>
      <input id="d-until" name="until" type="date" required>
      <button type="submit" class="primary">{L("Buat kode kuasa", "Create the delegate's code")}</button>
      <p class="muted">{L("Kuasa membawa KTP-nya sendiri dan surat kuasa.", "The delegate brings their own KTP and the letter of authority.")}</p>
    </form>
  </details>
</section>"""


async def _feedback_block(runtime: Runtime, code: str, permit_id: str) -> str:
    given = await runtime.feedback.of(permit_id)
    if given is not None:
        return (f'<section class="card" id="feedback"><h2>{L("Terima kasih!", "Thank you!")}</h2>'
                f'<p>{L("Nilai Anda", "Your rating")}: <strong>{given.rating} / 5</strong></p></section>')  # fmt: skip
    stars = "".join(
        f'<label class="star"><input type="radio" name="rating" value="{n}" required>'
        f"<span>{n}</span></label>"
        for n in range(1, 6)
    )
    return f"""
<section class="card" id="feedback">
  <h2>{L("Bagaimana layanan kami?", "How was our service?")}</h2>
  <form method="post" action="/p/{e(code)}/feedback" class="stack">
    <fieldset class="stars"><legend>{L("Nilai 1 (buruk) sampai 5 (baik sekali)", "Rate 1 (poor) to 5 (excellent)")}</legend>{stars}</fieldset>
    <label for="complaint">{L("Saran atau pengaduan (boleh kosong)", "Suggestion or complaint (optional)")}</label>
    <textarea id="complaint" name="complaint" maxlength="1000" rows="3"></textarea>
    <button type="submit" class="primary">{L("Kirim", "Send")}</button>
  </form>
</section>"""


def _timeline(timeline: list[queries.TimelineEntry], zone: tzinfo) -> str:
    items = "".join(
        f'<li><span class="when">{when(t.at, zone)}</span> <strong>{event_label(t.event)}</strong> '
        f'<span class="detail">{event_detail(t.event, t.detail)}</span></li>'
        for t in timeline
        if t.event in EVENTS and t.event != "HandoverConflictRecorded"
    )
    return f'<section class="card"><h2>{L("Riwayat", "Timeline")}</h2><ol class="timeline">{items}</ol></section>'


async def _form(request: Request) -> dict[str, str]:
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=8)
    return {k: v[0] for k, v in fields.items()}


@router.post("/p/{code}/delegate", response_model=None)
async def authorise_delegate(code: str, request: Request, runtime: RuntimeDep) -> Response:
    """The holder's own code authorises a delegate; the delegate's code is shown once."""
    runtime.limiter.take(Rule.FORMS, client_address(request), code)
    found = await _lookup(runtime, code)
    if found is None:
        return _unknown()
    parsed, code_row, permit = found
    if code_row.recipient != "owner" or not code_row.active:
        return message_page(("Tidak bisa", "Not possible"),
                            ("Hanya kode pemilik yang berlaku dapat memberi kuasa.",
                             "Only the holder's valid code can authorise a delegate."), 403)  # fmt: skip
    form = await _form(request)
    try:
        until = datetime.combine(
            datetime.fromisoformat(form.get("until", "")).date(), time(23, 59), UTC
        )
        # The event store is synchronous: keep it off the event loop.
        issued = await asyncio.to_thread(
            runtime.service.authorise_delegate,
            UUID(permit.id), name=form.get("name", "").strip()[:120],
            nik=form.get("nik", "").strip(), expires_at=until,
        )  # fmt: skip
    except (ValueError, DrivethruError) as refused:
        notice = (
            f'<p class="alert error" role="alert">{L("Kuasa ditolak", "Refused")}: {e(refused)}</p>'
        )
        return await _render(request, runtime, parsed, code_row, permit, notice)
    link = f"{request.base_url}p/{issued.code}"
    body = f"""
<section class="card pickup">
  <h1>{L("Kode kuasa dibuat", "Delegate's code created")}</h1>
  <p>{L("Kirim tautan ini kepada kuasa. Hanya ditampilkan sekali.", "Send this link to the delegate. It is shown only once.")}</p>
  <p class="code-link"><a href="/p/{e(issued.code)}">{e(link)}</a></p>
  <div class="qr" role="img" aria-label="QR">{qr_svg(issued.code)}</div>
  <p>{L("Berlaku sampai", "Valid until")} {when(issued.expires_at.isoformat(), runtime.settings.zone)}</p>
  <p><a class="button" href="/p/{e(parsed.text)}">{L("Kembali ke status", "Back to the status")}</a></p>
</section>"""
    return respond(page(("Kode kuasa", "Delegate's code"), body, body_class="citizen"))


@router.post("/p/{code}/feedback", response_model=None)
async def give_feedback(code: str, request: Request, runtime: RuntimeDep) -> Response:
    runtime.limiter.take(Rule.FORMS, client_address(request), code)
    found = await _lookup(runtime, code)
    if found is None:
        return _unknown()
    parsed, code_row, permit = found
    form = await _form(request)
    rating = form.get("rating", "")
    if permit.status != "handed_over" or rating not in {"1", "2", "3", "4", "5"}:
        notice = f'<p class="alert error" role="alert">{L("Pilih nilai 1–5.", "Choose a rating 1–5.")}</p>'
        return await _render(request, runtime, parsed, code_row, permit, notice)
    await runtime.feedback.record(permit.id, int(rating), form.get("complaint", ""))
    # Post/redirect/get: a reload must not send the rating again.
    return RedirectResponse(f"/p/{parsed.text}#feedback", status_code=303)
