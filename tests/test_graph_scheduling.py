"""Write scheduling (lineaged/graph/scheduling.py): live writes before backfill, backfill
transactions sized by their own measured time. Pure asyncio and fake clocks: no
timing thresholds."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_neo4j import FakeNeo4j
from neo4j.exceptions import AuthError

from lineaged.deadletters import DeadLetters
from lineaged.graph.rows import build_rows, update_rows
from lineaged.graph.scheduling import TxBudget, TxSlots
from lineaged.graph.writer import GraphWriter, WriterFatalError
from lineaged.model import FileLineage, FileRef, FileUpdate, StatementLineage


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_live_write_takes_a_freed_slot_before_queued_backfill_writes() -> None:
    slots = TxSlots(regular=2, reserved=1, max_yield_s=0.0)  # backfill queues at once
    order: list[str] = []

    async def write(name: str, urgent: bool) -> None:
        await slots.acquire(urgent)
        order.append(name)

    await slots.acquire(False)
    await slots.acquire(False)  # two backfill transactions running
    await slots.acquire(True)  # and a live one in the reserved slot
    backfill = [asyncio.create_task(write(f"backfill{i}", False)) for i in range(5)]
    await _settle()
    live = asyncio.create_task(write("live", True))
    await _settle()
    assert order == []  # every slot is taken
    slots.release(False)  # a backfill transaction commits
    await _settle()
    assert order == ["live"]  # queued after five backfill writes, served first
    for task in (*backfill, live):
        task.cancel()


async def test_a_live_write_never_waits_for_backfill_holding_every_regular_slot() -> None:
    slots = TxSlots(regular=2, reserved=1)
    await slots.acquire(False)
    await slots.acquire(False)
    await asyncio.wait_for(slots.acquire(True), timeout=5)
    assert slots.in_use == 3


async def test_backfill_does_not_begin_while_a_live_write_runs_or_a_live_batch_holds() -> None:
    slots = TxSlots(regular=2, reserved=1, max_yield_s=3600.0)
    await slots.acquire(True)  # a live transaction
    backfill = asyncio.create_task(slots.acquire(False))
    await _settle()
    assert not backfill.done()  # a regular slot is free, but it yields
    with slots.hold():  # the next live batch starts before the first one commits
        slots.release(True)
        await _settle()
        assert not backfill.done()
    await _settle()
    assert backfill.done() and slots.in_use == 1


async def test_backfill_yields_to_live_work_for_at_most_max_yield_s() -> None:
    """Edits in quick succession slow the backfill down, never stop it: after
    max_yield_s a backfill write takes a free regular slot even while live work goes
    on (here 0: at once)."""
    slots = TxSlots(regular=2, reserved=1, max_yield_s=0.0)
    with slots.hold():
        await slots.acquire(True)
        await asyncio.wait_for(slots.acquire(False), timeout=30)
    assert slots.in_use == 2


async def test_one_backfill_transaction_at_a_time_while_someone_edits() -> None:
    """After live work, backfill writes take one regular slot, not both, for the
    editing window; before any live work, and with no window, they take both."""
    quiet = TxSlots(regular=2, reserved=1, max_yield_s=0.0, editing_window_s=3600.0)
    await quiet.acquire(False)
    await asyncio.wait_for(quiet.acquire(False), timeout=30)
    assert quiet.in_use == 2

    slots = TxSlots(regular=2, reserved=1, max_yield_s=0.0, editing_window_s=3600.0)
    await slots.acquire(True)  # an edit's write, now done
    slots.release(True)
    await slots.acquire(False)
    second = asyncio.create_task(slots.acquire(False))
    await _settle()
    assert not second.done() and slots.in_use == 1
    # A live write still gets the free regular slot meanwhile.
    await asyncio.wait_for(slots.acquire(True), timeout=30)
    slots.release(True)
    slots.release(False)
    await asyncio.wait_for(second, timeout=30)
    assert slots.in_use == 1

    no_window = TxSlots(regular=2, reserved=1, max_yield_s=0.0, editing_window_s=0.0)
    await no_window.acquire(True)
    no_window.release(True)
    await no_window.acquire(False)
    await asyncio.wait_for(no_window.acquire(False), timeout=30)
    assert no_window.in_use == 2


async def test_a_live_write_goes_before_a_backfill_write_that_stopped_yielding() -> None:
    slots = TxSlots(regular=1, reserved=0, max_yield_s=0.0)
    await slots.acquire(False)
    order: list[str] = []

    async def write(name: str, urgent: bool) -> None:
        await slots.acquire(urgent)
        order.append(name)

    backfill = asyncio.create_task(write("backfill", False))
    await _settle()
    live = asyncio.create_task(write("live", True))
    await _settle()
    slots.release(False)
    await _settle()
    assert order == ["live"]
    slots.release(True)
    await _settle()
    assert order == ["live", "backfill"]
    await asyncio.gather(backfill, live)


async def test_a_cancelled_waiter_hands_its_slot_on() -> None:
    slots = TxSlots(regular=1, reserved=0)
    await slots.acquire(False)
    first = asyncio.create_task(slots.acquire(False))
    second = asyncio.create_task(slots.acquire(False))
    await _settle()
    first.cancel()
    await _settle()
    slots.release(False)
    await _settle()
    assert second.done() and slots.in_use == 1


def test_backfill_transactions_are_sized_by_their_measured_time() -> None:
    budget = TxBudget(0.1, max_rows=5_000, min_rows=50, first_rows=1_000, weight=1.0)
    assert budget.rows() == 1_000  # nothing measured yet
    budget.observe(1_000, 2.0)  # 500 rows/s on a busy server
    assert budget.rows() == 50  # 0.1 s of it
    budget.observe(50, 0.001)  # 50,000 rows/s: capped by rows_per_tx
    assert budget.rows() == 5_000
    budget.observe(2_000, 1.0)
    assert budget.rows() == 200


def test_the_measured_rate_is_smoothed() -> None:
    budget = TxBudget(1.0, max_rows=100_000, weight=0.5)
    budget.observe(1_000, 1.0)
    budget.observe(3_000, 1.0)
    assert budget.rows() == 2_000


def test_a_zero_target_means_row_count_only() -> None:
    budget = TxBudget(0.0, max_rows=5_000)
    budget.observe(10, 10.0)
    assert budget.rows() == 5_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _timed_writer(
    tmp_path: Path, *, statement_s: float, rows_per_tx: int
) -> tuple[FakeNeo4j, GraphWriter, FakeClock]:
    """One backfill slot, 0.1 s transactions; each statement takes `statement_s` on the
    writer's fake clock."""
    clock = FakeClock()

    def statement() -> None:
        clock.now += statement_s

    neo4j = FakeNeo4j(statement)
    writer = GraphWriter(
        neo4j,  # type: ignore[arg-type]
        "neo4j",
        DeadLetters(tmp_path / "dead.jsonl"),
        max_concurrency=1,
        rows_per_tx=rows_per_tx,
        backfill_tx_s=0.1,
        clock=clock,
    )
    return neo4j, writer, clock


