# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""The back office: applications by stage, their lifecycle actions, the runner's fetch list
and the handover conflicts. Actions call the JSON API from static/office.js."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import OfficerDep, RuntimeDep
from api.pages.auth import page_caller
from api.pages.citizen import qr_svg
from api.pages.data import ACTIVE, active_permits
from api.pages.history import history_button, history_dialog
from api.pages.labels import STATUS, rupiah, status_label
from api.pages.layout import L, e, page, respond, staff_nav, when
from api.security import Caller
from core.codes import PickupCode
from core.plates import display_plate
from projections import queries
from projections.queries import PermitRow

router = APIRouter(include_in_schema=False)
TABS = ("active", *ACTIVE, "handed_over", "rejected", "cancelled", "expired")


def _field(name: str, label: tuple[str, str], kind: str = "text", extra: str = "") -> str:
    return (f'<label class="field"><span>{L(*label)}</span>'
            f'<input name="{name}" type="{kind}" required {extra}></label>')  # fmt: skip


def _form(action: str, button: tuple[str, str], fields: str = "", cls: str = "primary") -> str:
    return (f'<form class="act" data-action="{action}">{fields}'
            f'<button type="submit" class="{cls}">{L(*button)}</button></form>')  # fmt: skip


REASON = _field("reason", ("Alasan", "Reason"), extra='maxlength="500"')
NEXT: dict[str, str] = {
    "submitted": _form("verify", ("Verifikasi berkas", "Verify documents")),
    "correction_requested": _form("verify", ("Verifikasi berkas", "Verify documents")),
    "documents_verified": _form("fee", ("Tetapkan retribusi", "Assess fee"),
                                _field("amount_rupiah", ("Rp", "Rp"), "number", 'min="0"')),
    "fee_assessed": _form("payment", ("Catat pembayaran", "Record payment"),
                          _field("reference", ("No. bayar", "Payment ref."), extra='maxlength="80"')
                          + _field("amount_rupiah", ("Rp", "Rp"), "number", 'min="0"')),
    "fee_paid": _form("approve", ("Setujui", "Approve")),
    "approved": _form("print", ("Cetak", "Print")),
    "printed": _form("stage", ("Simpan di rak & buat kode", "Stage & issue code"),
                     _field("slot", ("Rak", "Slot"), extra='maxlength="32" placeholder="R1-01"')),
    # Not collected in time, or its code ran out: a new code makes it READY again.
    "expired": _form("reissue", ("Terbitkan kode baru", "Issue a new code"), REASON),
}  # fmt: skip
MORE: dict[str, list[str]] = {
    "submitted": [_form("correction", ("Minta perbaikan", "Request correction"), REASON, "secondary")],
    "fee_paid": [_form("reject", ("Tolak", "Reject"), REASON, "warn")],
    "ready": [
        _form("reissue", ("Ganti kode", "Reissue code"), REASON, "secondary"),
        _form("delegates", ("Catat kuasa", "Authorise delegate"),
              _field("name", ("Nama", "Name"), extra='maxlength="120"')
              + _field("nik", ("NIK", "NIK"), extra='pattern="[0-9]{16}" inputmode="numeric"')
              + _field("expires", ("Sampai", "Until"), "date"), "secondary"),
        _form("team", ("Tugaskan tim keliling", "Assign mobile team"),
              _field("team", ("Tim", "Team"), extra='pattern="[A-Za-z0-9_-]{1,32}"')
              + _field("date", ("Tanggal", "Date"), "date")
              + _field("place", ("Tempat", "Place"), extra='maxlength="200"'), "secondary"),
    ],
}  # fmt: skip
CANCEL = _form("cancel", ("Batalkan", "Cancel"), REASON, "warn")


def _actions(row: PermitRow) -> str:
    more = list(MORE.get(row.status, []))
    if row.status in ACTIVE:
        more.append(CANCEL)
    extra = (f'<details class="more"><summary>{L("Lainnya", "More")}</summary>{"".join(more)}</details>'
             if more else "")  # fmt: skip
    return NEXT.get(row.status, "") + extra


def _row(row: PermitRow) -> str:
    where = " · ".join(
        x for x in (row.slot, f"J{row.window}" if row.window else None, row.team) if x
    )
    plate = (
        f'<br><span class="plate small">{e(display_plate(row.plate))}</span>' if row.plate else ""
    )
    return f"""<tr data-id="{e(row.id)}" data-number="{e(row.number)}">
  <td><strong>{e(row.number)}</strong><br><span class="muted">{e(row.kind)}</span></td>
  <td>{e(row.holder)}{plate}</td>
  <td><span class="badge status-{e(row.status)}">{status_label(row.status)}</span><br>
      <span class="muted">{e(rupiah(row.fee_rupiah)) if row.fee_rupiah is not None else ""} {e(where)}</span></td>
  <td class="actions-cell">{_actions(row)}{history_button(row.id)}<p class="outcome" role="status"></p></td>
</tr>"""  # fmt: skip


