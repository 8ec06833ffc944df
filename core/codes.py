"""Pickup codes: ``DT1:`` and 26 base32 characters carrying 128 random bits.

The code is short on purpose: it fits QR version 2 in alphanumeric mode, whose big modules
read from a car window far more often than a signed token does (DESIGN.md, "The pickup code").
Only its SHA-256 is ever stored or sent over MQTT; the code itself is shown to the citizen.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from core.errors import PickupCodeError

PREFIX = "DT1:"
BODY_LENGTH = 26
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_ENTROPY_BYTES = 16


def hash_code_text(text: str) -> str:
    """Hex SHA-256 of a code's canonical text, as the event store and manifests keep it."""
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class PickupCode:
    """A well-formed pickup code. Its text never appears in ``repr`` (logs must not leak it)."""

    text: str = field(repr=False)

    @classmethod
    def generate(cls) -> PickupCode:
        """A fresh code from 128 bits of the operating system's randomness."""
        body = base64.b32encode(secrets.token_bytes(_ENTROPY_BYTES)).decode("ascii")
        return cls(PREFIX + body.rstrip("="))

    @classmethod
    def parse(cls, raw: str) -> PickupCode:
        """Validate ``raw`` (surrounding space and case forgiven); raise `PickupCodeError`."""
        text = raw.strip().upper()
        if not text.startswith(PREFIX):
            raise PickupCodeError(f"awalan harus {PREFIX} / must start with {PREFIX}")
        body = text[len(PREFIX) :]
        if len(body) != BODY_LENGTH:
            raise PickupCodeError(
                f"panjang {len(body)}, harus {BODY_LENGTH} / length {len(body)}, "
                f"expected {BODY_LENGTH}"
            )
        if not set(body) <= _BASE32:
            raise PickupCodeError("karakter di luar base32 / characters outside base32")
        # 26 base32 characters carry 130 bits; the last two must be zero in a real code.
        decoded = base64.b32decode(body + "======")
        if base64.b32encode(decoded).decode("ascii").rstrip("=") != body:
            raise PickupCodeError("bit penutup tidak nol / trailing bits are not zero")
        return cls(text)

    @classmethod
    def is_well_formed(cls, raw: str) -> bool:
        try:
            cls.parse(raw)
        except PickupCodeError:
            return False
        return True

    @property
    def sha256(self) -> str:
        return hash_code_text(self.text)

    def matches(self, code_sha256: str) -> bool:
        """Constant-time comparison with a stored hash."""
        return hmac.compare_digest(self.sha256, code_sha256.lower())

    def __repr__(self) -> str:
        return f"PickupCode({self.text[:7]}…)"

    __str__ = __repr__


def nik_hash(nik: str, key: bytes) -> str:
    """Keyed hash of a 16-digit NIK (KTP number); the NIK itself is never stored.

    Raises `ValueError` when ``nik`` is not 16 digits.
    """
    digits = nik.strip().replace(" ", "")
    if len(digits) != 16 or not digits.isdigit():
        raise ValueError("NIK harus 16 angka / NIK must be 16 digits")
    return hmac.new(key, digits.encode("ascii"), hashlib.sha256).hexdigest()


def mask_nik(nik: str) -> str:
    """``3171234567890001`` -> ``3171********0001``, what a screen may show."""
    digits = nik.strip().replace(" ", "")
    return digits[:4] + "*" * max(0, len(digits) - 8) + digits[-4:]


def mask_name(name: str) -> str:
    """``I Wayan Sudirta`` -> ``I W**** S******``: enough for an operator, little for others."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())
