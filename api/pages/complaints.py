# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""The office's screen of ratings and complaints (`/office/complaints`), and the answer the
citizen reads on ``/p/{code}``. Answers and closes go through the JSON API
(`api/routes/complaints.py`) from static/complaints.js."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, tzinfo
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.complaints import ComplaintFilter, ComplaintView, State, listed
from api.deps import RuntimeDep
from api.pages.auth import page_caller
from api.pages.layout import L, e, page, respond, staff_nav, when
from api.runtime import Runtime
from api.security import Caller
from core.complaint import MAX_ANSWER, ComplaintState

router = APIRouter(include_in_schema=False)
STATES: dict[str, tuple[str, str]] = {
    "open": ("Belum dijawab", "Open"),
    "answered": ("Dijawab", "Answered"),
    "closed": ("Ditutup", "Closed"),
}


def _moment(value: datetime | None, zone: tzinfo) -> str:
    return when(value.isoformat(), zone) if value else ""


def _filter_form(runtime: Runtime, chosen: ComplaintFilter) -> str:
    def option(value: str, label: str, current: object) -> str:
        selected = " selected" if str(current or "") == value else ""
        return f'<option value="{e(value)}"{selected}>{e(label)}</option>'

    # An <option> holds text only, so both languages in one label.
    lanes = option("", "Semua jalur / All lanes", chosen.lane) + "".join(
        option(x.lane, f"Jalur {x.lane} / Lane {x.lane}", chosen.lane)
        for x in runtime.settings.lanes
    )
    ratings = option("", "Semua nilai / All ratings", chosen.rating) + "".join(
        option(str(n), f"{n} / 5", chosen.rating) for n in range(1, 6)
    )
    states = option("", "Semua / All", chosen.state) + "".join(
        option(key, " / ".join(label), chosen.state) for key, label in STATES.items()
    )
    day = chosen.day.isoformat() if chosen.day else ""
    return f"""
<form method="get" action="/office/complaints" class="row filters" id="complaint-filters">
  <label>{L("Jalur", "Lane")} <select name="lane">{lanes}</select></label>
  <label>{L("Nilai", "Rating")} <select name="rating">{ratings}</select></label>
  <label>{L("Status", "State")} <select name="state">{states}</select></label>
  <label>{L("Tanggal", "Date")} <input type="date" name="day" value="{e(day)}"></label>
  <button type="submit" class="secondary">{L("Saring", "Filter")}</button>
</form>"""


def _office_cell(office: ComplaintState, zone: tzinfo) -> str:
    parts = [f'<span class="badge state-{e(office.state)}">{L(*STATES[office.state])}</span>']
    if office.answer:
        parts.append(
            f'<p class="answer">{e(office.answer)}<br><span class="muted">{e(office.answered_by)} · '
            f"{_moment(office.answered_at, zone)}</span></p>"
        )
    if office.closed_by:
        parts.append(
            f'<p class="muted">{L("Ditutup", "Closed")}: {e(office.closed_by)} · {_moment(office.closed_at, zone)}'
            f"{(' · ' + e(office.close_reason)) if office.close_reason else ''}</p>"
        )
    if office.state != "closed":
        parts.append(f"""
<form class="act" data-action="answer">
  <label class="field"><span>{L("Jawaban untuk warga", "Answer to the citizen")}</span>
  <textarea name="answer" required maxlength="{MAX_ANSWER}" rows="2"></textarea></label>
  <button type="submit" class="primary">{L("Kirim jawaban", "Send answer")}</button>
</form>
<form class="act" data-action="close">
  <label class="field"><span>{L("Alasan tutup (boleh kosong)", "Reason to close (optional)")}</span>
  <input name="reason" maxlength="500"></label>
  <button type="submit" class="secondary">{L("Tutup", "Close")}</button>
</form>""")
    return "".join(parts)


def _row(view: ComplaintView, zone: tzinfo) -> str:
    where = (
        L(f"Jalur {view.lane}", f"Lane {view.lane}")
        if view.lane
        else (L(f"Tim {view.team}", f"Team {view.team}") if view.team else "—")
    )
    complaint = (
        e(view.complaint)
        if view.complaint
        else f'<span class="muted">{L("(tanpa teks)", "(no text)")}</span>'
    )
    return f"""<tr data-id="{e(view.permit_id)}" data-state="{e(view.office.state)}">
  <td><strong>{e(view.number or view.permit_id[:8])}</strong><br><span class="muted">{e(view.holder or "")}</span></td>
  <td class="where">{where}</td>
  <td class="rating"><strong>{view.rating} / 5</strong><br>{when(view.at, zone)}</td>
  <td class="complaint-text">{complaint}</td>
  <td class="actions-cell">{_office_cell(view.office, zone)}<p class="outcome" role="status"></p></td>
</tr>"""


def _chosen(
    lane: str | None, rating: str | None, state: str | None, day: str | None
) -> ComplaintFilter:
    """The filter from the query, ignoring what does not parse (a hand-edited link)."""
    picked_state: State | None = state if state in ("open", "answered", "closed") else None  # type: ignore[assignment]
    try:
        picked_day = date.fromisoformat(day) if day else None
    except ValueError:
        picked_day = None
    return ComplaintFilter(
        lane or None,
        int(rating) if rating in {"1", "2", "3", "4", "5"} else None,
        picked_state,
        picked_day,
    )


@router.get("/office/complaints", response_model=None)
async def complaints_page(
    request: Request,
    runtime: RuntimeDep,
    lane: str | None = None,
    rating: str | None = None,
    state: str | None = None,
    day: str | None = None,
) -> Response:
    caller = page_caller(request, "officer")
    if not isinstance(caller, Caller):
        return caller
    chosen = _chosen(lane, rating, state, day)
    zone = runtime.settings.zone
    views = await listed(runtime, chosen)
    rows = "".join(_row(v, zone) for v in views) or (
        f'<tr><td colspan="5" class="muted">{L("Tidak ada yang cocok.", "Nothing matches.")}</td></tr>'
    )
    body = f"""
<h1>{L("Nilai dan pengaduan", "Ratings and complaints")}</h1>
{_filter_form(runtime, chosen)}
<table class="permits complaints" id="complaints">
  <thead><tr><th>{L("Izin", "Permit")}</th><th>{L("Jalur", "Lane")}</th><th>{L("Nilai", "Rating")}</th>
  <th>{L("Pengaduan", "Complaint")}</th><th>{L("Tindak lanjut", "Follow-up")}</th></tr></thead>
  <tbody>{rows}</tbody>
</table>"""
    return respond(
        page(("Pengaduan", "Complaints"), body, scripts=("common.js", "complaints.js"),
             body_class="staff wide", nav=staff_nav(caller.role))
    )  # fmt: skip


async def answer_block(runtime: Runtime, permit_id: str) -> str:
    """On the citizen's page: the office's answer to their feedback, when there is one."""
    office = await asyncio.to_thread(runtime.complaints.of, UUID(permit_id))
    zone = runtime.settings.zone
    if office.answer is None and office.closed_by is None:
        return ""
    answer = (
        f'<p class="answer" id="complaint-answer">{e(office.answer)}</p>'
        f'<p class="muted">{_moment(office.answered_at, zone)}</p>'
        if office.answer
        else ""
    )
    closed = (
        f'<p class="muted">{L("Pengaduan Anda sudah ditutup.", "Your complaint was closed.")}</p>'
        if office.closed_by
        else ""
    )
    return f"""
<section class="card" id="complaint">
  <h2>{L("Tanggapan petugas", "The office's response")}</h2>
  {answer}{closed}
</section>"""
