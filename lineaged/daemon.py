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
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog
from neo4j import AsyncDriver

from lineaged.batcher import Batch, Batcher
from lineaged.catalog.stage import SchemaStage, explicit_layers, order_events
from lineaged.config import ConfigError, Settings
from lineaged.deadletters import DeadLetters, dead_letters_path
from lineaged.graph.connect import CannotConnect, connect
from lineaged.graph.schema import ensure_schema
from lineaged.graph.writer import GraphWriter, WriterFatalError
from lineaged.metrics import Metrics
from lineaged.metrics_http import MetricsServer, parse_address
from lineaged.model import FileState
from lineaged.paths import RootMatcher
from lineaged.pipeline import Pipeline, RootContext
from lineaged.pool import PoolClosed, PriorityPool
from lineaged.reconcile import CurrentCheck, RescanScheduler, plan_root
from lineaged.reload import keep_restart_only, plan_reload
from lineaged.sdnotify import Notifier
from lineaged.watcher import Watcher
from lineaged.worker import extract_task, init_worker

if TYPE_CHECKING:
    from lineaged.cache import ParseCache

log = structlog.get_logger(__name__)


class StartupError(RuntimeError):
    """The daemon cannot start; the message is one line for the operator."""


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        oneshot: bool = False,
        reload_settings: Callable[[], Settings] | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.oneshot = oneshot
        # Re-reads config.toml (+ env + the original CLI flags) on SIGHUP.
        self._reload_settings = reload_settings
        self.notifier = notifier if notifier is not None else Notifier()
        self.metrics = Metrics(self, stale_after_s=settings.service.health_stale_s)
        self.metrics_server: MetricsServer | None = None
        self._service_tasks: set[asyncio.Task[None]] = set()
        self.matchers = [RootMatcher(r) for r in settings.roots]
        self.stop_requested = asyncio.Event()
        self.driver: AsyncDriver | None = None
        self.pool: PriorityPool | None = None
        self.writer: GraphWriter | None = None
        self.cache: ParseCache | None = None
        self.pipeline: Pipeline | None = None
        self.schema = SchemaStage()
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
        self.rescans = RescanScheduler(self._rescan_root, self._reconciles)
        # Live batches in flight at once. File contents are read when a batch leaves its
        # batcher, so this (with the backfill's slots) bounds the bytes held at any time
        # to ~(4 + 2) x max_batch files, however many changes are queued behind.
        self._live_slots = asyncio.Semaphore(4)
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
        if not self.oneshot:
            await self._step("start_metrics", self._start_metrics())
        await self._step("connect_neo4j", self._connect())
        assert self.driver is not None
        await self._step("ensure_schema", ensure_schema(self.driver, self.settings.neo4j.database))
        self.writer = GraphWriter(
            self.driver,
            self.settings.neo4j.database,
            DeadLetters(dead_letters_path(self.settings.state.dir)),
            rows_per_tx=self.settings.writer.rows_per_tx,
            max_concurrency=self.settings.writer.max_concurrent_tx,
            slow_tx_s=self.settings.writer.slow_tx_s,
            backoff_initial_s=self.settings.writer.backoff_initial_s,
            backoff_max_s=self.settings.writer.backoff_max_s,
        )
        await self._step("warm_up_queries", self.writer.warm_up())
        await self._step("sweep_orphans", self.writer.sweep_orphans())
        await self._step("open_cache", self._open_cache())
        await self._step("load_schema_catalog", self._open_schema())
        await self._step("start_workers", self._start_pool())
        self.pipeline = self._make_pipeline()
        # Results a crash left behind the catalog (recorded, dependants not yet redone).
        self.pipeline.requeue_files(self.schema.stale_files())
        if not self.oneshot:
            self.watcher = Watcher(self.matchers, self.live.add, self.request_rescan)
            self.watcher.start()
        for m in self.matchers:
            self.request_rescan(m.root.name, "startup")
        if not self.oneshot:
            self._spawn_service(
                self.rescans.periodic(
                    lambda: self.settings.watch.rescan_interval_s,
                    lambda: [m.root.name for m in self.matchers],
                ),
                "periodic-rescan",
            )
        self.ready.set()
        self.metrics.health.state = "running"
        self._spawn_service(self._service_loop(), "service-loop")
        self._spawn_service(self._neo4j_checks(), "neo4j-check")
        self.notifier.ready(self.status_line())
        log.info(
            "daemon_ready",
            roots=[m.root.name for m in self.matchers],
            realtime=self.settings.realtime,
            metrics=self.metrics_server.url if self.metrics_server else None,
            watchdog_s=self.notifier.watchdog_interval_s,
        )

    async def main_loop(self) -> None:
        consumers = [
            asyncio.create_task(self._consume(self.live, self._live_slots), name="live"),
            asyncio.create_task(
                self._consume(self.backfill, self._backfill_slots), name="backfill"
            ),
        ]
        if self.oneshot:
            await self._until_idle()
            self.stop_requested.set()
        await self.stop_requested.wait()
        self.metrics.health.state = "draining"
        self.notifier.stopping(self.status_line())
        log.info("daemon_draining", deadline_s=self.settings.service.drain_deadline_s)
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
            # Queued parse tasks are handed back (the next start's reconcile redoes them);
            # tasks already in a worker and the current transactions are let finish.
            if self.pool is not None:
                await self.pool.close(deadline_s=self._deadline_left())
            await asyncio.wait_for(
                asyncio.gather(*self._inflight, return_exceptions=True), self._deadline_left()
            )
        except TimeoutError:
            log.warning("drain_deadline_reached", unfinished=len(self._inflight))
            for task in (*consumers, *self._inflight):
                task.cancel()

    async def shutdown(self) -> None:
        for task in list(self._service_tasks):
            task.cancel()
        if self.watcher is not None:
            self.watcher.stop()
        if self.pool is not None:
            await self._step("stop_workers", self.pool.close(deadline_s=5))
        if self.driver is not None:
            await self._step("close_driver", self.driver.close())
        if self.cache is not None:
            await self._step("close_cache", self.cache.close())
        self.metrics.health.state = "stopped"
        if self.metrics_server is not None:
            self.metrics_server.stop()
        self.notifier.close()
        log.info("daemon_stopped")

    # -- signals ----------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self.request_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    def request_stop(self, reason: str = "requested") -> None:
        if self.stop_requested.is_set():
            if reason == "SIGINT":
                log.warning("second_sigint_exiting_now")
                os._exit(130)
            return
        log.info("stop_requested", reason=reason)
        self._stop_at = time.monotonic()
        self.stop_requested.set()

    def request_reload(self) -> None:
        if self.stop_requested.is_set() or not self.ready.is_set():
            log.warning("reload_ignored", reason="not running")
            return
        self._spawn_service(self.reload(), "reload")

    async def reload(self) -> bool:
        """Re-read the configuration and apply it; an invalid one leaves the old in place."""
        started = time.monotonic()
        self.notifier.reloading()
        self.metrics.health.state = "reloading"
        try:
            if self._reload_settings is None:
                log.warning("reload_unavailable", reason="started without a config source")
                return False
            try:
                new = self._reload_settings()
                contexts = self._root_contexts(new)
            except (ConfigError, OSError, ValueError) as exc:
                log.error("reload_rejected", error=str(exc), kept="previous configuration")
                return False
            self._apply(new, contexts)
            log.info("reload_done", duration_ms=round((time.monotonic() - started) * 1000, 1))
            return True
        finally:
            self.metrics.health.state = "running"
            self.notifier.ready(self.status_line())

    def _apply(self, new: Settings, contexts: dict[str, RootContext]) -> None:
        from lineaged.logging import configure_logging

        old = self.settings
        plan = plan_reload(old, new)
        if plan.restart_required:
            log.warning("reload_needs_restart", keys=list(plan.restart_required))
        new = keep_restart_only(old, new, plan)
        self.settings = new
        configure_logging(new.log.level, new.log.format)
        self.live.debounce_s = new.debounce_s
        self.live.max_batch = new.batch.max_batch
        self.live.max_latency_s = new.batch.max_latency_ms / 1000
        self.backfill.max_batch = new.batch.max_batch
        self.metrics.health.stale_after_s = new.service.health_stale_s
        if self.pool is not None:
            self.pool.task_timeout_s = new.pool.task_timeout_s
            self.pool.recycle_after = new.pool.recycle_after
            self.pool.memory_limit_bytes = int(new.pool.memory_limit_mb * 1024 * 1024)
        if not plan.roots_changed:
            return
        self.matchers = [RootMatcher(r) for r in new.roots]
        if self.pipeline is not None:
            # Removed roots keep their context so batches already taken can finish.
            self.pipeline.roots.update(contexts)
            # A changed schema file changes what its root's readers resolve to.
            self.pipeline.requeue_files(self.schema.configure(explicit_layers(contexts)))
        if self.watcher is not None:
            # Start the new watches before dropping the old ones: an overlap only
            # duplicates events (the batcher dedupes them), a gap would lose some.
            old_watcher = self.watcher
            self.watcher = Watcher(self.matchers, self.live.add, self.request_rescan)
            self.watcher.start()
            old_watcher.stop()
        for root in (*plan.added, *plan.changed):
            self.request_rescan(root.name, "reload")
        log.info(
            "roots_reloaded",
            added=[r.name for r in plan.added],
            changed=[r.name for r in plan.changed],
            removed=list(plan.removed),
            removed_files="kept in the graph",
        )

    def request_rescan(self, root: str, reason: str = "requested") -> None:
        if self.writer is None or not any(m.root.name == root for m in self.matchers):
            return
        self.rescans.request(root, reason)

    # -- internals ----------------------------------------------------------------------

    async def _step(self, name: str, work: Awaitable[object]) -> None:
        started = time.monotonic()
        await work
        log.info(
            "lifecycle_step", step=name, duration_ms=round((time.monotonic() - started) * 1000, 1)
        )

    def status_line(self) -> str:
        """STATUS= for systemd: the counters an operator glances at in systemctl status."""
        parts = [self.metrics.health.state]
        if self.pipeline is not None:
            st = self.pipeline.stats
            parts.append(f"files {st.files_seen} parsed {st.parsed} unchanged {st.unchanged}")
            parts.append(f"errors {st.errors}")
        if self.pool is not None:
            parts.append(f"queued {sum(self.pool.queue_depth().values())}")
        if self.writer is not None:
            parts.append(f"dead letters {self.writer.stats.dead_letters}")
            if self.writer.stats.waiting_since is not None:
                parts.append("waiting for Neo4j")
        return ", ".join(parts)

    def _spawn_service(self, work: Awaitable[object], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._service_tasks.add(task)
        task.add_done_callback(self._service_tasks.discard)

    async def _start_metrics(self) -> None:
        address = self.settings.service.metrics_address
        try:
            where = parse_address(address)
            if where is None:
                return
            self.metrics_server = MetricsServer(self.metrics, *where)
        except (OSError, ValueError) as exc:
            raise StartupError(f"cannot serve metrics on {address}: {exc}") from exc
        self.metrics_server.start()

    async def _service_loop(self) -> None:
        """Heartbeat, WATCHDOG=1 and STATUS= from the event loop itself, so a stuck loop
        stops them all and systemd (WatchdogSec) and /healthz both notice."""
        interval = self.notifier.watchdog_interval_s or 1.0
        tick = min(1.0, interval)
        next_status = 0.0
        while True:
            self.metrics.health.beat()
            self.notifier.watchdog()
            now = time.monotonic()
            if now >= next_status:
                self.notifier.status(self.status_line())
                next_status = now + self.settings.service.status_interval_s
            await asyncio.sleep(tick)

    async def _neo4j_checks(self, every_s: float = 5.0) -> None:
        """Cached reachability for /healthz: one cheap check every few seconds, never a
        query per probe."""
        health = self.metrics.health
        while self.driver is not None:
            try:
                await asyncio.wait_for(self.driver.verify_connectivity(), every_s)
                health.neo4j_ok, health.neo4j_error = True, None
            except Exception as exc:
                health.neo4j_ok, health.neo4j_error = False, f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(every_s)

    async def _connect(self) -> None:
        try:
            self.driver = await connect(self.settings.neo4j)
        except CannotConnect as exc:
            raise StartupError(str(exc)) from exc

    async def _start_pool(self) -> None:
        self.pool = PriorityPool(
            extract_task,
            workers=self.settings.pool.workers,
            task_timeout_s=self.settings.pool.task_timeout_s,
            recycle_after=self.settings.pool.recycle_after,
            memory_limit_bytes=int(self.settings.pool.memory_limit_mb * 1024 * 1024),
            initializer=init_worker,
            preload=("lineaged.worker",),
            on_task_done=self.metrics.parse_duration.observe,
        )
        await self.pool.start()

    def _make_pipeline(self) -> Pipeline:
        from lineaged.cache import cache_key
        from lineaged.extract import EXTRACTOR_VERSION

        roots = self._root_contexts(self.settings)
        assert self.pool is not None and self.writer is not None
        return Pipeline(
            roots,
            self.pool,
            self.writer,
            extract_fn_version=EXTRACTOR_VERSION,
            cache=self.cache,
            cache_key=cache_key if self.cache is not None else None,
            stat_cache=self.cache.stat_cache if self.cache is not None else None,
            requeue=self.live.add,
            on_written=self.metrics.observe_latencies,
            schema=self.schema,
        )

    async def _open_schema(self) -> None:
        self.schema = SchemaStage(self.cache.catalog if self.cache is not None else None)
        await self.schema.open()
        self.schema.configure(explicit_layers(self._root_contexts(self.settings)))

    @staticmethod
    def _root_contexts(settings: Settings) -> dict[str, RootContext]:
        from lineaged.extract.schema import load_schema_file, schema_fingerprint

        roots = {}
        for r in settings.roots:
            schema = load_schema_file(r.schema_file) if r.schema_file else None
            roots[r.name] = RootContext(r, schema, schema_fingerprint(schema) if schema else "")
        return roots

    async def _open_cache(self) -> None:
        from lineaged.cache import ParseCache

        c = self.settings.cache
        if not c.enabled:
            log.warning("cache_disabled", reason="cache.enabled = false")
            return
        # Never fatal: a broken cache file is moved aside and rebuilt, an unusable one
        # degrades to running without a cache (ParseCache logs which).
        self.cache = await ParseCache.open(
            self.settings.state.dir / "cache.sqlite",
            max_entries=c.max_entries,
            max_bytes=int(c.max_mb * 1024 * 1024),
            ttl_days=c.ttl_days,
        )

    async def _rescan_root(self, root: str) -> None:
        matcher = next((m for m in self.matchers if m.root.name == root), None)
        if matcher is not None:
            await self._reconcile(matcher)

    async def _reconcile(self, matcher: RootMatcher) -> None:
        assert self.writer is not None
        plan = await plan_root(matcher, self.writer.root_files, await self._current_check(matcher))
        # Definitions before their readers, so a cold start extracts most files once.
        for ev in await asyncio.to_thread(order_events, plan.events):
            self.backfill.add(ev)

    async def _current_check(self, matcher: RootMatcher) -> CurrentCheck | None:
        """A file whose stat the stat cache recognises, and whose hash the graph already
        holds (for this extractor version), needs neither reading nor parsing."""
        if self.cache is None:
            return None
        from lineaged.cache import unchanged
        from lineaged.extract import EXTRACTOR_VERSION

        entries = await self.cache.stat_cache.get_root(matcher.root.name)

        def is_current(rel: str, st: os.stat_result, state: FileState | None) -> bool:
            entry = entries.get(rel)
            if state is None or entry is None or not unchanged(entry, st):
                return False
            file_id = f"{matcher.root.name}:{rel}"
            # "+r<hash>" records the render context (dbt macros, YAML, ...): a file
            # whose context changed while the daemon was down is read again.
            version = EXTRACTOR_VERSION + self._render_suffix(matcher.root.name, rel)
            return state.is_current(
                entry.sha256,
                version,
                schema_current=lambda: self.schema.is_current(file_id, entry.sha256),
            )

        return is_current

    def _render_suffix(self, root: str, rel: str) -> str:
        ctx = self.pipeline.roots.get(root) if self.pipeline is not None else None
        return ctx.render.version_suffix(rel) if ctx is not None else ""

    async def _consume(self, batcher: Batcher, slots: asyncio.Semaphore | None) -> None:
        async for batch in batcher.batches():
            if batcher is self.backfill and self.stop_requested.is_set():
                continue  # backfill left at a stop is redone by the next start's reconcile
            self._batches_open += 1
            if slots is not None:
                await slots.acquire()
                if batcher is self.backfill and self.stop_requested.is_set():
                    self._batches_open -= 1
                    slots.release()
                    continue
            task = asyncio.create_task(self._process(batch, slots))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _process(self, batch: Batch, slots: asyncio.Semaphore | None) -> None:
        assert self.pipeline is not None
        try:
            await self.pipeline.process(batch)
        except PoolClosed:
            log.info("batch_handed_back", files=len(batch))
        except WriterFatalError as exc:
            # Wrong credentials or database: every batch would fail the same way.
            log.error("neo4j_refuses_writes_stopping", error=str(exc))
            self.request_stop("neo4j_fatal")
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
        deadline = self.settings.service.drain_deadline_s
        return max(0.1, deadline - (time.monotonic() - getattr(self, "_stop_at", time.monotonic())))
