"""The subjects' key table, beside the event log in the same database (`core.personal`).

A backup of the store taken after an erasure holds no key for the erased subject; one taken
before still does, which is why backups are kept no longer than the shortest retention.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Mapper

from core.personal import KeyStore, PersonalDataMapper, SealedText, SubjectKeys
from core.settings import StoreSettings

TABLE = "drivethru_subject_keys"


class MemoryKeyStore:
    """Keys of an in-memory store (tests, `drivethru demo` in memory)."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, subject: str) -> bytes | None:
        return self._keys.get(subject)

    def create(self, subject: str, key: bytes) -> bytes:
        with self._lock:
            return self._keys.setdefault(subject, key)

    def get_many(self, subjects: list[str]) -> dict[str, bytes]:
        return {s: self._keys[s] for s in subjects if s in self._keys}

    def delete(self, subject: str) -> bool:
        with self._lock:
            return self._keys.pop(subject, None) is not None


class SqliteKeyStore:
    """Keys in a table of the store's SQLite file, on a connection of their own."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 10000")
        # A deleted key is overwritten on its page, not left readable in the file's free space.
        self._conn.execute("PRAGMA secure_delete = ON")
        # A new key is not synced on its own: the events sealed with it are committed after
        # it, and their commit syncs the shared write-ahead log, the key's frames included.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} ("
            "subject TEXT PRIMARY KEY, key BLOB NOT NULL, created_at TEXT NOT NULL)"
        )
        self._lock = threading.Lock()

    def get(self, subject: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute(f"SELECT key FROM {TABLE} WHERE subject = ?", (subject,))
            found = row.fetchone()
        return None if found is None else bytes(found[0])

    def get_many(self, subjects: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(subjects), 500):
                chunk = subjects[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                query = f"SELECT subject, key FROM {TABLE} WHERE subject IN ({marks})"
                found.update((s, bytes(k)) for s, k in self._conn.execute(query, chunk))
        return found

    def create(self, subject: str, key: bytes) -> bytes:
        with self._lock:
            self._conn.execute(
                f"INSERT OR IGNORE INTO {TABLE} VALUES (?, ?, datetime('now'))", (subject, key)
            )
            row = self._conn.execute(f"SELECT key FROM {TABLE} WHERE subject = ?", (subject,))
            return bytes(row.fetchone()[0])

    def delete(self, subject: str) -> bool:
        with self._lock:
            cursor = self._conn.execute(f"DELETE FROM {TABLE} WHERE subject = ?", (subject,))
            # The write-ahead log still holds the page as it was before: fold it back into
            # the file and empty it (best effort: a reader of the log may hold it a while).
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return cursor.rowcount > 0

    def close(self) -> None:
        self._conn.close()


class PostgresKeyStore:
    """Keys in a table of the store's PostgreSQL database."""

    def __init__(self, settings: StoreSettings) -> None:
        import psycopg  # only where the store is PostgreSQL

        self._conn: Any = psycopg.connect(**settings.postgres_connection(), autocommit=True)
        self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} ("
            "subject TEXT PRIMARY KEY, key BYTEA NOT NULL, created_at TIMESTAMPTZ NOT NULL"
            " DEFAULT now())"
        )
        self._lock = threading.Lock()

    def get(self, subject: str) -> bytes | None:
        with self._lock:
            found = self._conn.execute(
                f"SELECT key FROM {TABLE} WHERE subject = %s", (subject,)
            ).fetchone()
        return None if found is None else bytes(found[0])

    def get_many(self, subjects: list[str]) -> dict[str, bytes]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT subject, key FROM {TABLE} WHERE subject = ANY(%s)", (subjects,)
            ).fetchall()
        return {subject: bytes(key) for subject, key in rows}

    def create(self, subject: str, key: bytes) -> bytes:
        with self._lock:
            self._conn.execute(
                f"INSERT INTO {TABLE} (subject, key) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (subject, key),
            )
            found = self._conn.execute(
                f"SELECT key FROM {TABLE} WHERE subject = %s", (subject,)
            ).fetchone()
        return bytes(found[0])

    def delete(self, subject: str) -> bool:
        with self._lock:
            cursor = self._conn.execute(f"DELETE FROM {TABLE} WHERE subject = %s", (subject,))
            deleted = bool(cursor.rowcount)
            if deleted:  # rewrite the table: the dead row's bytes do not stay in its pages
                self._conn.execute(f"VACUUM FULL {TABLE}")
            return deleted

    def close(self) -> None:
        self._conn.close()


class LazyKeyStore:
    """Opens the key table at its first use: after the event store has made its file."""

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self._store: KeyStore | None = None
        self._lock = threading.Lock()

    def _opened(self) -> KeyStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_key_store(self.settings)
        return self._store

    def get(self, subject: str) -> bytes | None:
        return self._opened().get(subject)

    def create(self, subject: str, key: bytes) -> bytes:
        return self._opened().create(subject, key)

    def get_many(self, subjects: list[str]) -> dict[str, bytes]:
        return self._opened().get_many(subjects)

    def delete(self, subject: str) -> bool:
        return self._opened().delete(subject)


def open_key_store(settings: StoreSettings) -> KeyStore:
    if settings.backend == "memory":
        return MemoryKeyStore()
    if settings.backend == "sqlite":
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteKeyStore(settings.sqlite_path)
    return PostgresKeyStore(settings)


def open_subject_keys(settings: StoreSettings) -> SubjectKeys:
    """The store's subject keys, opened when first needed."""
    return SubjectKeys(LazyKeyStore(settings))


class PersonalDataApplication(Application[UUID]):
    """An application on the permit store whose events' personal fields are sealed."""

    def __init__(self, store: StoreSettings, env: Mapping[str, str] | None = None) -> None:
        self.subject_keys = open_subject_keys(store)
        super().__init__(env=env)

    def construct_mapper(self) -> Mapper[UUID]:
        return PersonalDataMapper(transcoder=self.construct_transcoder())

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(SealedText(self.subject_keys))
