"""The e2e bench's figures: latency percentiles and one load phase summed up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.e2e_load import Tally


def percentiles(values: Sequence[float]) -> dict[str, float | int]:
    """Nearest-rank p50/p95/p99 in ms, with the count."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "count": 0}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "count": len(ordered)}


def summarise(tally: Tally, rate: float, seconds: float) -> dict[str, Any]:
    with tally.lock:
        sent = list(tally.by_id.values())
    acked = [s for s in sent if s.acked is not None]
    released = [s for s in sent if s.released is not None]
    # Keeping up means the releases come out over about as long as the arrivals went in.
    times = sorted(s.released for s in released if s.released is not None)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    achieved = (len(times) - 1) / span if span > 0 else 0.0
    # The pacer's own rate: if the load generator falls behind, the server is not to blame.
    out = sorted(s.published for s in sent)
    published = (len(out) - 1) / (out[-1] - out[0]) if len(out) > 1 and out[-1] > out[0] else 0.0
    return {
        "rate": rate,
        "seconds": seconds,
        "arrivals": len(sent),
        "acks": len(acked),
        "releases": len(released),
        "see_operator": tally.see_operator,
        "republished": tally.republished,
        "ack_loss": len(sent) - len(acked),
        "releases_missing": len(sent) - len(released),
        "published_rate": round(published, 1),
        "achieved_rate": round(min(achieved, len(sent) / seconds), 1),
        "release_ms": percentiles([(t - s.published) * 1000 for s in sent if (t := s.released)]),
        "ack_ms": percentiles([(t - s.published) * 1000 for s in sent if (t := s.acked)]),
    }
