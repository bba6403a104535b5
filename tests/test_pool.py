from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import pool_tasks

from lineaged.model import Priority
from lineaged.pool import PoolClosed, PriorityPool, WorkerCrashed, may_dispatch


async def make_pool(fn=pool_tasks.dispatch, **kw) -> PriorityPool:
    pool = PriorityPool(fn, start_method="forkserver", preload=("pool_tasks",), **kw)
    await pool.start()
    return pool


async def test_results_and_worker_exceptions_come_back() -> None:
    pool = await make_pool(workers=2)
    try:
        assert await pool.submit(Priority.HIGH, "echo", 42) == 42
        with pytest.raises(ValueError, match="bad input 7"):
            await pool.submit(Priority.HIGH, "boom", 7)
    finally:
        await pool.close()


async def test_high_priority_overtakes_a_low_backlog() -> None:
    pool = await make_pool(workers=1, max_in_flight=1)
    done: list[str] = []

    async def run(prio: Priority, name: str) -> None:
        await pool.submit(prio, "sleep", name, 0.02)
        done.append(name)

    try:
        lows = [asyncio.create_task(run(Priority.LOW, f"low{i}")) for i in range(30)]
        await asyncio.sleep(0.1)  # the backlog is queued and running
        await run(Priority.HIGH, "high")
        await asyncio.gather(*lows)
    finally:
        await pool.close()
    # Only the tasks already dispatched before the edit may precede it.
    assert done.index("high") < 15


async def test_a_live_task_runs_right_after_the_backfill_task_in_its_worker() -> None:
    """Backfill leaves a place in the executor to live tasks: a live task submitted
    while 30 backfill tasks are queued runs next after the backfill task its one
    worker is running (max_in_flight 2, so one backfill task at a time). On the old
    code backfill filled both places, so one more always ran first."""
    pool = await make_pool(workers=1)
    done: list[str] = []

    async def run(prio: Priority, name: str) -> None:
        await pool.submit(prio, "sleep", name, 0.05)
        done.append(name)

    try:
        lows = [asyncio.create_task(run(Priority.LOW, f"low{i}")) for i in range(30)]
        while not done:  # the backlog is flowing
            await asyncio.sleep(0.01)
        before = len(done)
        await run(Priority.HIGH, "high")
        await asyncio.gather(*lows)
    finally:
        await pool.close()
    assert done.index("high") - before <= 1


@pytest.mark.parametrize(
    ("priority", "taken", "taken_low", "reserved", "expected"),
    [
        # Backfill: one place of max_in_flight always left to live tasks ...
        (Priority.LOW, 2, 2, False, True),
        (Priority.LOW, 3, 3, False, False),
        # ... and workers - 1 while a live batch is on its way.
        (Priority.LOW, 1, 1, True, False),
        (Priority.LOW, 0, 0, True, True),
        # Live: up to max_in_flight, whatever the backfill holds.
        (Priority.HIGH, 3, 3, True, True),
        (Priority.HIGH, 3, 3, False, True),
        (Priority.CRITICAL, 2, 2, True, True),
        (Priority.HIGH, 4, 3, False, False),
    ],
)
def test_dispatch_rule(
    priority: Priority, taken: int, taken_low: int, reserved: bool, expected: bool
) -> None:
    got = may_dispatch(
        priority,
        workers=2,
        max_in_flight=4,
        taken=taken,
        taken_low=taken_low,
        reserved=reserved,
    )
    assert got is expected


async def test_a_reserved_worker_is_kept_free_of_backfill() -> None:
    """While a live batch holds reserve_worker(), a two-worker pool runs at most one
    backfill task; once released, both workers take backfill again."""
    pool = await make_pool(workers=2)
    try:
        lows = [asyncio.create_task(pool.submit(Priority.LOW, "sleep", i, 0.02)) for i in range(40)]
        with pool.reserve_worker():
            await asyncio.sleep(0)  # the dispatcher sees the reservation
            done_at_start = sum(t.done() for t in lows)
            while sum(t.done() for t in lows) < done_at_start + 3:
                await asyncio.sleep(0.005)
            # Tasks already handed over before the reservation have finished by now.
            assert pool.backfill_in_flight <= 1
        peak_after = 0
        while not all(t.done() for t in lows):
            await asyncio.sleep(0.005)
            peak_after = max(peak_after, pool.backfill_in_flight)
        await asyncio.gather(*lows)
    finally:
        await pool.close()
    assert peak_after >= 2  # both workers (and a task queued for them) again


