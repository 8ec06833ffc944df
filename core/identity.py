"""The identity check at the window: the NIK on the KTP shown, or its last 6 digits.

The event store keeps the NIK only as a keyed hash (`core.codes.nik_hash`). A keyed hash of
the whole NIK cannot tell whether six digits are its tail, so since the window asks for
either, a second keyed hash of the last six digits is recorded with the application and
with each surat kuasa. It is kept apart from the full hash by its own label in the HMAC
message. Six digits are a million guesses: the window rate limits wrong ones per lane and
per permit (api/rate_limit.py), and the key never leaves the server.

Permits submitted before the tail hash existed have none: for them only the full NIK can
be checked, and the verdict says so instead of guessing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from core.codes import nik_hash

if TYPE_CHECKING:  # the permit records an `IdentityCheck`: imported for types only
    from core.permit import PermitApplication

TAIL_DIGITS = 6


class IdentityMethod(StrEnum):
    """How the handover's identity was established, as `HandedOver` records it."""

    NIK_MATCH = "nik_match"
    """The NIK (or its last 6 digits) typed from the KTP matched the keyed hash."""
    OPERATOR_OVERRIDE = "operator_override"
    """The operator handed over without a match, giving a reason (a KTP without a readable
    NIK, a permit recorded before tails, a system fault)."""


class Verdict(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    TAIL_UNAVAILABLE = "tail_unavailable"
    """Six digits were given, but the permit (or authorisation) has no tail hash."""
    UNREADABLE = "unreadable"
    """Neither 16 nor 6 digits."""


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    """What the window established: recorded on `HandedOver` with who handed over."""

    method: IdentityMethod
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class NikHashes:
    """The keyed hashes one person's NIK is known by: full, and (since tails) the last six."""

    full: str
    tail: str | None


def digits_of(presented: str) -> str:
    return "".join(presented.split()).replace("-", "").replace(".", "")


def nik_tail_hash(nik_or_tail: str, key: bytes) -> str:
    """Keyed hash of a NIK's last six digits (given the whole NIK or only those six).

    Raises `ValueError` when ``nik_or_tail`` is neither 16 nor 6 digits.
    """
    digits = digits_of(nik_or_tail)
    if not digits.isdigit() or len(digits) not in (16, TAIL_DIGITS):
        raise ValueError("NIK harus 16 atau 6 angka terakhir / NIK must be 16 or its last 6 digits")
    message = b"nik-tail-6:" + digits[-TAIL_DIGITS:].encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verdict(presented: str, known: NikHashes, key: bytes) -> Verdict:
    """Whether ``presented`` (16 digits, or the last 6) is the NIK ``known`` stands for."""
    digits = digits_of(presented)
    if not digits.isdigit():
        return Verdict.UNREADABLE
    if len(digits) == 16:
        matched = hmac.compare_digest(nik_hash(digits, key), known.full)
    elif len(digits) == TAIL_DIGITS:
        if known.tail is None:
            return Verdict.TAIL_UNAVAILABLE
        matched = hmac.compare_digest(nik_tail_hash(digits, key), known.tail)
    else:
        return Verdict.UNREADABLE
    return Verdict.MATCH if matched else Verdict.MISMATCH


def known_hashes(permit: PermitApplication, delegate_id: str | None) -> NikHashes | None:
    """The hashes of the holder's NIK, or of the named delegate's (None: no such delegate)."""
    if delegate_id is None:
        return NikHashes(permit.nik_hash, permit.nik_tail_hash)
    delegate = permit.delegates.get(delegate_id)
    if delegate is None:
        return None
    return NikHashes(delegate.nik_hash, delegate.nik_tail_hash)


def released_for_delegate(permit: PermitApplication) -> str | None:
    """The delegate whose pickup code released the permit to the window, if one's did."""
    code = permit.released_by_code
    if code is None:
        return None
    for delegate in permit.delegates.values():
        if delegate.code_sha256 == code:
            return delegate.delegate_id
    return None