def _tabs(current: str, counts: dict[str, int]) -> str:
    links = []
    for tab in TABS:
        n = sum(counts.get(s, 0) for s in ACTIVE) if tab == "active" else counts.get(tab, 0)
        text = ("Aktif", "Active") if tab == "active" else STATUS[tab]
        current_attr = ' aria-current="page"' if tab == current else ""
        links.append(f'<a href="/office?status={tab}" class="tab"{current_attr}>{L(*text)} '
                     f'<span class="count">{n}</span></a>')  # fmt: skip
    return f'<nav class="tabs" aria-label="Tahap / Stages">{"".join(links)}</nav>'


@router.get("/office", response_model=None)
async def office(request: Request, runtime: RuntimeDep, status: str = "active") -> Response:
    caller = page_caller(request, "officer")
    if not isinstance(caller, Caller):
        return caller
    status = status if status in TABS else "active"
    conn, site = runtime.read_models.conn, runtime.settings.site
    rows = (await active_permits(conn, site) if status == "active"
            else await queries.permits_by_status(conn, site, status))  # fmt: skip
    counts = await queries.site_counts(conn, site)
    released = await queries.permits_by_status(conn, site, "released")
    ready = await queries.permits_by_status(conn, site, "ready")
    fetch = "".join(
        f'<li class="{"hot" if p.status == "released" else ""}"><strong class="slot-name">{e(p.slot or "?")}</strong> '
        f"{e(p.number)} → "
        + (L(f"Jendela {p.window}", f"Window {p.window}") if p.window else L("siap", "ready"))
        + "</li>"
        for p in released + ready[:20]
    )  # fmt: skip
    conflicts = "".join(
        f"<tr><td>{e(c['permit_id'][:8])}</td><td>{e(c['by'])}</td><td>{e(c['channel'])}</td>"
        f"<td>{e(c['reason'])}</td><td>{when(c['at'], runtime.settings.zone)}</td></tr>"
        for c in await queries.open_conflicts(conn)
    )
    table = (
        "".join(_row(r) for r in rows)
        or f'<tr><td colspan="4" class="muted">{L("Kosong", "Empty")}</td></tr>'
    )
    body = f"""
<div class="office">
<section class="card">
  <h1>{L("Permohonan", "Applications")}</h1>
  {_tabs(status, counts)}
  <div class="table-wrap"><table class="apps">
    <thead><tr><th>{L("Nomor", "Number")}</th><th>{L("Pemohon", "Applicant")}</th>
      <th>{L("Tahap", "Stage")}</th><th>{L("Tindakan", "Actions")}</th></tr></thead>
    <tbody>{table}</tbody></table></div>
</section>
<aside class="side">
<section class="card">
  <h2>{L("Permohonan baru", "New application")}</h2>
  <form class="act stack" data-action="submit">
    {_field("reference", ("No. LAPERON", "LAPERON ref."), extra='maxlength="64"')}
    {_field("kind", ("Jenis izin", "Permit kind"), extra='maxlength="80" placeholder="SIUP"')}
    {_field("applicant_name", ("Nama pemohon", "Applicant's name"), extra='maxlength="120"')}
    {_field("nik", ("NIK", "NIK"), extra='pattern="[0-9]{16}" inputmode="numeric"')}
    <label class="field"><span>{L("Pelat (boleh kosong)", "Plate (optional)")}</span><input name="plate" maxlength="16"></label>
    <button type="submit" class="primary">{L("Ajukan", "Submit")}</button>
    <p class="outcome" role="status"></p>
  </form>
</section>
<section class="card">
  <h2>{L("Daftar ambil runner", "Runner's fetch list")}</h2>
  <ul class="fetch">{fetch or f'<li class="muted">{L("Tidak ada", "Nothing")}</li>'}</ul>
</section>
<section class="card">
  <h2>{L("Konflik serah terima", "Handover conflicts")}</h2>
  <table class="small-table"><tbody>{conflicts or f'<tr><td class="muted">{L("Tidak ada", "None")}</td></tr>'}</tbody></table>
</section>
</aside>
</div>
<dialog id="code-dialog" aria-labelledby="code-title">
  <h2 id="code-title">{L("Kode ambil — berikan kepada warga", "Pickup code — give it to the citizen")}</h2>
  <p class="muted">{L("Hanya ditampilkan sekali.", "Shown only once.")}</p>
  <p><code id="code-text" class="code"></code></p>
  <p><a id="code-link" href="/" target="_blank" rel="noopener noreferrer"></a></p>
  <div id="code-qr" class="qr small-qr"></div>
  <form method="dialog"><button class="primary" id="code-close">{L("Selesai", "Done")}</button></form>
</dialog>
{history_dialog(runtime.settings.zone)}"""
    return respond(page(("Kantor", "Back office"), body, scripts=("common.js", "office.js", "history.js"),
                        body_class="staff wide", nav=staff_nav(caller.role)))  # fmt: skip


class QrIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64)


@router.post("/office/qr")
async def code_qr(body: QrIn, _caller: OfficerDep) -> dict[str, str]:
    """The QR of a code the officer was just given (in the body, so it is never in a log)."""
    return {"svg": qr_svg(PickupCode.parse(body.code).text)}
