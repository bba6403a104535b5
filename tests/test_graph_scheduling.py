"""Write scheduling (lineaged/graph/scheduling.py): live writes before backfill, backfill
transactions sized by their own measured time. Pure asyncio, no clocks read."""

from __future__ import annotations

import asyncio

from lineaged.graph.scheduling import TxBudget, TxSlots


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_live_write_takes_a_freed_slot_before_queued_backfill_writes() -> None:
    slots = TxSlots(regular=2, reserved=1)
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
    slots = TxSlots(regular=2, reserved=1)
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
