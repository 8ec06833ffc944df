"""The edge lane's exception tree; each error says what went wrong in Bahasa Indonesia first."""

from __future__ import annotations


class EdgeError(Exception):
    """Root of every error the lane agent raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(EdgeError):
    """A lane configuration that cannot run; ``problems`` lists each field and why."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class SourceError(EdgeError):
    """A frame source that cannot be opened at all (missing file, bad camera index)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(
            f"Sumber gambar {source!r} tidak bisa dibuka / cannot open source: {reason}"
        )
        self.source = source
        self.reason = reason


class OutboxError(EdgeError):
    """The durable outbox could not be opened or written."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"Outbox {path!r} gagal / outbox failed: {reason}")
        self.path = path
        self.reason = reason
