"""The notifier: follows the notification log like a projection and delivers its outbox.

One loop in the server: fold the pages after the tracked position (`NotificationFold`,
position and queued messages in one transaction), queue the timers' messages, then deliver
what is due, one message at a time, each marked sent right after its channel took it. A
failure backs off (doubling, up to ``retry_max_seconds``) with its ``next_try`` stored, so
retries survive a restart; a restart resends only what was never marked sent, with the same
id and bytes. Permits made READY before the server started (`drivethru seed`, another
writer) are notified when it catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from eventsourcing.persistence import ApplicationRecorder

from api.notify.channels import Channel, DeliveryError
from api.notify.fold import NotificationFold, StateOpener
from api.notify.lease import Lease
from api.notify.messages import Recipient, without_link
from api.notify.settings import NotifyOptions
from api.notify.store import NotifyStore, OutboxRow
from projections.log import source_for

log = logging.getLogger(__name__)
PAGE = 500
GATHER_SECONDS = 0.5


class Notifier:
    """Sends each notification the log calls for, once, through every channel that reaches."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        store: NotifyStore,
        channels: Sequence[Channel],
        options: NotifyOptions,
        *,
        public_url: str,
        uncollected_days: float,
        clock: Callable[[], datetime],
        open_state: StateOpener | None = None,
        lease: Lease | None = None,
    ) -> None:
        self.store = store
        self.lease = lease
        """The store's notifier lease (`api.notify.lease`) this notifier holds, if any."""
        self.channels = {channel.name: channel for channel in channels}
        self.options = options
        self.clock = clock
        self._source = source_for(recorder)
        self.fold = NotificationFold(self._channels_for, public_url, uncollected_days, open_state)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def close(self) -> None:
        """Close its file and give up its lease, so another server may send."""
        self.store.close()
        if self.lease is not None:
            self.lease.release()

    def _channels_for(self, to: Recipient) -> list[str]:
        return [name for name, channel in self.channels.items() if channel.reaches(to)]

    def wake(self, _max_id: int | None = None) -> None:
        """Look at the log now (a save listener: any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    # -- following the log ------------------------------------------------------------------

    def catch_up(self) -> int:
        """Fold every page after the tracked position; returns the messages queued."""
        queued = 0
        while True:
            page = self._source.select_after(self.store.position(), PAGE)
            if not page:
                return queued
            with self.store.transaction() as conn:
                queued += self.fold.apply_page(conn, page)

    def queue_timers(self) -> int:
        now = self.clock().timestamp()
        with self.store.transaction() as conn:
            return self.fold.apply_timers(
                conn, now, self.options.waiting_minutes * 60,
                self.options.expiry_warning_days * 86_400,
            )  # fmt: skip

    # -- delivering -------------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Deliver what is due now; returns how many were delivered."""
        delivered = 0
        for row in self.store.due(time.time()):
            channel = self.channels.get(row.channel)
            if channel is None:  # a channel taken out of site.toml: its rows wait for it
                continue
            if self._deliver(channel, row):
                delivered += 1
        return delivered

    def _deliver(self, channel: Channel, row: OutboxRow) -> bool:
        try:
            channel.deliver(row.body)
        except DeliveryError as failed:
            attempts = row.attempts + 1
            delay = min(
                self.options.retry_first_seconds * 2 ** (attempts - 1),
                self.options.retry_max_seconds,
            )
            give_up = attempts >= self.options.give_up_after_attempts
            self.store.mark_failed_try(row.seq, failed.reason, time.time() + delay, give_up)
            log.warning(
                "pesan %s ke %s gagal (%d×) / message %s to %s failed (%d×): %s",
                row.id, row.channel, attempts, row.id, row.channel, attempts, failed.reason,
            )  # fmt: skip
            return False
        kept = row.body if channel.keeps_links else without_link(row.body)
        self.store.mark_sent(row.seq, kept, time.time())
        return True

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Follow, queue and deliver until cancelled; a failed round is logged and retried."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while True:
            self._wake.clear()
            try:
                await asyncio.to_thread(self.catch_up)
                await asyncio.to_thread(self.queue_timers)
                await asyncio.to_thread(self.deliver_due)
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again; the server keeps serving
                log.exception("pemberitahuan gagal / notifier round failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self._sleep())
            except TimeoutError:
                continue
            # Woken by a save: gather the saves that follow (hundreds a second at a busy
            # site) into one round; a message half a second later is still on time.
            await asyncio.sleep(GATHER_SECONDS)

    def _sleep(self) -> float:
        wait = self.options.poll_seconds
        due = self.store.next_due()
        if due is not None:
            wait = min(wait, max(0.0, due - time.time()))
        return max(wait, 0.05)