async def test_backfill_sizing_times_the_transaction_not_its_wait_for_a_slot(
    tmp_path: Path,
) -> None:
    neo4j, writer, clock = _timed_writer(tmp_path, statement_s=0.005, rows_per_tx=100_000)
    lineage = FileLineage(
        "postgres",
        "t1",
        (StatementLineage(0, 1, "insert", ("mart.t",), tuple(f"raw.s{i}" for i in range(40))),),
    )
    update = FileUpdate(FileRef("r", "a.sql"), "s1", "postgres", lineage)
    rows = build_rows([update]).row_count
    assert writer.backfill_rows == 100_000  # no live edits around: rows_per_tx
    with writer.hold_backfill():  # a live edit: backfill is now sized by time
        pass
    await writer._slots.acquire(False)  # another backfill transaction holds the slot ...
    write = asyncio.create_task(writer.write([update]))
    await _settle()
    clock.now += 30.0  # ... for 30 s
    writer._slots.release(False)
    await write
    tx_seconds = len(neo4j.runs) * 0.005
    # 0.1 s at the transaction's own rate (the 30 s wait would have made it min_rows).
    assert abs(writer.backfill_rows - rows / tx_seconds * 0.1) <= 1
    assert writer.backfill_rows > 50


def _file(i: int, sources: int = 90) -> FileUpdate:
    lineage = FileLineage(
        "postgres",
        f"t{i}",
        (
            StatementLineage(
                0, 1, "insert", (f"mart.t{i}",), tuple(f"raw.s{j}" for j in range(sources))
            ),
        ),
    )
    return FileUpdate(FileRef("r", f"f{i}.sql"), f"s{i}", "postgres", lineage)


