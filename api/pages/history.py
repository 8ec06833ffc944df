# ruff: noqa: E501 - HTML templates read better unwrapped than split mid-tag
"""The office's history dialog: a permit's events one at a time (previous / next), who did
what and the permit as it stood after each. static/history.js fills it from
``GET /api/applications/{id}/events``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from api.pages.labels import STATUS
from api.pages.layout import L, e


def history_button(permit_id: str) -> str:
    """The row's button that opens the dialog on this permit's history."""
    return (
        f'<button type="button" class="secondary history-open" data-id="{e(permit_id)}">'
        f"{L('Riwayat', 'History')}</button>"
    )


def history_dialog(zone: ZoneInfo) -> str:
    """The one dialog the office page steps through a permit's history in."""
    zone_name = datetime.now(UTC).astimezone(zone).tzname() or "UTC"
    statuses = json.dumps({status: list(words) for status, words in STATUS.items()})
    return f"""<dialog id="history-dialog" aria-labelledby="history-title" class="history"
  data-zone="{e(zone.key)}" data-zone-name="{e(zone_name)}" data-statuses="{e(statuses)}">
  <h2 id="history-title">{L("Riwayat izin", "Permit history")} <span id="history-number"></span></h2>
  <p class="muted">{L("Keadaan izin setelah tiap kejadian, dari event store.", "The permit as it stood after each event, from the event store.")}</p>
  <p id="history-error" class="outcome error" role="alert" hidden></p>
  <div id="history-step" aria-live="polite">
    <p><strong id="history-position"></strong> · <span id="history-event"></span></p>
    <p><time id="history-at"></time></p>
    <dl class="history-facts">
      <dt>{L("Oleh", "By")}</dt><dd id="history-by"></dd>
      <dt>{L("Rincian", "Details")}</dt><dd id="history-details"></dd>
      <dt>{L("Tahap sesudahnya", "Stage after")}</dt><dd id="history-status"></dd>
      <dt>{L("Rak · jalur · tim", "Slot · lane · team")}</dt><dd id="history-where"></dd>
    </dl>
  </div>
  <ol id="history-list" class="timeline"></ol>
  <p class="history-nav">
    <button type="button" class="secondary" id="history-prev">← {L("Sebelumnya", "Previous")}</button>
    <button type="button" class="secondary" id="history-next">{L("Berikutnya", "Next")} →</button>
  </p>
  <form method="dialog"><button class="primary" id="history-close">{L("Tutup", "Close")}</button></form>
</dialog>"""
