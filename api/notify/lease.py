"""One notifier per event store: the server that sends holds a lease while it runs.

Each notifier keeps its place in the log in its own ``notify.db``, so two servers on one store
with ``[[notify]]`` would each send every message. The first to start takes the lease: on
PostgreSQL a session advisory lock in the store's database, on SQLite an exclusive lock on a
file beside the store. The others log that another server sends and send nothing. The lease
goes with its holder (a clean stop, or the database or kernel closing a killed process's
connection or file); a server started after that takes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any, Protocol

from core.settings import StoreSettings

ADVISORY_KEY = 0x64726976_6E6F7431
"""The PostgreSQL advisory lock's key: "drivnot1" as a 64-bit integer."""


class Lease(Protocol):
    def release(self) -> None: ...


class _PostgresLease:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()  # ends the session, and with it the advisory lock


class _FileLease:
    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


class _NoLease:
    def release(self) -> None:
        pass


def lease_file(store: StoreSettings) -> Path:
    """The file a SQLite store's notifier locks, beside the store."""
    return store.sqlite_path.with_name(store.sqlite_path.name + ".notifier.lock")


def take_lease(store: StoreSettings) -> Lease | None:
    """The store's notifier lease, or None while another server holds it."""
    if store.backend == "memory":
        return _NoLease()  # an in-memory store has one server by construction
    if store.backend == "sqlite":
        path = lease_file(store)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return _FileLease(fd)
    import psycopg  # only where the store is PostgreSQL

    conn = psycopg.connect(**store.postgres_connection(), autocommit=True)
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()
    if row is None or not row[0]:
        conn.close()
        return None
    return _PostgresLease(conn)
