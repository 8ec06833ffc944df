# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""The lane window's console for the operator, and the big board outside the window."""

from __future__ import annotations

from dataclasses import asdict
from typing import cast

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import OperatorDep, RuntimeDep
from api.pages.auth import page_caller
from api.pages.data import delegates_of
from api.pages.here import wait_text
from api.pages.layout import L, e, message_page, page, respond, staff_nav
from api.pages.window import IDENTITY_LABELS, WINDOW_LABELS, add_window_state
from api.routes.lanes import board as lane_board
from api.routes.queue import queues_now
from api.runtime import Runtime
from api.security import Caller, ForbiddenError

router = APIRouter(include_in_schema=False)


def _unknown_lane(runtime: Runtime, lane: str) -> Response | None:
    if runtime.settings.window_of(lane) is None:
        return message_page(("Jalur tidak ada", "No such lane"),
                            (f"Jalur {lane} tidak ada.", f"There is no lane {lane}."), 404)  # fmt: skip
    return None


@router.get("/lanes/{lane}/console", response_model=None)
async def console(lane: str, request: Request, runtime: RuntimeDep) -> Response:
    """The window console; everything live is drawn by static/console.js."""
    caller = page_caller(request, "operator", lane=lane)
    if not isinstance(caller, Caller):
        return caller
    if (missing := _unknown_lane(runtime, lane)) is not None:
        return missing
    window = runtime.settings.window_of(lane) or ""
    body = f"""
<div class="console">
  <section class="card arrival" id="arrival" aria-live="assertive">
    <h1>{L(f"Jalur {lane} · Jendela {window}", f"Lane {lane} · Window {window}")}</h1>
    <p id="arrival-text" class="muted">{L("Menunggu mobil…", "Waiting for a car…")}</p>
    <p id="live-state" class="pill">{L("Menghubungkan…", "Connecting…")}</p>
  </section>
  <section class="card permits">
    <h2>{L("Izin untuk jendela ini", "Permits released to this window")}</h2>
    <div id="permits" class="permit-list" role="list"></div>
    <p id="no-permits" class="muted">{L("Belum ada izin di jendela.", "No permit at the window yet.")}</p>
  </section>
  <section class="card candidates" id="candidates-card" hidden>
    <h2>{L("Pilih izin untuk mobil ini", "Pick the permit for this car")}</h2>
    <p class="muted">{L("Pelat tidak pasti. Periksa KTP, ketik NIK-nya, lalu pilih.", "The plate is not certain. Check the KTP, type its NIK, then pick.")} <span id="candidates-plate" class="plate"></span></p>
    <div class="row">
      <label for="pick-nik">{L("NIK di KTP", "NIK on the KTP")}</label>
      <input id="pick-nik" inputmode="numeric" autocomplete="off" maxlength="20" placeholder="16 / 6">
      <label for="pick-reason">{L("atau alasan tanpa NIK", "or a reason without the NIK")}</label>
      <input id="pick-reason" maxlength="200" autocomplete="off">
    </div>
    <ul id="candidates" class="candidate-list"></ul>
    <p id="pick-result" role="status"></p>
  </section>
  <section class="card fetch-now" id="fetch-card">
    <h2>{L("Ambil sekarang (kamera masuk)", "Fetch now (entry camera)")}</h2>
    <ul id="fetch-now" class="fetch-list"></ul>
    <p id="fetch-none" class="muted">{L("Tidak ada yang perlu diambil.", "Nothing to fetch.")}</p>
  </section>
  <section class="card lookup">
    <h2>{L("Cari manual (kamera gagal)", "Manual lookup (camera failed)")}</h2>
    <form id="lookup" class="row">
      <label for="lookup-kind" class="sr-only">{L("Jenis", "Kind")}</label>
      <select id="lookup-kind" name="kind">
        <option value="plate">{e("Pelat / Plate")}</option>
        <option value="number">{e("Nomor izin / Permit number")}</option>
      </select>
      <label for="lookup-value" class="sr-only">{L("Nilai", "Value")}</label>
      <input id="lookup-value" name="value" required maxlength="64" autocomplete="off" placeholder="AB 1234 XY">
      <button type="submit" class="primary">{L("Cari & kirim", "Look up & release")}</button>
    </form>
    <p id="lookup-result" role="status"></p>
  </section>
  <section class="card help">
    <h2>{L("Pintasan", "Shortcuts")}</h2>
    <ul class="keys">
      <li><kbd>H</kbd> {L("serahkan izin terpilih", "hand over the selected permit")}</li>
      <li><kbd>K</kbd> {L("ketik NIK dari KTP", "type the NIK from the KTP")}</li>
      <li><kbd>R</kbd> {L("kembalikan ke rak", "return to the shelf")}</li>
      <li><kbd>/</kbd> {L("cari manual", "manual lookup")}</li>
      <li><kbd>↑</kbd> <kbd>↓</kbd> {L("pilih izin", "select a permit")}</li>
    </ul>
  </section>
</div>
<template id="i18n">
{L("Serahkan (H)", "Hand over (H)")}|{L("Tidak cocok", "Mismatch")}|{L("Kembalikan ke rak (R)", "Return to shelf (R)")}|{L("KTP sudah saya periksa", "I checked the KTP")}|{L("Ambil di rak", "Fetch from slot")}|{L("Periksa KTP pemilik", "Check the owner's KTP")}|{L("atau kuasa", "or the delegate")}|{L("Mobil tiba", "Car arrived")}|{L("Terhubung", "Live")}|{L("Terputus, mencoba lagi…", "Disconnected, retrying…")}|{L("Diserahkan", "Handed over")}|{L("Centang pemeriksaan KTP dulu", "Tick the KTP check first")}|{L("Tidak ditemukan", "Not found")}|{L("Dikirim ke jendela", "Released to the window")}|{L("Dikembalikan", "Returned")}|{L("Gagal", "Failed")}|{L("Penerima", "Recipient")}|{L("Pemilik", "Owner")}|{L("Kuasa", "Delegate")}|{L("Tidak ada izin siap", "No ready permit")}|{L("Perlu dicek petugas", "Needs the operator")}
</template>
{IDENTITY_LABELS}
{WINDOW_LABELS}"""
    return respond(
        page(("Konsol jendela", "Window console"), body, scripts=("common.js", "console.js", "window.js"),
             body_class="staff wide", nav=staff_nav(caller.role),
             data={"lane": lane, "window": window})
    )  # fmt: skip


