"""Wiring and lifecycle: start the pieces in order, run, drain them in reverse order.

startup:  driver (bounded wait) → schema → worker pool → watcher → reconcile queued
run:      live batches (debounced, HIGH) and backfill batches (LOW) flow through the
          pipeline until a stop is requested
shutdown: stop the watcher, flush the batchers, finish in-flight batches within the
          deadline, close pool and driver. Anything not written is picked up by the
          next start's reconcile, because the graph is the ledger.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable
from dataclasses import dataclass

import structlog
from neo4j import AsyncDriver, AsyncGraphDatabase

from lineaged.batcher import Batch, Batcher
from lineaged.config import Settings
from lineaged.deadletters import DeadLetters
from lineaged.graph.schema import ensure_schema
from lineaged.graph.writer import GraphWriter
from lineaged.paths import RootMatcher
from lineaged.pipeline import Pipeline, RootContext
from lineaged.pool import PoolClosed, PriorityPool
from lineaged.reconcile import plan_root
from lineaged.watcher import Watcher
from lineaged.worker import extract_task, init_worker

log = structlog.get_logger(__name__)


class StartupError(RuntimeError):
    """The daemon cannot start; the message is one line for the operator."""


@dataclass
class _Step:
    name: str
    started: float


class Daemon:
    def __init__(self, settings: Settings, *, oneshot: bool = False) -> None:
        self.settings = settings
        self.oneshot = oneshot
        self.matchers = [RootMatcher(r) for r in settings.roots]
        self.stop_requested = asyncio.Event()
        self._force_exit = False
        self.driver: AsyncDriver | None = None
        self.pool: PriorityPool | None = None
        self.writer: GraphWriter | None = None
        self.pipeline: Pipeline | None = None
        self.watcher: Watcher | None = None
        self.live = Batcher(
            debounce_s=settings.debounce_s,
            max_batch=settings.batch.max_batch,
            max_latency_s=settings.batch.max_latency_ms / 1000,
        )
        # Backfill events are already a known set: no debounce, full batches.
        self.backfill = Batcher(debounce_s=0, max_batch=settings.batch.max_batch, max_latency_s=1)
        self._backfill_slots = asyncio.Semaphore(2)
        self._inflight: set[asyncio.Task[None]] = set()
        self._batches_open = 0  # taken from a batcher and not yet fully processed
        self._reconciles: set[asyncio.Task[None]] = set()
        self.ready = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> int:
        try:
            await self.startup()
            await self.main_loop()
        finally:
            await self.shutdown()
        return 0

    async def startup(self) -> None:
        await self._step("connect_neo4j", self._connect())
        assert self.driver is not None
        await self._step("ensure_schema", ensure_schema(self.driver, self.settings.neo4j.database))
        self.writer = GraphWriter(
            self.driver,
            self.settings.neo4j.database,
            DeadLetters(self.settings.state.dir / "dead_letters.jsonl"),
        )
        await self._step("start_workers", self._start_pool())
        self.pipeline = self._make_pipeline()
        if not self.oneshot:
            self.watcher = Watcher(self.matchers, self.live.add, self.request_rescan)
            self.watcher.start()
        for m in self.matchers:
            self.request_rescan(m.root.name)
        self.ready.set()
        log.info(
            "daemon_ready",
            roots=[m.root.name for m in self.matchers],
            realtime=self.settings.realtime,
        )

    async def main_loop(self) -> None:
        consumers = [
            asyncio.create_task(self._consume(self.live, None), name="live"),
            asyncio.create_task(
                self._consume(self.backfill, self._backfill_slots), name="backfill"
            ),
        ]
        if self.oneshot:
            await self._until_idle()
            self.stop_requested.set()
        await self.stop_requested.wait()
        log.info("daemon_draining")
        if self.watcher is not None:
            self.watcher.stop()
        for task in list(self._reconciles):
            task.cancel()
        self.live.close()
        self.backfill.close()
        try:
            await asyncio.wait_for(
                asyncio.gather(*consumers, return_exceptions=True), self._deadline_left()
            )
            await asyncio.wait_for(
                asyncio.gather(*self._inflight, return_exceptions=True), self._deadline_left()
            )
        except TimeoutError:
            log.warning("drain_deadline_reached", unfinished=len(self._inflight))
            for task in (*consumers, *self._inflight):
                task.cancel()

    async def shutdown(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.pool is not None:
            await self._step("stop_workers", self.pool.close(deadline_s=5))
        if self.driver is not None:
            await self._step("close_driver", self.driver.close())
        log.info("daemon_stopped")

    # -- signals ----------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self.request_stop, "SIGINT")

    def request_stop(self, reason: str = "requested") -> None:
        if self.stop_requested.is_set():
            if reason == "SIGINT":
                log.warning("second_sigint_exiting_now")
                os._exit(130)
            return
        log.info("stop_requested", reason=reason)
        self._stop_at = time.monotonic()
        self.stop_requested.set()

    def request_rescan(self, root: str) -> None:
        matcher = next((m for m in self.matchers if m.root.name == root), None)
        if matcher is None or self.writer is None:
            return
        task = asyncio.create_task(self._reconcile(matcher), name=f"reconcile-{root}")
        self._reconciles.add(task)
        task.add_done_callback(self._reconciles.discard)

    # -- internals ----------------------------------------------------------------------

    async def _step(self, name: str, work: Awaitable[object]) -> None:
        started = time.monotonic()
        await work
        log.info(
            "lifecycle_step", step=name, duration_ms=round((time.monotonic() - started) * 1000, 1)
        )

    async def _connect(self) -> None:
        cfg = self.settings.neo4j
        self.driver = AsyncGraphDatabase.driver(
            cfg.uri, auth=(cfg.user, cfg.password), notifications_min_severity="OFF"
        )
        deadline = time.monotonic() + cfg.connect_timeout_s
        while True:
            try:
                await self.driver.verify_connectivity()
                return
            except Exception as exc:
                from lineaged.graph.errors import ErrorKind, classify, describe

                if classify(exc) is ErrorKind.FATAL or time.monotonic() > deadline:
                    await self.driver.close()
                    self.driver = None
                    raise StartupError(
                        f"cannot connect to Neo4j at {cfg.uri}: {describe(exc)}"
                    ) from exc
                await asyncio.sleep(1.0)

    async def _start_pool(self) -> None:
        self.pool = PriorityPool(
            extract_task,
            workers=self.settings.pool.workers,
            task_timeout_s=self.settings.pool.task_timeout_s,
            initializer=init_worker,
            preload=("lineaged.worker",),
        )
        await self.pool.start()

    def _make_pipeline(self) -> Pipeline:
        from lineaged.extract import EXTRACTOR_VERSION
        from lineaged.extract.schema import load_schema_file, schema_fingerprint

        roots = {}
        for r in self.settings.roots:
            schema = load_schema_file(r.schema_file) if r.schema_file else None
            roots[r.name] = RootContext(r, schema, schema_fingerprint(schema) if schema else "")
        assert self.pool is not None and self.writer is not None
        return Pipeline(
            roots,
            self.pool,
            self.writer,
            extract_fn_version=EXTRACTOR_VERSION,
            requeue=self.live.add,
        )

    async def _reconcile(self, matcher: RootMatcher) -> None:
        assert self.writer is not None
        plan = await plan_root(matcher, self.writer.root_files)
        for ev in plan.events:
            self.backfill.add(ev)

    async def _consume(self, batcher: Batcher, slots: asyncio.Semaphore | None) -> None:
        async for batch in batcher.batches():
            self._batches_open += 1
            if slots is not None:
                await slots.acquire()
            task = asyncio.create_task(self._process(batch, slots))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _process(self, batch: Batch, slots: asyncio.Semaphore | None) -> None:
        assert self.pipeline is not None
        try:
            await self.pipeline.process(batch)
        except PoolClosed:
            log.info("batch_handed_back", files=len(batch))
        except Exception:
            # Never let one batch take the daemon down; the next reconcile retries it.
            log.exception("batch_failed", files=len(batch))
        finally:
            self._batches_open -= 1
            if slots is not None:
                slots.release()

    async def _until_idle(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            busy = self._reconciles or self._batches_open or len(self.backfill) or len(self.live)
            if not busy:
                return

    def _deadline_left(self) -> float:
        return max(0.1, 30.0 - (time.monotonic() - getattr(self, "_stop_at", time.monotonic())))
