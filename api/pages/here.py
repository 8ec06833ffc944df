# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""On the citizen's page: each lane's wait now ("±6 menit") and the "Saya sudah di sini /
I'm here" form, which makes a manual arrival at the lane picked (`api/here.py`)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.code_lookup import FRESH_SECONDS
from api.deps import RuntimeDep
from api.errors import status_of
from api.here import arrive_here
from api.pages.layout import L, e, message_page
from api.rate_limit import RateLimitedError, Rule, client_address
from api.routes.queue import queues_now
from api.runtime import Runtime
from core.errors import DrivethruError
from projections.lane_queue import LaneQueue

router = APIRouter(include_in_schema=False)


def wait_text(queue: LaneQueue) -> str:
    """``3 mobil · ±6 menit`` in both languages; no queue says so."""
    if queue.cars == 0:
        return L("Tanpa antrean", "No queue")
    return L(
        f"{queue.cars} mobil · ±{queue.eta_minutes} menit",
        f"{queue.cars} {'car' if queue.cars == 1 else 'cars'} · ±{queue.eta_minutes} min",
    )


async def here_block(
    runtime: Runtime, code: str, status: str, error: str = "", *, team: str | None = None
) -> str:
    """The lanes with their waits and, for a READY permit at the mall while open, the button
    (a permit assigned to a mobile ``team`` travels with it)."""
    settings = runtime.settings
    queues = await queues_now(runtime)
    rows = "".join(
        f'<li data-lane="{e(x.lane)}">{L(f"Jalur {x.lane}", f"Lane {x.lane}")}: '
        f'<span class="eta">{wait_text(queues[x.lane])}</span></li>'
        for x in settings.lanes
    )
    now = runtime.service.clock()
    form = ""
    if status == "ready" and team is None and settings.opening_hours.now(now, settings.zone).open:
        options = "".join(
            f'<option value="{e(x.lane)}">{e(f"Jalur {x.lane} / Lane {x.lane}")}</option>'
            for x in settings.lanes
        )
        form = f"""
  <form method="post" action="/p/{e(code)}/here" class="stack" id="here-form">
    <p class="muted">{L("Kamera tidak mengenali mobil Anda? Pilih jalur Anda, lalu tekan tombol.", "The camera missed your car? Pick your lane, then press the button.")}</p>
    <label for="here-lane">{L("Jalur saya", "My lane")}</label>
    <select id="here-lane" name="lane">{options}</select>
    <button type="submit" class="primary big" id="here-button">{L("Saya sudah di sini", "I'm here")}</button>
  </form>"""
    notice = f'<p class="alert error" role="alert">{e(error)}</p>' if error else ""
    return f"""
<section class="card" id="here">
  <h2>{L("Antrean sekarang", "Queue now")}</h2>
  <ul class="lanes queue">{rows}</ul>{notice}{form}
</section>"""


@router.post("/p/{code}/here", response_model=None)
async def here_form(code: str, request: Request, runtime: RuntimeDep) -> Response:
    """The form's post: released, back to the status page; refused, the reason on it."""
    try:
        runtime.limiter.take(Rule.FORMS, client_address(request), code)
    except RateLimitedError as limited:
        return message_page(("Tunggu sebentar", "Please wait"),
                            (limited.message.partition(" / ")[0], limited.message.partition(" / ")[2]), 429)  # fmt: skip
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=4)
    lane = (fields.get("lane") or [""])[0]
    try:
        await arrive_here(runtime, code, lane)
    except DrivethruError as refused:
        indonesian, _, english = refused.message.partition(" / ")
        return message_page(("Tidak bisa", "Not possible"), (indonesian, english or indonesian),
                            status_of(refused))  # fmt: skip
    # The status page reads the read models: let them show this release first (no wait
    # once they do), so the citizen does not see "ready" after pressing.
    await runtime.runner.reached(FRESH_SECONDS)
    # Post/redirect/get: a reload must not press the button again.
    return RedirectResponse(f"/p/{code}#here", status_code=303)