@pytest.mark.parametrize(
    ("workers", "taken_low", "expected"),
    [
        # While someone edits, backfill keeps to workers - 1 places ...
        (2, 0, True),
        (2, 1, False),
        (3, 1, True),
        (3, 2, False),
        # ... but never fewer than one: a one-worker pool still backfills.
        (1, 0, True),
        (1, 1, False),
    ],
)
def test_dispatch_rule_while_editing(workers: int, taken_low: int, expected: bool) -> None:
    got = may_dispatch(
        Priority.LOW,
        workers=workers,
        max_in_flight=2 * workers,
        taken=taken_low,
        taken_low=taken_low,
        reserved=False,
        editing=True,
    )
    assert got is expected


async def _backfill_peak(pool: PriorityPool) -> int:
    """Submit a live task, then a backlog; the most backfill tasks ever in flight."""
    await pool.submit(Priority.HIGH, "echo", 1)
    lows = [asyncio.create_task(pool.submit(Priority.LOW, "sleep", i, 0.02)) for i in range(30)]
    peak = 0
    while not all(t.done() for t in lows):
        await asyncio.sleep(0.002)
        peak = max(peak, pool.backfill_in_flight)
    await asyncio.gather(*lows)
    return peak


async def test_backfill_leaves_a_worker_free_while_someone_edits() -> None:
    """After a live task, a two-worker pool runs one backfill task at a time for the
    editing window (an hour here, so a slow host cannot outlast it); with no window,
    both workers and a queued task take backfill again."""
    pool = await make_pool(workers=2, editing_window_s=3600.0)
    try:
        assert pool.editing is False
        assert await _backfill_peak(pool) == 1
        assert pool.editing is True
    finally:
        await pool.close()
    pool = await make_pool(workers=2, editing_window_s=0.0)
    try:
        assert await _backfill_peak(pool) >= 2
    finally:
        await pool.close()


async def test_tasks_queued_inside_a_killed_executor_run_again() -> None:
    """A timeout kills the culprit's executor; tasks still waiting inside it (never
    started) are bystanders and run again. On the old code shutdown(cancel_futures=True)
    cancelled them and their callers got a bare CancelledError (seen in CI, loaded)."""
    pool = await make_pool(workers=1, max_in_flight=5, task_timeout_s=1.0)
    try:
        hung = asyncio.create_task(pool.submit(Priority.HIGH, "hang", 0))
        queued = [pool.submit(Priority.HIGH, "sleep", i, 0.01) for i in range(4)]
        results = await asyncio.gather(*queued, return_exceptions=True)
        with pytest.raises(TimeoutError):
            await hung
        assert results == list(range(4))
        assert pool.stats.timeouts == 1
    finally:
        await pool.close()


async def test_timeout_kills_only_the_culprit() -> None:
    pool = await make_pool(workers=2, task_timeout_s=1.0)
    try:
        hung = asyncio.create_task(pool.submit(Priority.LOW, "hang", 0))
        others = [pool.submit(Priority.LOW, "sleep", i, 0.2) for i in range(8)]
        results = await asyncio.gather(*others)
        with pytest.raises(TimeoutError):
            await hung
        assert results == list(range(8))
        assert pool.stats.timeouts == 1
        assert await pool.submit(Priority.HIGH, "echo", "alive") == "alive"
    finally:
        await pool.close()


async def test_a_crashing_task_is_convicted_and_bystanders_succeed() -> None:
    pool = await make_pool(workers=2)
    try:
        crashing = asyncio.create_task(pool.submit(Priority.LOW, "crash", 0))
        others = [pool.submit(Priority.LOW, "sleep", i, 0.05) for i in range(10)]
        assert await asyncio.gather(*others) == list(range(10))
        with pytest.raises(WorkerCrashed):
            await crashing
    finally:
        await pool.close()


async def test_recycling_with_a_large_backlog_does_not_hang() -> None:
    # CPython gh-115634: max_tasks_per_child deadlocks with a backlog; our recycling
    # replaces executors instead, and must get through a backlog many times its size.
    # (Tasks of 10 ms: a recycle switches once the new workers have started, so the
    # backlog must outlast a few worker starts.)
    pool = await make_pool(workers=2, recycle_after=25)
    try:
        pids = await asyncio.wait_for(
            asyncio.gather(*(pool.submit(Priority.LOW, "pid", i, 0.01) for i in range(600))),
            timeout=120,
        )
    finally:
        await pool.close()
    assert pool.stats.recycles >= 3
    assert len(set(pids)) > 2  # work really moved to fresh processes


