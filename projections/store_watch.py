"""Waking the projection runner when another process writes a PostgreSQL store.

A runner wakes at once for its own process's saves (`PermitService` save listeners) and
otherwise polls. With several servers on one PostgreSQL store, a replica's consoles and plate
matches would then see the other replicas' releases only at the next poll (a second later).
The library sends ``NOTIFY`` on the events table's channel in every transaction that writes
events; this thread ``LISTEN``s there and wakes the runner, so each replica's read models
follow the others' saves within milliseconds. A SQLite store has one writing server: no
watch is needed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0
WAIT_SECONDS = 0.5
"""How long one wait for a notification lasts: `stop` takes effect within this."""


class StoreWatch:
    """A thread that calls ``wake()`` whenever any process commits events to the store."""

    def __init__(self, recorder: PostgresApplicationRecorder, wake: Callable[[], None]) -> None:
        self._recorder = recorder
        self._wake = wake
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-watch", daemon=True)
        self.notifications = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(WAIT_SECONDS * 4)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as error:  # a lost connection: the runner still polls meanwhile
                log.warning("pantauan penyimpanan terputus / store watch lost: %s", error)
                self._stopping.wait(RETRY_SECONDS)

    def _listen(self) -> None:
        channel = sql.Identifier(self._recorder.channel_name)
        with self._recorder.datastore.get_connection() as conn:
            conn.execute(sql.SQL("LISTEN {0}").format(channel))
            # Saves made while we were not listening: catch up on them once.
            self._wake()
            while not self._stopping.is_set():
                for _ in conn.notifies(timeout=WAIT_SECONDS, stop_after=1):
                    self.notifications += 1
                    self._wake()
            conn.execute(sql.SQL("UNLISTEN {0}").format(channel))


def watch_store(recorder: ApplicationRecorder, wake: Callable[[], None]) -> StoreWatch | None:
    """A started watch for a PostgreSQL store; None for stores only this process writes."""
    if not isinstance(recorder, PostgresApplicationRecorder):
        return None
    watch = StoreWatch(recorder, wake)
    watch.start()
    return watch