@router.get("/lanes/{lane}/console/state")
async def console_state(lane: str, runtime: RuntimeDep, caller: OperatorDep) -> dict[str, object]:
    """The lane board plus each permit's authorised delegates (masked), for the console."""
    if caller.role == "operator" and not caller.may_work_lane(lane):
        raise ForbiddenError(f"not assigned to lane {lane}")
    state = await lane_board(lane, runtime, caller)
    released = cast(list[dict[str, object]], state["released"])  # the board's own shape
    found = await delegates_of(runtime.read_models.conn, [str(p["id"]) for p in released])
    for permit in released:
        permit["delegates"] = [asdict(d) for d in found.get(str(permit["id"]), [])]
    await add_window_state(state, lane, runtime, caller)
    return state


@router.get("/lanes/{lane}/board", response_model=None)
async def display_board(lane: str, request: Request, runtime: RuntimeDep) -> Response:
    """The screen outside the window: plates and the window number, readable from a car."""
    caller = page_caller(request, "operator", "officer", lane=lane)
    if not isinstance(caller, Caller):
        return caller
    if (missing := _unknown_lane(runtime, lane)) is not None:
        return missing
    window = runtime.settings.window_of(lane) or ""
    body = f"""
<section class="board" aria-live="polite">
  <p class="board-lane">{L(f"Jalur {lane}", f"Lane {lane}")}</p>
  <ul id="board-list" class="board-list"></ul>
  <p id="board-idle" class="board-idle">{L("Selamat datang! Tunjukkan QR atau pelat Anda ke kamera.", "Welcome! Show your QR or plate to the camera.")}</p>
  <p id="board-see" class="board-see" hidden>{L("Mohon tunggu, petugas akan membantu.", "Please wait, the operator will help you.")}</p>
  <p id="board-queue" class="board-queue">{wait_text((await queues_now(runtime))[lane])}</p>
</section>
<template id="i18n">{L(f"silakan ke Jendela {window}", f"please go to window {window}")}</template>
<template id="i18n-queue">{L("{cars} mobil · ±{min} menit", "{cars} car(s) · ±{min} min")}|{L("Tanpa antrean", "No queue")}</template>"""
    return respond(
        page(("Papan jalur", "Lane board"), body, scripts=("board.js",), body_class="board-page",
             data={"lane": lane, "window": window})
    )  # fmt: skip
