"""What a lane box keeps of the plates it reads: masked in its logs, nothing once acked."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from core.plates import mask_plate
from edge_lane.outbox import Outbox


@pytest.mark.parametrize(
    ("plate", "masked"),
    [("DK1234AB", "DK****AB"), ("DK 1234 AB", "DK****AB"), ("B1A", "***"), ("AB12C", "AB*2C")],
)
def test_a_plate_in_a_log_line_keeps_its_ends_only(plate: str, masked: str) -> None:
    assert mask_plate(plate) == masked


def test_an_acked_arrival_leaves_nothing_of_its_plate_in_the_outbox_files(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.db", max_entries=10)
    ids = [uuid.uuid4() for _ in range(3)]
    for n, message_id in enumerate(ids):
        payload = b'{"plate":{"text":"DK%04dZQ"}}' % (9990 + n)
        assert outbox.add(message_id, "drivethru/v1/sites/badung/lanes/1/arrivals", payload)

    def files() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())

    assert b"DK9990ZQ" in files()
    outbox.ack(ids[0])
    outbox.ack(ids[1])
    assert b"DK9992ZQ" in files()  # still waiting for its ack: kept
    outbox.ack(ids[2])
    for n in range(3):
        assert b"DK%04dZQ" % (9990 + n) not in files()
    outbox.close()
