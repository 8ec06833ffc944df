"""The JSON log line: one object a line, with the process's context and the line's own ids."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timedelta
from uuid import uuid4

from edge_lane.logs import JsonLogFormatter


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("edge_lane.agent")
    return logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, message, args, None, extra=extra
    )


def test_a_line_carries_time_level_logger_message_and_the_process_context() -> None:
    formatter = JsonLogFormatter({"site": "badung", "lane": "1"})

    line = json.loads(formatter.format(_record("camera %s ended after %d frames", "window", 7)))

    assert line["level"] == "INFO"
    assert line["logger"] == "edge_lane.agent"
    assert line["message"] == "camera window ended after 7 frames"
    assert (line["site"], line["lane"]) == ("badung", "1")
    assert datetime.fromisoformat(line["at"]).utcoffset() == timedelta(0)
    assert "arrival" not in line
    assert "error" not in line


def test_ids_passed_by_the_call_site_are_fields_and_win_over_the_context() -> None:
    arrival, visit = uuid4(), uuid4()
    formatter = JsonLogFormatter({"site": "badung", "lane": "1"})

    line = json.loads(
        formatter.format(_record("ARRIVAL", arrival=arrival, visit=str(visit), lane="2"))
    )

    assert line["arrival"] == str(arrival)
    assert line["visit"] == str(visit)
    assert line["lane"] == "2"
    assert "permit" not in line


def test_an_exception_goes_in_error_with_its_traceback() -> None:
    formatter = JsonLogFormatter()
    try:
        raise ValueError("frame of the wrong shape")
    except ValueError:
        record = logging.getLogger("api.bridge").makeRecord(
            "api.bridge", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )

    text = formatter.format(record)
    line = json.loads(text)

    assert "\n" not in text
    assert line["message"] == "failed"
    assert line["error"].startswith("Traceback")
    assert "ValueError: frame of the wrong shape" in line["error"]


def test_an_argument_json_cannot_hold_still_makes_a_line() -> None:
    line = json.loads(JsonLogFormatter().format(_record("odd", permit=object())))

    assert line["permit"].startswith("<object")
