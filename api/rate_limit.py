"""Rate limits on guessing: wrong pickup codes, wrong API keys, and the citizen's forms.

Token buckets per client address and per key (the code or the API key, hashed): a burst,
then so many a minute. A request is checked before it is looked at and, for guesses, a
token is spent only when it fails, so the right code or key is never slowed by others'
mistakes from elsewhere, while a guesser waits whatever it guesses next. Memory is bounded:
the least recently used buckets go first (a full bucket forgotten changes nothing).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request

from api.metrics import Metrics
from api.settings import Allowance, RateLimitSettings
from core.errors import DrivethruError


class Rule(StrEnum):
    WRONG_CODES = "wrong_codes"
    """Unknown or malformed pickup codes at `/p/{code}`."""
    WRONG_KEYS = "wrong_keys"
    """Unknown API keys, as bearer or at `/login`."""
    FORMS = "forms"
    """The citizen's forms (feedback, delegate): every post counts."""
    WRONG_NIK = "wrong_nik"
    """NIKs at the window that match neither holder nor delegate: per lane and per permit."""


class RateLimitedError(DrivethruError):
    code = "rate_limited"
    status = 429

    def __init__(self, rule: Rule, retry_after: int) -> None:
        super().__init__(
            f"Terlalu banyak percobaan, coba lagi dalam {retry_after} detik / "
            f"too many attempts, try again in {retry_after} s"
        )
        self.rule = rule
        self.retry_after = retry_after


_Slot = tuple[str, str, str]  # rule, "address" or "key", the address or the key's hash


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


def client_address(request: Request) -> str:
    """The caller's address (uvicorn puts a trusted proxy's X-Forwarded-For here)."""
    return request.client.host if request.client else "unknown"


class RateLimiter:
    """The buckets of every rule; thread-safe (sync routes run in a thread pool)."""

    def __init__(
        self,
        settings: RateLimitSettings,
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self._buckets: OrderedDict[_Slot, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def _allowances(self, rule: Rule) -> tuple[Allowance, Allowance]:
        s = self.settings
        return {
            Rule.WRONG_CODES: (s.wrong_codes_per_address, s.wrong_codes_per_key),
            Rule.WRONG_KEYS: (s.wrong_keys_per_address, s.wrong_keys_per_key),
            Rule.FORMS: (s.forms_per_address, s.forms_per_code),
            Rule.WRONG_NIK: (s.wrong_nik_per_lane, s.wrong_nik_per_permit),
        }[rule]

    def _slots(
        self, rule: Rule, address: str, key: str
    ) -> list[tuple[tuple[str, str, str], Allowance]]:
        per_address, per_key = self._allowances(rule)
        # Keys are held hashed: an API key tried must not sit in memory in clear.
        hashed = hashlib.sha256(key.encode()).hexdigest()[:32]
        return [((rule, "address", address), per_address), ((rule, "key", hashed), per_key)]

    def _bucket(self, slot: _Slot, allowance: Allowance, now: float) -> _Bucket:
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = _Bucket(float(allowance.burst), now)
            while len(self._buckets) > self.settings.tracked:
                self._buckets.popitem(last=False)
        else:
            refill = (now - bucket.at) * allowance.per_minute / 60
            bucket.tokens, bucket.at = min(float(allowance.burst), bucket.tokens + refill), now
            self._buckets.move_to_end(slot)
        return bucket

    def check(self, rule: Rule, address: str, key: str) -> None:
        """Raise `RateLimitedError` (with the seconds to wait) when either bucket is empty."""
        if not self.settings.enabled:
            return
        wait = 0.0
        with self._lock:
            now = self.clock()
            for slot, allowance in self._slots(rule, address, key):
                bucket = self._bucket(slot, allowance, now)
                if bucket.tokens < 1:
                    wait = max(wait, (1 - bucket.tokens) * 60 / allowance.per_minute)
        if wait > 0:
            self.metrics.refused_by_rate_limit(rule.value)
            raise RateLimitedError(rule, max(1, math.ceil(wait)))

    def spend(self, rule: Rule, address: str, key: str) -> None:
        """Take a token from both buckets (a failed guess, or a form posted)."""
        if not self.settings.enabled:
            return
        with self._lock:
            now = self.clock()
            for slot, allowance in self._slots(rule, address, key):
                bucket = self._bucket(slot, allowance, now)
                bucket.tokens = max(0.0, bucket.tokens - 1)

    def take(self, rule: Rule, address: str, key: str) -> None:
        """Check, then spend: for what counts every time."""
        self.check(rule, address, key)
        self.spend(rule, address, key)
