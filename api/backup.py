"""Backups of the event store, and putting one back.

Only the event store is backed up: it is the whole truth (docs/architecture.md). The read
models are rebuilt from it when the restored server starts, so a restore removes them.

- SQLite: `sqlite3.Connection.backup` in one step, which copies one read transaction's
  snapshot; the store runs in WAL mode, so the server keeps appending meanwhile and the copy
  is exactly the events committed when it began. The copy is written beside the target and
  renamed only once it is checked, so a target never holds half a backup.
- PostgreSQL: ``pg_dump --format=custom`` (one snapshot too) and ``pg_restore``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from glob import glob
from pathlib import Path

from core.settings import StoreSettings

EVENTS_TABLE = "stored_events"  # eventsourcing.sqlite's table; its rowid is the notification id


class BackupError(Exception):
    """A backup or restore that cannot be done; nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class BackupResult:
    """What a backup holds: its events and the last notification id among them."""

    path: Path
    backend: str
    events: int | None
    """None for PostgreSQL (the dump is not read back here)."""
    last_notification_id: int | None
    size_bytes: int
    seconds: float


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What was put in place, and what was moved aside or removed to make room."""

    store: str
    events: int | None
    last_notification_id: int | None
    replaced: Path | None
    """Where the store that was there before now is (nothing is deleted), if any."""
    read_models_removed: tuple[Path, ...]


def backup_store(store: StoreSettings, target: Path) -> BackupResult:
    """Back up the configured event store to `target` (a new file)."""
    if target.exists():
        raise BackupError(f"{target} sudah ada, tidak ditimpa / already exists, not overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    if store.backend == "sqlite":
        return backup_sqlite(store.sqlite_path, target)
    if store.backend == "postgres":
        return backup_postgres(store, target)
    raise BackupError("store di memori tidak bisa dicadangkan / an in-memory store has no backup")


def backup_sqlite(source: Path, target: Path) -> BackupResult:
    """An online backup of a SQLite event store, consistent while the server writes."""
    if not source.is_file():
        raise BackupError(f"event store {source} tidak ada / not found")
    started = time.perf_counter()
    partial = _partial_path(target)
    try:
        with contextlib.closing(sqlite3.connect(source, timeout=30)) as live:
            _require_events_table(live, source)
            with contextlib.closing(sqlite3.connect(partial)) as copy:
                live.backup(copy)  # pages=-1: one step, one snapshot
                # One self-contained file: no -wal beside it to lose when it is copied away.
                copy.execute("PRAGMA journal_mode=DELETE")
        events, last = check_sqlite_backup(partial)
        _publish(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    return BackupResult(target, "sqlite", events, last, target.stat().st_size, seconds)


def check_sqlite_backup(path: Path) -> tuple[int, int]:
    """(events, last notification id) of a SQLite store file that passes its integrity check."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            (verdict,) = db.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise BackupError(f"{path} rusak / is damaged: {verdict}")
            _require_events_table(db, path)
            events, last = db.execute(
                f"SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM {EVENTS_TABLE}"
            ).fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(
            f"{path} bukan cadangan SQLite / is not a SQLite backup: {error}"
        ) from None
    return int(events), int(last)


def restore_sqlite(
    backup: Path, store: Path, read_models: Path | None, *, replace: bool = False
) -> RestoreResult:
    """Put `backup` in place as the event store `store`; the read models are removed.

    An existing store is moved aside (``*.replaced-<time>``) only with `replace`, and only
    when no process holds it. Stop the server first; it rebuilds the read models on start.
    """
    events, last = check_sqlite_backup(backup)
    replaced: Path | None = None
    if store.exists():
        if not replace:
            raise BackupError(
                f"{store} sudah ada; pakai --replace (disimpan di samping, tidak dihapus) / "
                "already exists; pass --replace (it is kept beside, not deleted)"
            )
        replaced = _move_aside(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_path(store)
    try:
        shutil.copyfile(backup, partial)
        _publish(partial, store)
    finally:
        partial.unlink(missing_ok=True)
    removed = _remove_read_models(read_models) if read_models is not None else ()
    if read_models is not None:
        rewind_notifier(read_models.parent / "notify.db", last)
    return RestoreResult(f"sqlite:{store}", events, last, replaced, removed)


def rewind_notifier(path: Path, last_notification_id: int) -> None:
    """Bring the notifier's position (``notify.db``, api/notify/store.py) back to the backup.

    Its messages are not rebuilt (that would send them all again), but a position past the
    restored store would skip the new events that reuse the lost events' ids.
    """
    if not path.exists():
        return
    with (
        contextlib.closing(sqlite3.connect(path, timeout=30)) as db,
        db,
        contextlib.suppress(sqlite3.OperationalError),  # no tracking table yet
    ):
        db.execute(
            "UPDATE tracking SET position = ? WHERE position > ?",
            (last_notification_id, last_notification_id),
        )


def _require_events_table(db: sqlite3.Connection, path: Path) -> None:
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (EVENTS_TABLE,)
    ).fetchone()
    if found is None:
        raise BackupError(f"{path} bukan event store drivethru / is not a drivethru event store")


