"""Counters and a histogram in Prometheus text format, without a client library."""

from __future__ import annotations

import bisect
import threading
from collections import Counter

LATENCY_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)


class Metrics:
    """The server's numbers; thread-safe, since the bridge and the API both count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.arrivals: Counter[str] = Counter()
        self.departures: Counter[str] = Counter()
        self.handovers = 0
        self.conflicts = 0
        self.invalid_messages = 0
        self.rejected_messages: Counter[str] = Counter()
        self.log_lines_held_back = 0
        self.rate_limited: Counter[str] = Counter()
        self._latency_counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
        self._latency_sum = 0.0
        self._latency_n = 0
        self.gauges: dict[str, float] = {}

    def arrival(self, outcome: str) -> None:
        with self._lock:
            self.arrivals[outcome] += 1

    def departure(self, outcome: str) -> None:
        with self._lock:
            self.departures[outcome] += 1

    def release_latency(self, ms: float) -> None:
        with self._lock:
            self._latency_counts[bisect.bisect_left(LATENCY_BUCKETS_MS, ms)] += 1
            self._latency_sum += ms
            self._latency_n += 1

    def handover(self) -> None:
        with self._lock:
            self.handovers += 1

    def conflict(self) -> None:
        with self._lock:
            self.conflicts += 1

    def invalid_message(self) -> None:
        with self._lock:
            self.invalid_messages += 1

    def rejected_message(self, kind: str) -> None:
        """A message rejected, by a kind named in our code (never text from the payload)."""
        with self._lock:
            self.rejected_messages[kind] += 1

    def log_line_held_back(self) -> None:
        with self._lock:
            self.log_lines_held_back += 1

    def refused_by_rate_limit(self, rule: str) -> None:
        with self._lock:
            self.rate_limited[rule] += 1

    def set_gauge(self, name: str, value: float) -> None:
        with self._lock:
            self.gauges[name] = value

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP drivethru_arrivals_total Arrival messages by outcome.",
                "# TYPE drivethru_arrivals_total counter",
            ]
            for outcome, n in sorted(self.arrivals.items()):
                lines.append(f'drivethru_arrivals_total{{outcome="{outcome}"}} {n}')
            lines += [
                "# HELP drivethru_departures_total Departure messages by outcome.",
                "# TYPE drivethru_departures_total counter",
            ]
            for outcome, n in sorted(self.departures.items()):
                lines.append(f'drivethru_departures_total{{outcome="{outcome}"}} {n}')
            lines += [
                "# HELP drivethru_release_latency_ms Arrival received to release published.",
                "# TYPE drivethru_release_latency_ms histogram",
            ]
            running = 0
            for bound, n in zip(LATENCY_BUCKETS_MS, self._latency_counts, strict=False):
                running += n
                lines.append(f'drivethru_release_latency_ms_bucket{{le="{bound}"}} {running}')
            lines.append(f'drivethru_release_latency_ms_bucket{{le="+Inf"}} {self._latency_n}')
            lines.append(f"drivethru_release_latency_ms_sum {self._latency_sum:.3f}")
            lines.append(f"drivethru_release_latency_ms_count {self._latency_n}")
            lines += [
                "# TYPE drivethru_handovers_total counter",
                f"drivethru_handovers_total {self.handovers}",
                "# TYPE drivethru_handover_conflicts_total counter",
                f"drivethru_handover_conflicts_total {self.conflicts}",
                "# TYPE drivethru_invalid_messages_total counter",
                f"drivethru_invalid_messages_total {self.invalid_messages}",
                "# HELP drivethru_rejected_messages_total MQTT messages rejected, by kind.",
                "# TYPE drivethru_rejected_messages_total counter",
            ]
            for kind, n in sorted(self.rejected_messages.items()):
                lines.append(f'drivethru_rejected_messages_total{{reason="{kind}"}} {n}')
            lines += [
                "# HELP drivethru_log_lines_held_back_total Warnings not written: same kind.",
                "# TYPE drivethru_log_lines_held_back_total counter",
                f"drivethru_log_lines_held_back_total {self.log_lines_held_back}",
                "# HELP drivethru_rate_limited_total Requests refused with 429, by rule.",
                "# TYPE drivethru_rate_limited_total counter",
            ]
            for rule, n in sorted(self.rate_limited.items()):
                lines.append(f'drivethru_rate_limited_total{{rule="{rule}"}} {n}')
            for name, value in sorted(self.gauges.items()):
                lines.append(f"# TYPE drivethru_{name} gauge")
                lines.append(f"drivethru_{name} {value:g}")
        return "\n".join(lines) + "\n"