def _files_per_transaction(neo4j: FakeNeo4j) -> list[int]:
    return [len(p["p"]["files"]) for q, p in neo4j.runs if "files" in p["p"]]


async def test_a_backfill_transaction_is_sized_when_it_begins_not_when_its_batch_came(
    tmp_path: Path,
) -> None:
    """A batch that arrived while nobody edited is not cut into rows_per_tx chunks up
    front: once a live edit has come, its next transactions are sized by time."""
    # 470 rows in 3 s: 0.1 s of that rate is below min_rows (200), which it then gets.
    neo4j, writer, _ = _timed_writer(tmp_path, statement_s=1.0, rows_per_tx=500)
    updates = [_file(i) for i in range(12)]
    per_file = update_rows(updates[0])
    assert 5 * per_file <= 500 < 6 * per_file and 2 * per_file <= 200 < 3 * per_file
    neo4j.gate = asyncio.Event()
    write = asyncio.create_task(writer.write(updates))
    await _settle()  # nobody edits: the first transaction holds rows_per_tx rows
    assert neo4j.begins == 1
    with writer.hold_backfill():  # a live edit comes (and goes) meanwhile
        await _settle()
    neo4j.gate.set()
    await write
    sizes = _files_per_transaction(neo4j)
    assert sizes[0] == 5 and sum(sizes) == 12
    # Every later transaction began after the edit: min_rows (200) = 2 files each.
    assert sizes[1:] == [2, 2, 2, 1]


async def test_a_backfill_turn_waits_for_a_free_slot_without_taking_it() -> None:
    slots = TxSlots(regular=1, reserved=1, max_yield_s=0.0)
    await slots.acquire(False)  # the one backfill slot is taken
    turn = asyncio.create_task(slots.backfill_turn())
    await _settle()
    assert not turn.done()
    slots.release(False)
    await _settle()
    assert turn.done() and slots.in_use == 0  # told, and nothing taken for it


async def test_a_backfill_turn_yields_to_a_live_batch() -> None:
    slots = TxSlots(regular=2, reserved=1, max_yield_s=3600.0)
    with slots.hold():
        turn = asyncio.create_task(slots.backfill_turn())
        await _settle()
        assert not turn.done()  # slots are free, but a live batch is under way
    await _settle()
    assert turn.done()


async def test_a_fatal_error_in_a_backfill_of_several_transactions_says_so(
    tmp_path: Path,
) -> None:
    """The daemon stops on WriterFatalError (wrong credentials): a batch written in
    several transactions must raise it as such, not inside an ExceptionGroup."""

    def refused() -> None:
        raise AuthError("The client is unauthorized due to authentication failure.")

    writer = GraphWriter(
        FakeNeo4j(refused),  # type: ignore[arg-type]
        "neo4j",
        DeadLetters(tmp_path / "dead.jsonl"),
        rows_per_tx=100,
    )
    with pytest.raises(WriterFatalError):
        await writer.write([_file(i) for i in range(5)])  # 94 rows each: 5 transactions
