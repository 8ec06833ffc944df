"""What the runner asks of the fold worker (`projections.worker`), and starting one.

Apart from the worker's own module, so that the runner starts workers without importing
what the worker process wires up (`projections.bootstrap`, which imports the runner).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection

from core.child import spawn

# Messages from the worker: ("page", PageRows), ("end", position) or ("error", text).
# Messages to it: the last committed position (int), or None to stop.


@dataclass(frozen=True, slots=True)
class FoldJob:
    """What the worker folds: the log after ``after``, against the read models' rows."""

    log_path: str
    log_table: str
    read_models_path: str
    after: int
    page_size: int
    cache_rows: int
    ahead: int = 4
    """Pages folded but not yet committed, at most: bounds the memory both sides use."""


def start(job: FoldJob) -> tuple[subprocess.Popen[bytes], Connection]:
    """Start a worker for ``job``; talk to it over the returned connection."""
    return spawn("projections.worker", json.dumps(asdict(job)))