def _partial_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial-{os.getpid()}")


def _publish(partial: Path, target: Path) -> None:
    """Make `partial` durable and readable by its owner only, then rename it to `target`."""
    os.chmod(partial, 0o600)  # names, plates and NIK hashes: not for every local user
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _move_aside(store: Path) -> Path:
    with contextlib.closing(sqlite3.connect(store, timeout=0.5, isolation_level=None)) as db:
        try:  # a running server holds a connection; it would keep writing to a renamed file
            # In WAL mode only the exclusive locking mode is refused while another
            # connection has the file open, even an idle one.
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError:
            raise BackupError(
                f"{store} sedang dipakai; hentikan server dulu / is in use; stop the server first"
            ) from None
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = store.with_name(f"{store.name}.replaced-{stamp}")
    os.replace(store, aside)
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    return aside


def _remove_read_models(read_models: Path) -> tuple[Path, ...]:
    removed = []
    for path in (read_models, Path(f"{read_models}-wal"), Path(f"{read_models}-shm")):
        if path.exists():
            path.unlink()
            removed.append(path)
    return tuple(removed)


# -- PostgreSQL -------------------------------------------------------------------------------


def postgres_tool(name: str) -> str:
    """`pg_dump` or `pg_restore`: on PATH, else the newest of Debian's versioned folders."""
    found = shutil.which(name)
    if found is not None:
        return found
    candidates = sorted(
        glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise BackupError(
            f"{name} tidak ditemukan; pasang postgresql-client / not found; install "
            "postgresql-client (the same major version as the server, or newer)"
        )
    return candidates[-1]


def _postgres_args(store: StoreSettings) -> tuple[list[str], dict[str, str]]:
    args = ["--host", store.postgres_host, "--port", str(store.postgres_port)]
    args += ["--username", store.postgres_user, "--dbname", store.postgres_dbname]
    # The password goes through the environment, never the command line (`ps` shows that).
    env = {**os.environ, "PGPASSWORD": store.postgres_password.get_secret_value()}
    return args, env


def _run_tool(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[-2000:]
        raise BackupError(f"{Path(args[0]).name} gagal / failed ({result.returncode}): {detail}")


def backup_postgres(store: StoreSettings, target: Path) -> BackupResult:
    """``pg_dump --format=custom`` of the store's database (one consistent snapshot)."""
    started = time.perf_counter()
    partial = _partial_path(target)
    args, env = _postgres_args(store)
    try:
        _run_tool([postgres_tool("pg_dump"), "--format=custom", *args, "--file", str(partial)], env)
        _publish(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    return BackupResult(target, "postgres", None, None, target.stat().st_size, seconds)


def restore_postgres(backup: Path, store: StoreSettings, read_models: Path | None) -> RestoreResult:
    """``pg_restore`` into the store's database, which must exist and hold no events yet."""
    if not backup.is_file():
        raise BackupError(f"{backup} tidak ada / not found")
    args, env = _postgres_args(store)
    # One transaction: a failed restore leaves the database as it was.
    tool = postgres_tool("pg_restore")
    _run_tool(
        [tool, "--single-transaction", "--no-owner", "--exit-on-error", *args, str(backup)], env
    )
    removed = _remove_read_models(read_models) if read_models is not None else ()
    location = f"postgres://{store.postgres_host}:{store.postgres_port}/{store.postgres_dbname}"
    return RestoreResult(location, None, None, None, removed)
