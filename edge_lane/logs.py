"""How every drivethru process writes its log: today's text lines, or one JSON object a line.

The JSON form is for log stores that search by field: each line carries the site, the lane or
team of the process, and the arrival, permit or visit a line is about, passed by the call site
as ``log.info(..., extra={"arrival": str(id), "visit": str(visit)})`` (also ``permit`` and
``handover``).

It lives here, with only the standard library, because the edge, the mobile team device and
the server (which already builds on ``edge_lane``'s broker helpers) all set it up.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Ids a call site may pass in ``extra``; a record's own value wins over the process's context
# (a server line about lane 2 says lane 2).
ID_FIELDS = ("site", "lane", "team", "arrival", "departure", "permit", "visit", "handover")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: at, level, logger, message, the ids, and error if any."""

    def __init__(self, context: dict[str, str] | None = None) -> None:
        super().__init__()
        self.context = dict(context or {})

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ID_FIELDS:
            value = record.__dict__.get(field, self.context.get(field))
            if value is not None:
                line[field] = str(value)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: a log line must never fail because an argument is not JSON.
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(
    log_format: LogFormat = LogFormat.TEXT,
    *,
    verbose: bool = False,
    context: dict[str, str] | None = None,
) -> None:
    """Send the process's log to stderr in ``log_format``; calling it again replaces the setup.

    ``context`` is what every JSON line carries (``site``, ``lane`` or ``team``).
    """
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonLogFormatter(context))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True
    )
    # A third-party state machine logs every transition at INFO; that is noise in any format.
    logging.getLogger("transitions").setLevel(logging.WARNING)
