"""Priority worker pool: a priority queue in the event loop over a ProcessPoolExecutor.

Why not `ProcessPoolExecutor(max_tasks_per_child=...)`: on the CPython versions we run
it can deadlock when a backlog is submitted (gh-115634). Instead only a bounded number
of tasks is ever handed to the executor (the queue lives here, so priorities still
apply), and recycling replaces the whole executor after `recycle_after` tasks: new
tasks go to a fresh executor while the old one finishes what it holds.

A task that runs longer than `task_timeout_s` is answered with a TimeoutError. The
clock is the task's own: the worker stamps the moment it starts running the task into
shared memory, so time spent queued behind another task or waiting for a fresh worker
to start (after a recycle, on a loaded machine, seconds) never counts. Its executor is
killed (there is no way to kill one ProcessPoolExecutor worker) and the other tasks that
were in flight in it are queued again, at the front of their priority. A task whose
worker dies twice (segfault, OOM kill, os._exit) is answered with WorkerCrashed.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psutil
import structlog

from lineaged import stages
from lineaged.lifeline import die_with
from lineaged.model import EDITING_WINDOW_S, Priority
from lineaged.stages import StageClock

log = structlog.get_logger(__name__)


class WorkerCrashed(RuntimeError):
    """The worker process running this task died."""


class PoolClosed(RuntimeError):
    """The pool shut down before this task ran."""


# Ordered and hashed by (priority, seq), which is unique per task.
@dataclass(order=True, unsafe_hash=True)
class _Task:
    priority: int
    seq: int
    args: tuple[Any, ...] = field(compare=False)
    future: asyncio.Future[Any] = field(compare=False)
    attempts: int = field(default=0, compare=False)
    # Set when the task's executor was killed because of another task's timeout: the
    # BrokenExecutor it then sees is not its fault.
    bystander: bool = field(default=False, compare=False)
    # The submitting batch's clock (lineaged/stages.py): queue and run times go on it.
    clock: StageClock | None = field(default=None, compare=False)


class _NeverStarted(BrokenExecutor):
    """No worker picked the task up in a time no healthy executor takes."""


@dataclass
class PoolStats:
    submitted: int = 0
    completed: int = 0
    timeouts: int = 0
    crashes: int = 0
    recycles: int = 0
    executors_started: int = 0  # executors created (first start, recycles, replacements)
    memory_pauses: int = 0
    busy_seconds: float = 0.0


class PriorityPool:
    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        workers: int = 0,
        task_timeout_s: float = 60.0,
        recycle_after: int = 2000,
        max_in_flight: int = 0,
        memory_limit_bytes: int = 0,
        initializer: Callable[[], None] | None = None,
        start_method: str = "forkserver",
        preload: tuple[str, ...] = (),
        nice: int = 0,
        on_task_done: Callable[[float], None] | None = None,
        editing_window_s: float = EDITING_WINDOW_S,
    ) -> None:
        self._fn = fn
        self.editing_window_s = editing_window_s
        self.workers = workers or usable_cores()
        self.configure(
            task_timeout_s=task_timeout_s,
            recycle_after=recycle_after,
            memory_limit_bytes=memory_limit_bytes,
        )
        # Two per worker keeps every worker busy while the next task is pickled.
        self.max_in_flight = max_in_flight or 2 * self.workers
        self._initializer = initializer
        self._nice = nice
        self._on_task_done = on_task_done  # seconds each task spent handed to a worker
        self._ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver" and preload:
            self._ctx.set_forkserver_preload(list(preload))
        self._heap: list[_Task] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        # Tasks handed to the executors and not yet answered (all / backfill), and live
        # batches holding `reserve_worker()`: what `may_dispatch` decides on.
        self._taken_all = 0
        self._taken_low = 0
        self._reserved = 0
        self._live_at = float("-inf")  # monotonic time a live task was last submitted
        # One start stamp (time.monotonic() in the worker; 0 = not started) per task
        # in flight: CLOCK_MONOTONIC is system-wide, so the two sides compare.
        self._stamps = self._ctx.RawArray("d", self.max_in_flight)
        self._free_stamps = list(range(self.max_in_flight))
        self._executor: ProcessPoolExecutor | None = None
        self._successor: ProcessPoolExecutor | None = None  # a recycle's, starting up
        self._warming: dict[ProcessPoolExecutor, list[Future[None]]] = {}
        self._executor_tasks = 0
        self._in_flight: dict[ProcessPoolExecutor, set[_Task]] = {}
        self._starting: asyncio.Future[Any] | None = None  # the first executor, starting
        self._dispatcher: asyncio.Task[None] | None = None
        self._runners: set[asyncio.Task[None]] = set()
        self._closing = False
        self.stats = PoolStats()

    # -- public API -------------------------------------------------------------------

    def configure(
        self, *, task_timeout_s: float, recycle_after: int, memory_limit_bytes: int
    ) -> None:
        """What can change while running (start-up and SIGHUP); the worker count needs
        a restart."""
        self.task_timeout_s = task_timeout_s
        self.recycle_after = recycle_after
        self.memory_limit_bytes = memory_limit_bytes

    async def start(
        self, warm_up_timeout_s: float = 120.0, *, spawn_dispatcher: bool = True
    ) -> None:
        """Start the workers and wait until each has run its initializer, so that the
        first file does not pay for process start-up and imports (~1-2 s here).
        Idempotent; callers at the same time share one start. Without it the workers
        start when the first task is dispatched (a warm restart that finds nothing to
        parse never starts them). With `spawn_dispatcher=False` the caller runs
        `dispatch()` as a task it owns."""
        if spawn_dispatcher and self._dispatcher is None:
            self._dispatcher = asyncio.create_task(self.dispatch(), name="pool-dispatch")
            self._dispatcher.add_done_callback(_dispatcher_died)
        executor = await self._started_executor()
        warming = [asyncio.wrap_future(f) for f in self._warming.get(executor, ())]
        await asyncio.wait_for(asyncio.gather(*warming), warm_up_timeout_s)

    async def _started_executor(self) -> ProcessPoolExecutor:
        """The executor, created on first use. Created in a thread: the first process
        start waits for the forkserver to import the preloaded modules (a second or more),
        which on the loop's thread would stall everything else the daemon does."""
        if self._executor is not None:
            return self._executor
        if self._closing:
            raise PoolClosed("pool is shutting down")
        if self._starting is None:
            starting = asyncio.ensure_future(asyncio.to_thread(self._spawn_executor))
            # Adopted by a callback, not by the awaiting task: a caller cancelled while
            # the thread runs must not leave the new processes without an owner.
            starting.add_done_callback(self._adopt)
            self._starting = starting
        await asyncio.shield(self._starting)
        if self._executor is None:
            raise PoolClosed("pool is shutting down")
        return self._executor

    def _adopt(
        self, starting: asyncio.Future[tuple[ProcessPoolExecutor, list[Future[None]]]]
    ) -> None:
        self._starting = None
        if starting.cancelled() or starting.exception() is not None:
            return  # the awaiting caller sees the error; the next one tries again
        executor, warming = starting.result()
        self._register(executor, warming)
        if self._closing:
            self._kill(executor)
            return
        self._executor = executor
        self._executor_tasks = 0

    async def submit(self, priority: Priority, *args: Any) -> Any:
        """Run fn(*args) in a worker; lower priority values run first."""
        if self._closing:
            raise PoolClosed("pool is shutting down")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if priority < Priority.LOW:
            self._live_at = time.monotonic()
        self._push(_Task(int(priority), next(self._seq), args, future, clock=stages.current()))
        self.stats.submitted += 1
        return await future

    def queue_depth(self) -> dict[str, int]:
        depth = {p.name.lower(): 0 for p in Priority}
        for task in self._heap:
            depth[Priority(task.priority).name.lower()] += 1
        return depth

    @property
    def backfill_in_flight(self) -> int:
        """Backfill (LOW) tasks handed to the executors and not yet answered."""
        return self._taken_low

    @property
    def in_flight(self) -> int:
        return sum(len(s) for s in self._in_flight.values())

    def worker_pids(self) -> list[int]:
        pids = []
        for executor in self._in_flight:
            pids.extend((getattr(executor, "_processes", None) or {}).keys())
        return pids

    async def close(self, deadline_s: float = 30.0) -> None:
        """Stop taking work; let in-flight tasks finish within the deadline; queued tasks
        are answered with PoolClosed so their callers can hand them back."""
        self._closing = True
        for task in self._heap:
            if not task.future.done():
                task.future.set_exception(PoolClosed("pool closed before the task ran"))
        self._heap.clear()
        if self._starting is not None:
            # Processes being started now: let the start finish, so that they are
            # adopted and killed below instead of outliving the pool.
            await asyncio.wait({self._starting}, timeout=max(deadline_s, _START_WAIT_S))
        end = time.monotonic() + deadline_s
        while self.in_flight and time.monotonic() < end:
            await asyncio.sleep(0.02)
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        for executor in list(self._in_flight):
            self._kill(executor)

    # -- internals --------------------------------------------------------------------

    def _push(self, task: _Task) -> None:
        heapq.heappush(self._heap, task)
        self._wake.set()

    def _new_executor(self) -> ProcessPoolExecutor:
        executor, warming = self._spawn_executor()
        self._register(executor, warming)
        return executor

    def _spawn_executor(self) -> tuple[ProcessPoolExecutor, list[Future[None]]]:
        """A new executor and its workers' warm-up tasks (any thread)."""
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._ctx,
            initializer=_start_worker,
            initargs=(os.getpid(), self._initializer, self._stamps, self._nice),
        )
        # ProcessPoolExecutor starts workers lazily, on the first submits; start them
        # now, so a recycled or replaced executor is warm before real work reaches it.
        return executor, [executor.submit(_warm) for _ in range(self.workers)]

    def _register(self, executor: ProcessPoolExecutor, warming: list[Future[None]]) -> None:
        self.stats.executors_started += 1
        self._in_flight[executor] = set()
        self._warming = {executor: warming}

    async def dispatch(self) -> None:
        """Hand queued tasks to the workers, highest priority first; runs until
        cancelled."""
        while True:
            # Cleared before looking, so a wake-up between the look and the wait counts.
            self._wake.clear()
            if not self._heap or not self._may_dispatch(self._heap[0]):
                await self._wake.wait()
                continue
            await self._wait_for_memory()
            if not self._heap or not self._may_dispatch(self._heap[0]):
                continue
            if self._executor is None and not await self._executor_or_pause():
                continue
            task = heapq.heappop(self._heap)
            if task.future.done():  # caller gave up (cancelled)
                continue
            self._taken(task, +1)
            if task.attempts:
                await self._run_alone(task)
                continue
            executor = self._current_executor()
            self._in_flight[executor].add(task)
            runner = asyncio.create_task(self._run(executor, task))
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)

    async def _executor_or_pause(self) -> bool:
        """Start the workers for the first task; False (after a pause) if that failed."""
        try:
            await self._started_executor()
        except PoolClosed:
            await self._wake.wait()
            return False
        except (OSError, RuntimeError) as exc:
            log.error("worker_start_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(1.0)
            return False
        return True

    @contextlib.contextmanager
    def reserve_worker(self) -> Iterator[None]:
        """While held (a live batch is on its way to the pool), backfill keeps one
        worker free, so the live task starts at once instead of after a backfill task."""
        self._reserved += 1
        try:
            yield
        finally:
            self._reserved -= 1
            self._wake.set()

    def _may_dispatch(self, task: _Task) -> bool:
        return may_dispatch(
            task.priority,
            workers=self.workers,
            max_in_flight=self.max_in_flight,
            taken=self._taken_all,
            taken_low=self._taken_low,
            reserved=self._reserved > 0,
            editing=self.editing,
        )

    @property
    def editing(self) -> bool:
        """A live task was submitted within `editing_window_s`."""
        return time.monotonic() - self._live_at < self.editing_window_s

    def _taken(self, task: _Task, n: int) -> None:
        """Count a task handed to (+1) or back from (-1) the executors."""
        self._taken_all += n
        if task.priority >= Priority.LOW:
            self._taken_low += n
        if n < 0:
            self._wake.set()

    async def _run_alone(self, task: _Task) -> None:
        """A task whose worker died is retried with nothing else in flight, so that a
        second death convicts it and no bystander."""
        while self.in_flight:
            await asyncio.sleep(0.01)
        executor = self._current_executor()
        self._in_flight[executor].add(task)
        await self._run(executor, task)

    def _current_executor(self) -> ProcessPoolExecutor:
        """The executor for the next task. Recycling starts the successor first and
        keeps using the old executor until every new worker has started: a task never
        waits for process start-up (seconds on a loaded machine) because of a recycle."""
        assert self._executor is not None
        if self._executor_tasks >= self.recycle_after and self._successor is None:
            self._successor = self._new_executor()
            self.stats.recycles += 1
        successor = self._successor
        if successor is not None and all(f.done() for f in self._warming.get(successor, ())):
            old, self._executor, self._successor = self._executor, successor, None
            self._executor_tasks = 0
            if not self._in_flight.get(old):
                self._retire(old)
        self._executor_tasks += 1
        return self._executor

    async def _run(self, executor: ProcessPoolExecutor, task: _Task) -> None:
        started = time.monotonic()
        stamp = self._free_stamps.pop()
        self._stamps[stamp] = 0.0
        if task.clock is not None:
            task.clock.mark("pool_queue", started)
        try:
            cf = executor.submit(_run_stamped, stamp, self._fn, *task.args)
            result = await self._result_in_time(asyncio.wrap_future(cf), stamp)
            if task.clock is not None:
                task.clock.mark("worker_queue", self._stamps[stamp] or None)
                task.clock.mark("extract")
        except TimeoutError:
            self.stats.timeouts += 1
            self._answer(task, exc=TimeoutError(f"parse exceeded {self.task_timeout_s:g} s"))
            self._replace_broken(executor, culprit=task)
        except (BrokenExecutor, RuntimeError) as exc:
            # RuntimeError: submit() on an executor that was just shut down.
            if task.bystander:
                self._run_again(task)
            else:
                self._requeue_or_fail(task, exc)
                self._replace_broken(executor, culprit=None)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not cf.cancelled() or (current is not None and current.cancelling()):
                raise
            # Our own shutdown(cancel_futures=True) of a killed executor dropped the
            # task before any worker took it: it never ran, so it simply runs again.
            self._run_again(task)
        except BaseException as exc:  # the function raised inside the worker
            self._answer(task, exc=exc)
        else:
            self._answer(task, result=result)
        finally:
            self._free_stamps.append(stamp)
            elapsed = time.monotonic() - started
            self.stats.busy_seconds += elapsed
            if self._on_task_done is not None:
                self._on_task_done(elapsed)
            self._in_flight.get(executor, set()).discard(task)
            self._taken(task, -1)
            if executor is not self._executor and not self._in_flight.get(executor):
                self._retire(executor)

    async def _result_in_time(self, future: asyncio.Future[Any], stamp: int) -> Any:
        """The task's result; TimeoutError once it has *run* for task_timeout_s."""
        handed_over = time.monotonic()
        while True:
            started, now = self._stamps[stamp], time.monotonic()
            if started:
                left = started + self.task_timeout_s - now
                if left <= 0:
                    raise TimeoutError
            else:
                # Queued behind other tasks (each bounded by the timeout) or waiting
                # for a worker to start: look again soon.
                if now - handed_over > _START_ALLOWANCE_S + self.max_in_flight * (
                    self.task_timeout_s
                ):
                    raise _NeverStarted("no worker started the task")
                left = _QUEUED_POLL_S
            done, _ = await asyncio.wait({future}, timeout=left)
            if done:
                return future.result()

    def _answer(self, task: _Task, *, result: Any = None, exc: BaseException | None = None) -> None:
        self.stats.completed += 1
        if task.future.done():
            return
        if exc is not None:
            task.future.set_exception(exc)
        else:
            task.future.set_result(result)

    def _run_again(self, task: _Task) -> None:
        """Queue a bystander of a killed executor again (no attempt counted)."""
        task.bystander = False
        if self._closing:
            self._answer(task, exc=PoolClosed("pool closed before the task ran"))
        else:
            self._push(task)

    def _requeue_or_fail(self, task: _Task, exc: BaseException) -> None:
        task.attempts += 1
        if task.attempts >= 2:
            self.stats.crashes += 1
            self._answer(task, exc=WorkerCrashed(f"worker died twice running this task: {exc}"))
        elif self._closing:
            # Its executor was killed by close(): it is handed back like a queued task.
            self._answer(task, exc=PoolClosed("pool closed while the task ran"))
        else:
            self._push(task)

    def _replace_broken(self, executor: ProcessPoolExecutor, culprit: _Task | None) -> None:
        """Kill `executor` and start a fresh one. The tasks still running in it see a
        BrokenExecutor; with a known culprit they are bystanders and simply run again."""
        if executor not in self._in_flight:
            return
        others = [t for t in self._in_flight[executor] if t is not culprit]
        if culprit is not None:
            for t in others:
                t.bystander = True
        self._kill(executor)
        if executor is self._successor:
            self._successor = None
        if executor is self._executor and not self._closing:
            # A successor already starting takes over; otherwise a fresh executor.
            self._executor = self._successor or self._new_executor()
            self._successor = None
            self._executor_tasks = 0
        log.warning("worker_pool_replaced", in_flight=len(others), timeout=culprit is not None)

    def _retire(self, executor: ProcessPoolExecutor) -> None:
        self._in_flight.pop(executor, None)
        self._warming.pop(executor, None)
        executor.shutdown(wait=False, cancel_futures=True)

    def _kill(self, executor: ProcessPoolExecutor) -> None:
        for proc in list((getattr(executor, "_processes", None) or {}).values()):
            with contextlib.suppress(OSError, AttributeError):
                proc.kill()
        self._in_flight.pop(executor, None)
        self._warming.pop(executor, None)
        executor.shutdown(wait=False, cancel_futures=True)

    async def _wait_for_memory(self) -> None:
        if not self.memory_limit_bytes:
            return
        paused = False
        while self._tree_rss() > self.memory_limit_bytes and self.in_flight:
            if not paused:
                paused = True
                self.stats.memory_pauses += 1
                log.warning("dispatch_paused_memory", limit_bytes=self.memory_limit_bytes)
            await asyncio.sleep(0.1)

    def _tree_rss(self) -> int:
        return tree_rss()


def may_dispatch(
    priority: int,
    *,
    workers: int,
    max_in_flight: int,
    taken: int,
    taken_low: int,
    reserved: bool,
    editing: bool = False,
) -> bool:
    """May a task of `priority` be handed to the executor now?

    Once handed over, a task waits in the executor's FIFO where priorities no longer
    apply. Backfill (LOW) always leaves one of the `max_in_flight` places (two per
    worker, so workers never wait for the event loop between tasks) to live tasks, so a
    live task is handed over at once and waits for at most the backfill tasks handed
    over before it. While a live batch is on its way to the pool (`reserved`), backfill
    gets no more than `workers - 1` places, so by the time the live task arrives its
    worker has finished what it held and is idle. While someone edits (`editing`, live
    tasks within EDITING_WINDOW_S), backfill keeps to `workers - 1` places (at least
    one), leaving a core to the edits, Neo4j and the daemon."""
    if taken >= max_in_flight:
        return False
    if priority < Priority.LOW:
        return True
    # (Never fewer than one per worker: a pool with max_in_flight == workers has no
    # place to spare.)
    if reserved:
        limit = workers - 1
    elif editing:
        limit = max(1, workers - 1)
    else:
        limit = max(workers, max_in_flight - 1)
    return taken_low < limit


_QUEUED_POLL_S = 0.05
_START_ALLOWANCE_S = 120.0
_START_WAIT_S = 30.0  # how long close() waits for processes still being started
_STAMPS: Any = None  # in a worker: the pool's shared start stamps


def _start_worker(
    daemon_pid: int, initializer: Callable[[], None] | None, stamps: Any, nice: int
) -> None:
    global _STAMPS
    die_with(daemon_pid)
    _STAMPS = stamps
    if nice:
        # Parsing soaks up whatever CPU is left; the daemon's loop (watcher events,
        # live batches, the writer) is served first on a busy host.
        os.nice(nice)
    if initializer is not None:
        initializer()


def _run_stamped(stamp: int, fn: Callable[..., Any], *args: Any) -> Any:
    _STAMPS[stamp] = time.monotonic()
    return fn(*args)


def _warm() -> None:
    """Runs once per new worker: its initializer has run by the time this returns."""


def _dispatcher_died(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical("pool_dispatcher_died", error=repr(task.exception()))


def usable_cores() -> int:
    """Cores this process may run on (taskset / cgroup cpusets), not all the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def tree_rss(pid: int | None = None) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total
