"""The manifest at rest: AES-256-GCM with a key from the environment, written atomically.

The manifest holds personal data (masked names and NIKs, plates), and a laptop in the field
can be lost, so the file is encrypted. GCM also authenticates it: a file changed on disk, cut
short, or copied from another team (the team's topic is the associated data) fails to open,
and the device refuses to start on it rather than trusting it.

File layout: ``MAGIC`` (6 bytes) + nonce (12 random bytes) + ciphertext with its 16-byte tag.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from core.contract import Topics
from edge_lane.mobile.errors import ManifestKeyError, ManifestTamperedError, ManifestVaultError
from edge_lane.mobile.manifest import DeviceManifest

MAGIC = b"DTMV1\n"
KEY_BYTES = 32
NONCE_BYTES = 12


def new_key_text() -> str:
    """A fresh key as the environment variable should hold it (URL-safe base64)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def manifest_key(env_name: str, environ: Mapping[str, str] | None = None) -> bytes:
    """The 256-bit key in ``env_name`` (base64 or 64 hex digits); raises `ManifestKeyError`."""
    env = os.environ if environ is None else environ
    text = env.get(env_name, "").strip()
    if not text:
        raise ManifestKeyError(
            f"Variabel {env_name} kosong: kunci manifest wajib ada "
            f"(buat dengan `python -m edge_lane.mobile --new-key`) / environment variable "
            f"{env_name} is not set: the manifest key is required (manifest_key_env)"
        )
    key: bytes | None = None
    if len(text) == 2 * KEY_BYTES:
        with contextlib.suppress(ValueError):
            key = bytes.fromhex(text)
    if key is None:
        with contextlib.suppress(binascii.Error, ValueError):
            key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if key is None or len(key) != KEY_BYTES:
        raise ManifestKeyError(
            f"Variabel {env_name} bukan kunci 256-bit (base64 atau 64 digit hex) / "
            f"{env_name} is not a 256-bit key (base64 or 64 hex digits)"
        )
    return key


class ManifestVault:
    """Reads and writes one team's `DeviceManifest`, encrypted and authenticated."""

    def __init__(self, path: Path, key: bytes, *, site: str, team: str) -> None:
        if len(key) != KEY_BYTES:
            raise ManifestKeyError("kunci harus 32 byte / the key must be 32 bytes")
        self.path = path
        self._aead = AESGCM(key)
        # Binding the team's topic means a file copied from another team fails to open.
        self._associated = Topics(site).team_manifest(team).encode()

    def load(self) -> DeviceManifest | None:
        """The stored state, or None when nothing was stored yet.

        Raises `ManifestTamperedError` when the file does not authenticate.
        """
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ManifestVaultError(
                self.path, f"Manifest {self.path} tidak terbaca / cannot be read: {error}"
            ) from None
        header = len(MAGIC) + NONCE_BYTES
        if len(blob) < header + 16 or not blob.startswith(MAGIC):
            raise ManifestTamperedError(self.path)
        nonce, sealed = blob[len(MAGIC) : header], blob[header:]
        try:
            plain = self._aead.decrypt(nonce, sealed, self._associated)
        except InvalidTag:
            raise ManifestTamperedError(self.path) from None
        try:
            return DeviceManifest.model_validate_json(plain)
        except ValidationError:
            # Authentic but unreadable: written by an incompatible version of the device.
            raise ManifestVaultError(
                self.path,
                f"Manifest {self.path} dari versi lain / written by another version",
            ) from None

    def save(self, state: DeviceManifest) -> None:
        """Encrypt and replace the file atomically (a crash leaves the old or the new one)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, state.model_dump_json().encode(), self._associated)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(MAGIC + nonce + sealed)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
