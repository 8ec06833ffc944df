# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""What the cameras saw, on the staff's screens: the console's KTP check, candidates and
fetch-now panels (drawn by static/console.js and static/window.js), and the runner's page."""

from __future__ import annotations

import asyncio
from typing import cast
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import RuntimeDep
from api.pages.auth import page_caller
from api.pages.layout import L, page, respond, staff_nav
from api.routes.window import candidates, fetch_now_for
from api.runtime import Runtime
from api.security import Caller
from core.errors import PermitError
from core.identity import released_for_delegate

router = APIRouter(include_in_schema=False)

IDENTITY_LABELS = f"""<template id="i18n-identity">
{L(": ketik NIK (16 angka, atau 6 angka terakhir)", ": type the NIK (16 digits, or the last 6)")}|{L("Ketik NIK dari KTP dulu", "Type the NIK from the KTP first")}|{L("Tanpa NIK (KTP tak terbaca)", "Without the NIK (KTP unreadable)")}|{L("Tulis alasannya", "Write the reason")}|{L("berlaku s.d.", "valid until")}|{L("Kode kuasa dibaca: penerima kuasa", "The delegate's code was read: delegate")}
</template>"""
"""The console's KTP-check labels, in the order static/console.js reads them."""

WINDOW_LABELS = f"""<template id="i18n-window">
{L("Pilih", "Pick")}|{L("Rak", "Slot")}|{L("Jalur", "Lane")}|{L("Dikirim ke jendela", "Released to the window")}|{L("Gagal", "Failed")}|{L("Ketik NIK dari KTP atau alasannya dulu", "Type the NIK from the KTP, or a reason, first")}
</template>"""
"""The candidates and fetch-now labels, in the order static/window.js reads them."""


def _released_for_delegate(runtime: Runtime, permit_ids: list[str]) -> dict[str, str | None]:
    """In a worker thread: whose code released each permit (the store is synchronous)."""
    found: dict[str, str | None] = {}
    for permit_id in permit_ids:
        try:
            found[permit_id] = released_for_delegate(runtime.service.peek(UUID(permit_id)))
        except PermitError:
            found[permit_id] = None
    return found


async def add_window_state(
    state: dict[str, object], lane: str, runtime: Runtime, caller: Caller
) -> None:
    """The console state's additions: the delegate whose code released each permit, the
    candidates of the lane's latest open arrival, and the lane's fetch-now list."""
    released = cast(list[dict[str, object]], state["released"])  # the board's own shape
    ids = [str(p["id"]) for p in released]
    whose = await asyncio.to_thread(_released_for_delegate, runtime, ids)
    for permit in released:
        permit["released_for_delegate"] = whose.get(str(permit["id"]))
    state["candidates"] = (await candidates(lane, runtime, caller, None)).model_dump()
    state["fetch_now"] = [item.model_dump() for item in await fetch_now_for(runtime, [lane])]


@router.get("/runner", response_model=None)
async def runner_page(request: Request, runtime: RuntimeDep) -> Response:
    """The runner's page: what the entry cameras pre-staged, with the slots to fetch from."""
    caller = page_caller(request, "operator", "officer")
    if not isinstance(caller, Caller):
        return caller
    body = f"""
<section class="card runner" aria-live="polite">
  <h1>{L("Ambil sekarang", "Fetch now")}</h1>
  <p class="muted">{L("Izin yang pelatnya dikenali kamera masuk: ambil dari rak sebelum mobil sampai di jendela.", "Permits whose plates the entry camera recognised: fetch them before the car reaches the window.")}</p>
  <ul id="fetch-now" class="fetch-list"></ul>
  <p id="fetch-none" class="muted">{L("Tidak ada yang perlu diambil.", "Nothing to fetch.")}</p>
</section>
{WINDOW_LABELS}"""
    return respond(
        page(("Pengambil izin", "Runner"), body, scripts=("common.js", "window.js"),
             body_class="staff", nav=staff_nav(caller.role), data={"runner": "1"})
    )  # fmt: skip
