"""The durable outbox with a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID, uuid4

from edge_lane.outbox import Outbox


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_survive_a_reopen_in_their_order(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    ids = [uuid4() for _ in range(5)]
    box = Outbox(path, 100)
    for n, mid in enumerate(ids):
        assert box.add(mid, "t", f"p{n}".encode())
    del box  # no close: as if the process died
    reopened = Outbox(path, 100)
    assert [e.id for e in reopened.due()] == ids
    assert reopened.due()[2].payload == b"p2"
    reopened.close()


def test_an_ack_removes_only_its_entry(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10)
    a, b = uuid4(), uuid4()
    box.add(a, "t", b"a")
    box.add(b, "t", b"b")
    assert box.ack(a)
    assert not box.ack(a)  # a duplicate ack is harmless
    assert not box.ack(UUID(int=7))
    assert [e.id for e in box.due()] == [b]
    assert box.counts().acked == 1


def test_a_full_outbox_keeps_the_oldest_and_refuses_the_newest(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 3)
    ids = [uuid4() for _ in range(5)]
    results = [box.add(mid, "t", b"x") for mid in ids]
    assert results == [True, True, True, False, False]
    assert [e.id for e in box.due()] == ids[:3]
    assert box.counts().refused == 2
    box.ack(ids[0])
    assert box.add(ids[3], "t", b"x")


def test_the_same_id_is_stored_once(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 3)
    mid = uuid4()
    box.add(mid, "t", b"x")
    box.add(mid, "t", b"x")
    assert box.depth() == 1


def test_sent_entries_wait_for_the_retry_period_unless_everything_is_asked(
    tmp_path: Path,
) -> None:
    clock = Clock()
    box = Outbox(tmp_path / "o.db", 10, clock=clock)
    first, second = uuid4(), uuid4()
    box.add(first, "t", b"1")
    box.add(second, "t", b"2")
    box.mark_sent(first)
    assert [e.id for e in box.due(retry_after=30)] == [second]
    clock.now += 31
    assert [e.id for e in box.due(retry_after=30)] == [first, second]
    assert [e.id for e in box.due()] == [first, second]  # after a reconnect: all, in order
    assert box.due()[0].attempts == 1
