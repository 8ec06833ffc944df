"""Where a benchmark's limit is, from the CPU seconds of its processes and of the machine."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BUSY = 0.85
"""A share of the machine's cores (or of one core, for one process) counted as saturated."""


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (``/proc/stat``, all cores)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def where_the_limit_is(steps: Sequence[dict[str, Any]], cpus: int) -> dict[str, Any]:
    """From the first step the servers did not keep up with (or the last one): what was
    saturated, by CPU seconds."""
    failing = [s for s in steps if not s["kept_up"]]
    step = failing[0] if failing else steps[-1]
    share = step["core_share"]
    total = sum(share[n] for n in ("servers", "mqtt_links", "load_generator", "postgres",
                                   "broker", "other_processes") if n in share)  # fmt: skip
    busiest_server = max((v for k, v in share.items() if k.startswith("server_")), default=0.0)
    parts = {n: share[n] for n in ("servers", "mqtt_links", "postgres", "broker",
                                    "load_generator", "other_processes") if n in share}  # fmt: skip
    biggest = max(parts, key=lambda n: parts[n])
    if not failing:
        verdict = f"not reached: every step kept up, the last at {step['rate']:.0f}/s"
    elif total >= BUSY * cpus:
        verdict = (
            f"the {cpus} cores: {total:.2f} of {cpus} busy at {step['rate']:.0f}/s; "
            f"the largest part is {biggest} ({parts[biggest]:.2f} cores)"
        )
    elif busiest_server >= BUSY:
        verdict = f"one server's GIL: a server process at {busiest_server:.2f} of a core"
    elif parts.get("postgres", 0.0) >= BUSY:
        verdict = f"PostgreSQL at {parts['postgres']:.2f} cores"
    elif parts.get("broker", 0.0) >= BUSY:
        verdict = f"the broker at {parts['broker']:.2f} of a core (Mosquitto is one thread)"
    else:
        verdict = (
            f"no part saturated ({total:.2f} of {cpus} cores busy): latency, not CPU: "
            "each arrival waits on PostgreSQL round trips (its reads, the commit)"
        )
    return {
        "at_rate": step["rate"],
        "step_kept_up": step["kept_up"],
        "cores_busy": round(total, 2),
        "core_share": share,
        "cpu_ms_per_arrival": step["cpu_ms_per_arrival"],
        "verdict": verdict,
    }
