"""The team device's errors, under the edge's one exception tree (`edge_lane.errors.EdgeError`)."""

from __future__ import annotations

from pathlib import Path

from edge_lane.errors import ConfigError, EdgeError


class ManifestKeyError(ConfigError):
    """The manifest key is missing from the environment or is not a 256-bit key."""


class ManifestVaultError(EdgeError):
    """The stored manifest cannot be used; the device refuses to start on it."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


class ManifestTamperedError(ManifestVaultError):
    """The stored manifest fails authentication: changed, corrupted, or under another key."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            path,
            f"Manifest tersimpan {path} ditolak: isinya diubah, rusak, atau kuncinya lain. "
            "Hapus berkas itu hanya jika yakin, lalu sambungkan ke broker untuk manifest baru.\n"
            f"Stored manifest {path} refused: it was changed, is corrupted, or was written "
            "under another key. Delete it only if you are sure, then connect to the broker "
            "for a fresh manifest.",
        )


class HandoverRefusedError(EdgeError):
    """A handover the device will not record (no identity check, unknown verdict, full outbox)."""