async def test_a_recycle_keeps_the_old_workers_until_the_new_ones_have_started(
    tmp_path: Path,
) -> None:
    """Tasks never wait for a recycled executor's workers to start: while they are
    still starting (here: blocked in their initializer until a file exists), every task
    runs on the old workers. On the old code the 6th task waited for the new workers."""
    go = tmp_path / "go"
    go.touch()
    pool = await make_pool(
        fn=pool_tasks.pid,
        workers=2,
        recycle_after=5,
        initializer=functools.partial(pool_tasks.wait_for_file, str(go)),
    )
    try:
        old_workers = set(pool.worker_pids())
        go.unlink()
        pids = [
            await asyncio.wait_for(pool.submit(Priority.HIGH, i), timeout=60) for i in range(30)
        ]
        assert pool.stats.recycles == 1
        assert set(pids) <= old_workers
        go.touch()  # the new workers start; work moves to them
        for _ in range(2000):
            if await pool.submit(Priority.HIGH, 0) not in old_workers:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("work never moved to the recycled executor's workers")
    finally:
        await pool.close()


async def test_close_hands_back_queued_work() -> None:
    pool = await make_pool(workers=1, max_in_flight=1)
    first = asyncio.create_task(pool.submit(Priority.LOW, "sleep", 1, 0.3))
    queued = [asyncio.create_task(pool.submit(Priority.LOW, "echo", i)) for i in range(5)]
    await asyncio.sleep(0.1)
    await pool.close(deadline_s=5)
    assert await first == 1
    for q in queued:
        with pytest.raises(PoolClosed):
            await q
    with pytest.raises(PoolClosed):
        await pool.submit(Priority.HIGH, "echo", 1)


async def test_pathological_sql_times_out_alone_with_the_real_extractor() -> None:
    """A generated 6,000-statement file (~0.5 MB) takes seconds to extract: with a
    1 s timeout it is answered with TimeoutError, its worker is killed and replaced,
    and the small files around it (recycled every 5 tasks on the way) all succeed."""
    from lineaged.worker import extract_task, init_worker

    huge = "\n".join(
        f"INSERT INTO t.x{i} SELECT a, b + c AS d FROM s.y{i} JOIN s.z ON s.z.k = s.y{i}.k;"
        for i in range(6000)
    ).encode()
    pool = PriorityPool(
        extract_task,
        workers=2,
        task_timeout_s=1.0,
        recycle_after=5,
        initializer=init_worker,
        preload=("lineaged.worker",),
    )
    await pool.start()

    async def small(i: int) -> tuple[str, ...]:
        sql = f"INSERT INTO t.small{i} SELECT id FROM s.src{i}".encode()
        lineage = await pool.submit(Priority.HIGH, sql, "postgres", None, None, None)
        return lineage.statements[0].targets

    try:
        results = await asyncio.gather(
            pool.submit(Priority.HIGH, huge, "postgres", None, None, None),
            *(small(i) for i in range(30)),
            return_exceptions=True,
        )
        assert isinstance(results[0], TimeoutError)
        assert results[1:] == [(f"t.small{i}",) for i in range(30)]
        assert pool.stats.timeouts == 1 and pool.stats.crashes == 0
        assert pool.stats.recycles >= 1
    finally:
        await pool.close()


async def test_workers_are_started_before_the_first_task() -> None:
    pool = await make_pool(workers=2)
    try:
        # Warm start: both processes exist (and ran their initializer) before any submit.
        assert len(pool.worker_pids()) == 2
    finally:
        await pool.close()


async def test_without_start_the_first_task_starts_the_workers() -> None:
    """A warm restart that finds nothing to parse never starts worker processes: the
    dispatcher starts them for the first task (old: it needed start() first)."""
    pool = PriorityPool(pool_tasks.dispatch, workers=2, preload=("pool_tasks",))
    dispatcher = asyncio.create_task(pool.dispatch())
    try:
        await asyncio.sleep(0.2)
        assert pool.worker_pids() == []
        assert await asyncio.wait_for(pool.submit(Priority.HIGH, "echo", 42), 120) == 42
        assert len(pool.worker_pids()) == 2
    finally:
        await pool.close()
        dispatcher.cancel()


