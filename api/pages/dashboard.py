# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""The site dashboard: lanes online, arrivals and handovers per hour, service time per lane,
waiting cars and how cars were recognised; charts are server-rendered SVG."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta, tzinfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import RuntimeDep
from api.pages.auth import page_caller
from api.pages.charts import COLOURS, bar_chart, share_bar
from api.pages.data import Visit, visits
from api.pages.labels import METHODS
from api.pages.layout import L, e, page, respond, staff_nav
from api.runtime import Runtime
from api.security import Caller
from projections import queries

router = APIRouter(include_in_schema=False)
HOURS = 12


def _moment(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def per_hour(
    moments: list[datetime | None], now: datetime, zone: tzinfo = UTC
) -> list[tuple[str, float]]:
    """Counts for each of the last ``HOURS`` whole hours, oldest first, labelled by the hour
    on the site's clock (``zone``): staff read "09", not the UTC "01"."""
    local = now.astimezone(zone)
    # Whole hours of the site's clock (every Indonesian zone is a whole number of hours
    # from UTC, so they are UTC's hours too), counted in UTC time: no daylight saving.
    start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC) - timedelta(
        hours=HOURS - 1
    )
    counts = Counter(
        int((m - start).total_seconds() // 3600) for m in moments if m is not None and m >= start
    )
    return [((start + timedelta(hours=i)).astimezone(zone).strftime("%H"),
             float(counts.get(i, 0))) for i in range(HOURS)]  # fmt: skip


def service_seconds(found: list[Visit]) -> dict[str, list[float]]:
    """Arrival (release to the window) to handover, in seconds, per lane."""
    times: dict[str, list[float]] = {}
    for v in found:
        start, end = _moment(v.released_at), _moment(v.handed_over_at)
        if v.lane and start and end and end >= start:
            times.setdefault(v.lane, []).append((end - start).total_seconds())
    return times


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def _lanes(runtime: Runtime, waiting: Counter[str]) -> str:
    seen = runtime.bridge.lanes_seen if runtime.bridge is not None else {}
    rows = []
    for lane in runtime.settings.lanes:
        status = seen.get(lane.lane)
        online = status is not None and status.state.value == "online"
        state = (
            (L("Daring", "Online") if online else L("Luring", "Offline"))
            if status
            else L("Belum terlihat", "Not seen")
        )
        detail = (f"{status.fps or 0:.0f} fps · {L('kamera', 'camera')} "
                  f"{'✓' if status.camera_ok else '✗'}") if status and online else ""  # fmt: skip
        rows.append(
            f'<tr><th scope="row">{L(f"Jalur {lane.lane}", f"Lane {lane.lane}")}</th>'
            f'<td><span class="pill {"ok" if online else "warn-pill"}">{state}</span></td>'
            f"<td>{detail}</td><td>{waiting.get(lane.lane, 0)}</td></tr>"
        )
    return (f'<table class="lanes-table"><thead><tr><th>{L("Jalur", "Lane")}</th><th>{L("Status", "Status")}</th>'
            f'<th>{L("Kamera", "Camera")}</th><th>{L("Mobil menunggu", "Cars waiting")}</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')  # fmt: skip


@router.get("/dashboard", response_model=None)
async def dashboard(request: Request, runtime: RuntimeDep) -> Response:
    caller = page_caller(request, "officer")
    if not isinstance(caller, Caller):
        return caller
    now = datetime.now(UTC)
    found = await visits(runtime.read_models.conn, runtime.settings.site)
    waiting = Counter(v.lane for v in found if v.status == "released" and v.lane)
    zone = runtime.settings.zone
    arrivals = per_hour([_moment(v.released_at) for v in found], now, zone)
    handovers = per_hour([_moment(v.handed_over_at) for v in found], now, zone)
    zone_name = now.astimezone(zone).strftime("%Z")
    times = service_seconds(found)
    service_bars: list[tuple[str, float]] = []
    for lane in sorted(times):
        service_bars += [(f"{lane} p50", round(statistics.median(times[lane]))),
                         (f"{lane} p90", round(p90(times[lane])))]  # fmt: skip
    methods = Counter(v.method for v in found if v.method)
    shares = [(f"{METHODS[m][0]} / {METHODS[m][1]}", float(methods.get(m, 0))) for m in METHODS]
    rated, mean = await runtime.feedback.summary()
    teams = await queries.team_progress(runtime.read_models.conn, runtime.settings.site)
    team_rows = (
        "".join(
            f'<tr><th scope="row">{e(team)}</th><td>{done}</td><td>{left}</td></tr>'
            for team, (left, done) in teams.items()
        )
        or f'<tr><td colspan="3">{L("Belum ada penugasan", "No assignments yet")}</td></tr>'
    )
    team_table = (
        f'<table class="lanes-table"><thead><tr><th>{L("Tim", "Team")}</th>'
        f"<th>{L('Diserahkan', 'Handed over')}</th><th>{L('Tersisa', 'Left')}</th></tr></thead>"
        f"<tbody>{team_rows}</tbody></table>"
    )
    rating = f"{mean:.1f} / 5 ({rated})" if mean is not None else "—"
    body = f"""
<h1>{L("Dasbor", "Dashboard")} · {e(runtime.settings.site_name)}</h1>
<div class="grid">
  <section class="card"><h2>{L("Jalur", "Lanes")}</h2>{_lanes(runtime, waiting)}
    <p class="figure"><strong>{sum(waiting.values())}</strong> {L("mobil menunggu di jendela", "cars waiting at a window")}</p>
    <p class="figure"><strong>{e(rating)}</strong> {L("nilai layanan", "service rating")}</p></section>
  <section class="card"><h2>{L(f"Kedatangan per jam ({zone_name})", f"Arrivals per hour ({zone_name})")}</h2>
    {bar_chart(arrivals, title="Kedatangan per jam / arrivals per hour")}</section>
  <section class="card"><h2>{L(f"Serah terima per jam ({zone_name})", f"Handovers per hour ({zone_name})")}</h2>
    {bar_chart(handovers, title="Serah terima per jam / handovers per hour", colour=COLOURS[3])}</section>
  <section class="card"><h2>{L("Waktu layanan per jalur (detik)", "Service time per lane (seconds)")}</h2>
    <p class="muted">{L("Dari tiba di jendela sampai diserahkan: median dan p90.", "From arrival at the window to handover: median and p90.")}</p>
    {bar_chart(service_bars, title="Waktu layanan / service time", unit=" s", colour=COLOURS[1])}</section>
  <section class="card"><h2>{L("Tim keliling (RIBON)", "Mobile teams (RIBON)")}</h2>
    {team_table}</section>
  <section class="card"><h2>{L("Cara mobil dikenali", "How cars were recognised")}</h2>
    {share_bar(shares, title="Cara baca / read method")}</section>
</div>"""
    return respond(page(("Dasbor", "Dashboard"), body, body_class="staff wide",
                        nav=staff_nav(caller.role)))  # fmt: skip