def _new_processes(before: set[int]) -> list[psutil.Process]:
    """Descendants started since `before`, except multiprocessing's helpers (the
    forkserver and resource tracker live as long as this test process)."""
    out = []
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(proc.cmdline())
            if proc.pid not in before and "forkserver" not in cmd and "resource_tracker" not in cmd:
                out.append(proc)
    return out


async def test_close_while_the_workers_start_leaves_no_worker_and_answers_the_task(
    tmp_path: Path,
) -> None:
    """A stop that lands while the first task's workers are being started hands the
    task back and leaves no worker process behind."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    held = str(tmp_path / "never")  # the workers' initializer waits for this file
    pool = PriorityPool(
        pool_tasks.dispatch,
        workers=2,
        preload=("pool_tasks",),
        initializer=functools.partial(pool_tasks.wait_for_file, held),
    )
    dispatcher = asyncio.create_task(pool.dispatch())
    queued = asyncio.create_task(pool.submit(Priority.LOW, "echo", 1))
    await asyncio.sleep(0.05)
    await pool.close(deadline_s=0)
    with pytest.raises(PoolClosed):
        await asyncio.wait_for(queued, 60)
    dispatcher.cancel()
    deadline = asyncio.get_running_loop().time() + 30
    while _new_processes(before):
        assert asyncio.get_running_loop().time() < deadline, _new_processes(before)
        await asyncio.sleep(0.1)


async def test_task_durations_are_reported() -> None:
    seen: list[float] = []
    pool = await make_pool(workers=1, on_task_done=seen.append)
    try:
        await pool.submit(Priority.HIGH, "sleep", 1, 0.2)
        await pool.submit(Priority.HIGH, "echo", 2)
    finally:
        await pool.close()
    assert len(seen) == 2 and seen[0] >= 0.2


@pytest.mark.parametrize("start_method", ["forkserver", "fork", "spawn"])
def test_kill_9_of_the_parent_leaves_no_worker_or_helper_running(start_method: str) -> None:
    """Workers, the forkserver and the resource tracker die with their parent, also
    when it is killed with SIGKILL (no drain, no atexit) outside systemd."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("pool_orphans.py")), start_method],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    helpers: list[psutil.Process] = []
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line, "the pool did not start"
        parent = psutil.Process(proc.pid)
        helpers = parent.children(recursive=True)
        workers = {int(p) for p in line.split()[1:]}
        assert len(workers) == 2 and workers <= {p.pid for p in helpers}
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        _gone, alive = psutil.wait_procs(helpers, timeout=30)
        assert alive == [], [(p.pid, p.cmdline()[:3]) for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in helpers:  # so that a failure here leaves nothing behind either
            with contextlib.suppress(psutil.Error):
                p.kill()


async def test_the_timeout_counts_run_time_not_time_queued_behind_another_task() -> None:
    # One worker, two tasks handed to it at once: the second waits ~3.5 s in the
    # executor's queue, then runs ~3.5 s. Neither ran longer than the 5 s timeout.
    pool = await make_pool(workers=1, task_timeout_s=5.0)
    try:
        results = await asyncio.gather(
            pool.submit(Priority.HIGH, "sleep", "first", 3.5),
            pool.submit(Priority.HIGH, "sleep", "second", 3.5),
            return_exceptions=True,
        )
        assert results == ["first", "second"]
        assert pool.stats.timeouts == 0
    finally:
        await pool.close()


async def test_the_timeout_does_not_count_a_fresh_workers_start_up() -> None:
    # A task that runs too long is convicted and its executor replaced; the tasks after
    # it reach a worker that is still starting (its initializer takes 3 s, longer than
    # the 2 s timeout). (Recycles no longer do this: they switch to started workers.)
    pool = await make_pool(workers=1, task_timeout_s=2.0, initializer=pool_tasks.slow_start)
    try:
        with pytest.raises(TimeoutError):
            await pool.submit(Priority.HIGH, "hang", 0)
        results = [await pool.submit(Priority.HIGH, "echo", i) for i in range(3)]
        assert results == [0, 1, 2]
        assert pool.stats.timeouts == 1
    finally:
        await pool.close()


async def test_workers_run_nicer_than_the_daemon() -> None:
    pool = await make_pool(fn=pool_tasks.niceness, workers=1, nice=3)
    try:
        assert await pool.submit(Priority.HIGH, 0) == os.nice(0) + 3
    finally:
        await pool.close()
