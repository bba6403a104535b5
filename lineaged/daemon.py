"""Wiring and lifecycle, in the shape of uvicorn's `Server`: startup → main_loop → shutdown.

The daemon is one anyio task-group tree. `run()` owns the root group; every long-lived
piece is a named child (`Child`: its own cancel scope and a `done` event) started in
this order and stopped in the reverse order:

    run() ─ root task group
    ├── signals         SIGTERM/SIGINT: drain (a second one: cancel the drain); SIGHUP: reload
    ├── heartbeat       health beat, WATCHDOG=1, STATUS= — the event loop's own pulse
    ├── neo4j-check     cached reachability for /healthz
    ├── pool-dispatch   hands queued parse tasks to the worker processes (starts them)
    ├── orphan-sweep    Table/Column nodes nothing refers to, next to the reconcile
    ├── live            live Batcher → stream → `batch.live_lanes` lanes → pipeline
    ├── backfill        backfill Batcher → stream → `batch.backfill_lanes` lanes → pipeline
    ├── rescans         reconcile/rescan scans (RescanScheduler) and the periodic rescan
    ├── watcher         owns the watchdog observer thread
    ├── get-ready       (daemon) Neo4j query warm-up + workers from READY; catalog after the plan
    └── reload          the SIGHUP reload in progress

The metrics HTTP server is a thread the daemon starts first and stops last.

Drain (first SIGTERM/SIGINT, or the end of a `scan`) runs inside one cancel scope with
the configured deadline: stop a reload, the watcher and the rescans, flush the batchers
into the lanes, hand queued parse tasks back and let the running ones finish, let the
lanes finish their batches. Each step logs its duration. A second signal cancels that scope;
either way `shutdown()` then stops the workers and closes the driver and the cache.
Anything not written is picked up by the next start's reconcile: the graph is the ledger.
"""

from __future__ import annotations

import copy
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import structlog
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream
from neo4j import AsyncDriver

from lineaged.batcher import Batch, Batcher
from lineaged.catalog.stage import SchemaStage, explicit_layers, order_events
from lineaged.cli.exit_codes import ExitCode
from lineaged.config import ConfigError, Settings
from lineaged.deadletters import DeadLetters, dead_letters_path
from lineaged.gcpause import daemon_collector
from lineaged.graph.connect import CannotConnect, connect
from lineaged.graph.schema import ensure_schema
from lineaged.graph.stats import driver_pool_stats
from lineaged.graph.writer import GraphWriter, WriterFatalError
from lineaged.metrics import Metrics
from lineaged.metrics_http import MetricsServer, parse_address
from lineaged.model import GraphFile
from lineaged.orphan_policy import OrphanSweepPolicy
from lineaged.paths import RootMatcher
from lineaged.pipeline import Pipeline, RootContext
from lineaged.pool import PoolClosed, PriorityPool
from lineaged.reconcile import (
    RescanScheduler,
    StatKey,
    TrustedRow,
    Vouch,
    plan_root,
    settled,
    vouched,
)
from lineaged.reload import keep_restart_only, plan_reload
from lineaged.sdnotify import Notifier
from lineaged.snapshot import (
    BatcherSnapshot,
    DaemonSnapshot,
    DriverPool,
    Health,
    PoolSnapshot,
    WriterSnapshot,
)
from lineaged.stages import StageClock
from lineaged.watcher import Watcher
from lineaged.wiring import (
    backfill_batcher_options,
    cache_options,
    live_batcher_options,
    pool_options,
    writer_options,
)
from lineaged.worker import extract_task, init_worker

if TYPE_CHECKING:
    from lineaged.cache import ParseCache

log = structlog.get_logger(__name__)
T = TypeVar("T")


class StartupError(RuntimeError):
    """The daemon cannot start; the message is one line for the operator."""


@dataclass(eq=False)
class Child:
    """A task the daemon owns: cancelling `scope` stops it, `done` is set once it ended."""

    name: str
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)

    async def stop(self) -> None:
        self.scope.cancel()
        await self.done.wait()


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        oneshot: bool = False,
        reload_settings: Callable[[], Settings] | None = None,
        notifier: Notifier | None = None,
        handle_signals: bool = False,
    ) -> None:
        self.settings = settings
        self.oneshot = oneshot
        # Re-reads config.toml (+ env + the original CLI flags) on SIGHUP.
        self._reload_settings = reload_settings
        self._handle_signals = handle_signals
        self.notifier = notifier if notifier is not None else Notifier()
        self.health = Health(stale_after_s=settings.service.health_stale_s)
        self.metrics = Metrics(self.snapshot, self.health)
        self.metrics_server: MetricsServer | None = None
        self.matchers = [RootMatcher(r) for r in settings.roots]
        self.driver: AsyncDriver | None = None
        self.pool: PriorityPool | None = None
        self.writer: GraphWriter | None = None
        self.cache: ParseCache | None = None
        self.pipeline: Pipeline | None = None
        self.schema = SchemaStage()
        self.watcher: Watcher | None = None
        self.live = Batcher(**live_batcher_options(settings))
        self.backfill = Batcher(**backfill_batcher_options(settings))
        self.rescans = RescanScheduler(self._rescan_root)
        self.stop_requested = anyio.Event()
        self.ready = anyio.Event()
        self.exit_code = ExitCode.OK
        self._tg: TaskGroup | None = None
        self._children: dict[str, Child] = {}
        self._batches_open = 0  # taken from a batcher and not yet fully processed
        self._stop_at = 0.0
        self._startup_scope: anyio.CancelScope | None = None
        self._drain_scope: anyio.CancelScope | None = None
        self._forced = False
        self._pool_closed = False
        # Set once every root's start-up reconcile has been planned (or has failed).
        self._planned = anyio.Event()
        self._unplanned: set[str] = set()
        # Sweep at start unless the graph is as a clean stop left it (orphan_policy.py).
        self.orphans = OrphanSweepPolicy(
            settings.state.dir,
            settings.neo4j.uri,
            settings.neo4j.database,
            always=settings.writer.orphan_sweep == "every_start",
        )
        self._drained = False  # the drain ran to its end: every write finished

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> int:
        """startup → main_loop → shutdown, inside the root task group. Returns the exit
        code: 0, or 130/143 when a second signal cut the drain short."""
        try:
            with daemon_collector():
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    try:
                        await self._serve()
                    finally:
                        with anyio.CancelScope(shield=True):
                            await self.shutdown()
                        tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise _sole(group) from None
        return int(self.exit_code)

    async def _serve(self) -> None:
        if self._handle_signals:
            await self._start_child("signals", self._receive_signals)
        with anyio.CancelScope() as self._startup_scope:
            await self.startup()
        self._startup_scope = None
        if self.stop_requested.is_set() and not self.ready.is_set():
            log.info("stopped_during_startup")
            return
        await self.main_loop()

    async def startup(self) -> None:
        if not self.oneshot:
            await self._step("start_metrics", self._start_metrics())
        await self._start_child("heartbeat", self._heartbeat)
        await self._step("connect_neo4j", self._connect())
        assert self.driver is not None
        await self._start_child("neo4j-check", self._neo4j_checks)
        await self._step("ensure_schema", ensure_schema(self.driver, self.settings.neo4j.database))
        self.writer = GraphWriter(
            self.driver,
            self.settings.neo4j.database,
            DeadLetters(dead_letters_path(self.settings.state.dir)),
            max_concurrency=self.settings.writer.max_concurrent_tx,
            **writer_options(self.settings),
        )
        async with anyio.create_task_group() as tg:
            # Before any write of ours (none happens before this group ends): the
            # graph's counts and the last stop's note; Neo4j answers while the cache
            # opens.
            tg.start_soon(self._step, "read_graph_fingerprint", self.orphans.at_start(self.driver))
            await self._step("open_cache", self._open_cache())
            await self._step("open_schema_catalog", self._open_schema())
        # Only what finding the difference between disk and graph needs is done before
        # the reconcile. The orphan sweep (a label scan of every Column), when the graph
        # may hold orphans, runs next to it, and a scan waits for it at the end; the
        # worker processes start when the first file needs parsing, or (daemon) right
        # after the start-up reconcile is planned, together with Neo4j's query warm-up
        # (see `_after_plan`).
        await self._start_pool()
        if self.orphans.must_sweep:
            await self._start_child("orphan-sweep", self._sweep_orphans)
        else:
            self.orphans.skip()
            self.writer.stats.orphan_sweeps_skipped += 1
        self.pipeline = self._make_pipeline()
        # Results a crash left behind the catalog (recorded, dependants not yet redone).
        self.pipeline.requeue_files(self.schema.stale_files())
        await self._start_child("live", self._lanes, self.live, "live")
        await self._start_child("backfill", self._lanes, self.backfill, "backfill")
        await self._start_child("rescans", self._rescans)
        if not self.oneshot:
            await self._start_child("watcher", self._watch)
            await self._start_child("get-ready", self._after_plan)
        self._unplanned = {m.root.name for m in self.matchers}
        if not self._unplanned:
            self._planned.set()
        for m in self.matchers:
            self.request_rescan(m.root.name, "startup")
        self.ready.set()
        self.health.state = "running"
        self.notifier.ready(self.status_line())
        log.info(
            "daemon_ready",
            roots=[m.root.name for m in self.matchers],
            realtime=self.settings.realtime,
            metrics=self.metrics_server.url if self.metrics_server else None,
            watchdog_s=self.notifier.watchdog_interval_s,
        )

    async def main_loop(self) -> None:
        if self.oneshot:
            await self._until_idle()
            self.request_stop("scan complete")
        await self.stop_requested.wait()
        await self.drain()

    async def drain(self) -> None:
        """The named drain steps, in reverse start order, inside one deadline scope that
        a second signal cancels."""
        self.health.state = "draining"
        self.notifier.stopping(self.status_line())
        deadline_s = self._deadline_left()
        log.info("daemon_draining", deadline_s=round(deadline_s, 1))
        if self._forced:
            return
        with anyio.move_on_after(deadline_s) as scope:
            self._drain_scope = scope
            await self._step("stop_reload", self._stop_child("reload"))
            await self._step("stop_maintenance", self._stop_maintenance())
            await self._step("stop_watcher", self._stop_child("watcher"))
            await self._step("stop_rescans", self._stop_child("rescans"))
            await self._step("flush_batchers", self._flush_batchers())
            # Queued parse tasks are handed back (the next start's reconcile redoes
            # them); tasks already in a worker and the current transactions finish.
            await self._step("hand_back_queued", self._close_pool(self._deadline_left()))
            await self._step("finish_batches", self._finish_lanes())
        self._drain_scope = None
        self._drained = not scope.cancelled_caught and not self._forced
        if scope.cancelled_caught:
            why = "second_signal" if self._forced else "deadline"
            log.warning("drain_cut_short", reason=why, unfinished_batches=self._batches_open)

    async def shutdown(self) -> None:
        """Stop whatever still runs, in reverse start order, and close every resource.
        Runs shielded, after a clean drain, a cut-short one or a failed start-up."""
        for name in ("reload", "get-ready", "orphan-sweep", "watcher", "rescans"):
            await self._stop_child(name)
        for name in ("backfill", "live"):
            await self._stop_child(name)
        if self.pool is not None and not self._pool_closed:
            await self._step("stop_workers", self._close_pool(0))
        await self._stop_child("pool-dispatch")
        await self._stop_child("neo4j-check")
        if self.driver is not None and self.writer is not None and self._drained:
            await self._step("note_graph", self._note_graph())
        if self.driver is not None:
            await self._step("close_driver", self.driver.close())
        if self.cache is not None:
            # After the drain: "every record current" holds only if nothing is left to
            # redo; then the next start need not decode the records (SchemaStage).
            await self._step("save_schema_state", self.schema.save_state())
            await self._step("close_cache", self.cache.close())
        self.health.state = "stopped"
        if self.metrics_server is not None:
            await self._step("stop_metrics", anyio.to_thread.run_sync(self.metrics_server.stop))
        await self._stop_child("heartbeat")
        await self._stop_child("signals")
        self.notifier.close()
        log.info("daemon_stopped", exit_code=int(self.exit_code))

    # -- requests from signals, tests and the CLI -------------------------------------------

    def request_stop(self, reason: str = "requested", *, signum: int | None = None) -> None:
        """First call: drain. A second one caused by a signal cancels the drain."""
        if self.stop_requested.is_set():
            if signum is not None:
                self._force_exit(signum)
            return
        log.info("stop_requested", reason=reason)
        self._stop_at = time.monotonic()
        self.stop_requested.set()
        if self._startup_scope is not None:
            self._startup_scope.cancel()  # nothing to drain yet; shutdown closes what is open

    def _force_exit(self, signum: int) -> None:
        if self._forced:
            return
        self._forced = True
        self.exit_code = ExitCode.for_signal(signum)
        log.warning(
            "second_signal_cancelling_drain",
            signal=signal.Signals(signum).name,
            exit_code=int(self.exit_code),
        )
        for scope in (self._startup_scope, self._drain_scope):
            if scope is not None:
                scope.cancel()

    def request_reload(self) -> None:
        if self.stop_requested.is_set() or not self.ready.is_set() or self._tg is None:
            log.warning("reload_ignored", reason="not running")
            return
        if "reload" in self._children:
            log.warning("reload_ignored", reason="a reload is still running")
            return
        self._tg.start_soon(self._start_child, "reload", self._reload_once)

    def request_rescan(self, root: str, reason: str = "requested") -> None:
        if self.writer is None or not any(m.root.name == root for m in self.matchers):
            return
        self.rescans.request(root, reason)

    async def reload(self) -> bool:
        """Re-read the configuration and apply it; an invalid one leaves the old in place."""
        started = time.monotonic()
        self.notifier.reloading()
        self.health.state = "reloading"
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
            await self._apply(new, contexts)
            log.info("reload_done", duration_ms=round((time.monotonic() - started) * 1000, 1))
            return True
        finally:
            self.health.state = "running"
            self.notifier.ready(self.status_line())

    # -- observers ------------------------------------------------------------------------

    def snapshot(self) -> DaemonSnapshot:
        """Every counter, copied into one typed record (see lineaged/snapshot.py)."""
        h = self.health
        healthy, _ = h.healthy()
        pool = self.pool
        writer = self.writer
        return DaemonSnapshot(
            state=h.state,
            uptime_s=time.monotonic() - h.started_at,
            heartbeat_age_s=h.heartbeat_age(),
            healthy=healthy,
            neo4j_ok=h.neo4j_ok,
            neo4j_error=h.neo4j_error,
            live=BatcherSnapshot(_copy(self.live.stats), len(self.live)),
            backfill=BatcherSnapshot(_copy(self.backfill.stats), len(self.backfill)),
            batches_open=self._batches_open,
            rescans_requested=self.rescans.requested,
            rescans_run=self.rescans.scans,
            watch_troubles=self.watcher.troubles if self.watcher is not None else 0,
            schema=_copy(self.schema.stats),
            pool=None
            if pool is None
            else PoolSnapshot(
                _copy(pool.stats),
                pool.queue_depth(),
                pool.in_flight,
                tuple(pool.worker_pids()),
                pool.editing,
            ),
            pipeline=None if self.pipeline is None else _copy(self.pipeline.stats),
            writer=None if writer is None else self._writer_snapshot(writer),
        )

    def status_line(self) -> str:
        return self.snapshot().status_line()

    def _writer_snapshot(self, writer: GraphWriter) -> WriterSnapshot:
        st = _copy(writer.stats)
        waiting = time.monotonic() - st.waiting_since if st.waiting_since is not None else 0.0
        pool = driver_pool_stats(self.driver) if self.driver is not None else None
        driver_pool = None if pool is None else DriverPool(pool["in_use"], pool["idle"])
        return WriterSnapshot(st, waiting, driver_pool)

    # -- children -------------------------------------------------------------------------

    async def _start_child(self, name: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Start `fn(*args, task_status=...)` as the child `name` and return once it has
        said it is started (or has ended)."""
        assert self._tg is not None
        child = Child(name)
        self._children[name] = child

        async def body(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            try:
                with child.scope:
                    await fn(*args, task_status=task_status)
            finally:
                child.done.set()
                if self._children.get(name) is child:
                    del self._children[name]

        await self._tg.start(body, name=name)

    async def _stop_child(self, name: str) -> None:
        child = self._children.get(name)
        if child is not None:
            await child.stop()

    # -- the children's bodies --------------------------------------------------------------

    async def _receive_signals(self, *, task_status: TaskStatus[None]) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            task_status.started()
            async for signum in signals:
                if signum == signal.SIGHUP:
                    self.request_reload()
                else:
                    self.request_stop(signal.Signals(signum).name, signum=signum)

    async def _heartbeat(self, *, task_status: TaskStatus[None]) -> None:
        """Heartbeat, WATCHDOG=1 and STATUS= from the event loop itself, so a stuck loop
        stops them all and systemd (WatchdogSec) and /healthz both notice."""
        task_status.started()
        interval = self.notifier.watchdog_interval_s or 1.0
        tick = min(1.0, interval)
        next_status = 0.0
        while True:
            self.health.beat()
            self.notifier.watchdog()
            now = time.monotonic()
            if now >= next_status:
                self.notifier.status(self.status_line())
                next_status = now + self.settings.service.status_interval_s
            await anyio.sleep(tick)

    async def _neo4j_checks(self, *, task_status: TaskStatus[None]) -> None:
        """Cached reachability for /healthz: one cheap check every few seconds, never a
        query per probe."""
        task_status.started()
        assert self.driver is not None
        health = self.health
        while True:
            every = self.settings.service.neo4j_check_interval_s
            try:
                with anyio.fail_after(every):
                    await self.driver.verify_connectivity()
                health.neo4j_ok, health.neo4j_error = True, None
            except Exception as exc:
                health.neo4j_ok, health.neo4j_error = False, f"{type(exc).__name__}: {exc}"
            await anyio.sleep(every)

    async def _lanes(self, batcher: Batcher, source: str, *, task_status: TaskStatus[None]) -> None:
        """Feed `batcher`'s batches to its lanes through an unbuffered stream: a batch
        leaves the batcher (and its files are read) only when a lane is free, so the
        bytes held are bounded by lanes x max_batch files however much is queued, and
        what waits keeps being deduplicated in the batcher."""
        backfill = batcher is self.backfill
        lanes = self.settings.batch.backfill_lanes if backfill else self.settings.batch.live_lanes
        send, receive = anyio.create_memory_object_stream[Batch](0)
        async with anyio.create_task_group() as tg:
            for i in range(lanes):
                tg.start_soon(self._lane, receive.clone(), backfill, name=f"{source}-lane-{i}")
            receive.close()
            task_status.started()
            async with send:
                async for batch in batcher.batches():
                    if backfill and self.stop_requested.is_set():
                        continue  # backfill left at a stop is redone by the next reconcile
                    self._batches_open += 1
                    await send.send(batch)

    async def _lane(self, batches: MemoryObjectReceiveStream[Batch], backfill: bool) -> None:
        async with batches:
            async for batch in batches:
                try:
                    if not (backfill and self.stop_requested.is_set()):
                        await self._process(batch)
                finally:
                    self._batches_open -= 1

    async def _process(self, batch: Batch) -> None:
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

    async def _watch(self, *, task_status: TaskStatus[None]) -> None:
        """Own the watchdog observer thread. Its events reach the loop through
        `call_soon_threadsafe` (the watcher's bridge: the observer thread never waits
        for the loop, so a busy loop cannot make the kernel queue overflow)."""
        watcher = Watcher(self.matchers, self.live.add, self.request_rescan)
        watcher.start()
        self.watcher = watcher
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(watcher.stop)

    async def _rescans(self, *, task_status: TaskStatus[None]) -> None:
        async with anyio.create_task_group() as tg:
            self.rescans.attach(tg)
            task_status.started()
            if not self.oneshot:
                await self.rescans.periodic(
                    lambda: self.settings.watch.rescan_interval_s,
                    lambda: [m.root.name for m in self.matchers],
                )
            else:
                await anyio.sleep_forever()

    async def _reload_once(self, *, task_status: TaskStatus[None]) -> None:
        task_status.started()
        await self.reload()

    # -- drain helpers --------------------------------------------------------------------

    async def _flush_batchers(self) -> None:
        """Close both batchers: what they hold goes to the lanes (live) or is dropped
        (backfill: the next reconcile finds it), and their feeds end."""
        self.live.close()
        self.backfill.close()
        while len(self.live) or len(self.backfill):
            await anyio.sleep(0.01)

    async def _close_pool(self, deadline_s: float) -> None:
        if self.pool is None:
            return
        await self.pool.close(deadline_s=deadline_s)
        self._pool_closed = True

    async def _finish_lanes(self) -> None:
        for name in ("live", "backfill"):
            child = self._children.get(name)
            if child is not None:
                await child.done.wait()

    def _deadline_left(self) -> float:
        deadline = self.settings.service.drain_deadline_s
        return max(0.1, deadline - (time.monotonic() - self._stop_at))

    async def _until_idle(self) -> None:
        while not self.stop_requested.is_set():
            await anyio.sleep(0.05)
            busy = self.rescans.busy or self._batches_open or len(self.backfill) or len(self.live)
            busy = busy or "orphan-sweep" in self._children
            if not busy:
                return

    async def _step(self, name: str, work: Awaitable[object]) -> None:
        started = time.monotonic()
        try:
            await work
        except anyio.get_cancelled_exc_class():
            log.info("lifecycle_step", step=name, duration_ms=_ms(started), cancelled=True)
            raise
        log.info("lifecycle_step", step=name, duration_ms=_ms(started))

    # -- start-up helpers -------------------------------------------------------------------

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

    async def _sweep_orphans(self, *, task_status: TaskStatus[None]) -> None:
        """Remove Table/Column nodes nothing refers to (a crash of an older version, a
        hand edit): maintenance, run next to the start-up reconcile, not before it."""
        assert self.writer is not None
        task_status.started()
        try:
            await self._step("sweep_orphans", self.orphans.sweep(self.writer))
        except Exception as exc:
            log.warning("orphan_sweep_failed", error=f"{type(exc).__name__}: {exc}")

    async def _note_graph(self) -> None:
        """After a complete drain: note that the graph holds no orphans, if nobody but
        this daemon wrote since its start (the next start then skips the sweep)."""
        assert self.driver is not None and self.writer is not None
        try:
            await self.orphans.at_clean_stop(self.driver, self.writer.ledger)
        except Exception as exc:
            log.warning("sweep_note_not_saved", reason=f"{type(exc).__name__}: {exc}")

    async def _after_plan(self, *, task_status: TaskStatus[None]) -> None:
        """Daemon mode, from READY on, in the background: let Neo4j plan the write
        queries (a live edit that arrives meanwhile waits for that instead of planning
        them again) and start the worker processes, both next to the start-up
        reconcile (Neo4j and the process start work on their side), so that the first
        edit waits for neither; once the plan is made, decode a deferred catalog. A
        scan (oneshot) needs none of it when nothing changed, and starts the workers
        with its first parse."""
        assert self.pool is not None and self.writer is not None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._step, "warm_up_queries", self._warm_up_queries())
            tg.start_soon(self._start_workers)
            task_status.started()
            await self._planned.wait()
            await self._step("load_schema_catalog", self._load_deferred_catalog())

    async def _warm_up_queries(self) -> None:
        assert self.writer is not None
        try:
            await self.writer.warm_up()
        except Exception as exc:
            # Only the first write pays for planning; nothing is lost.
            log.warning("query_warm_up_failed", error=f"{type(exc).__name__}: {exc}")

    async def _start_workers(self) -> None:
        assert self.pool is not None
        try:
            await self._step(
                "start_workers",
                self.pool.start(self.settings.pool.start_timeout_s, spawn_dispatcher=False),
            )
        except (TimeoutError, OSError, RuntimeError) as exc:
            log.error("workers_did_not_start", error=f"{type(exc).__name__}: {exc}")
            self.exit_code = ExitCode.CANNOT_START
            self.request_stop("workers_did_not_start")

    async def _load_deferred_catalog(self) -> None:
        """The catalog's records, if start-up deferred them (they were all current at
        the last stop): the first edit to extract would otherwise wait for them."""
        await self.schema.ensure_loaded()
        if self.pipeline is not None:
            self.pipeline.requeue_files(self.schema.take_unmatched())

    async def _stop_maintenance(self) -> None:
        for name in ("get-ready", "orphan-sweep"):
            await self._stop_child(name)

    async def _connect(self) -> None:
        try:
            self.driver = await connect(self.settings.neo4j)
        except CannotConnect as exc:
            raise StartupError(str(exc)) from exc

    async def _start_pool(self) -> None:
        self.pool = PriorityPool(
            extract_task,
            workers=self.settings.pool.workers,
            initializer=init_worker,
            # Imported once in the forkserver, so a worker started by a recycle is
            # ready in milliseconds instead of importing sqlglot (seconds under load).
            preload=("lineaged.worker", "lineaged.extract"),
            nice=self.settings.pool.worker_nice,
            on_task_done=self.metrics.parse_duration.observe,
            **pool_options(self.settings),
        )
        # No processes yet: the dispatcher starts them for the first task.
        await self._start_child("pool-dispatch", self._dispatch)

    async def _dispatch(self, *, task_status: TaskStatus[None]) -> None:
        assert self.pool is not None
        task_status.started()
        await self.pool.dispatch()

    def _make_pipeline(self) -> Pipeline:
        from lineaged.cache import cache_key
        from lineaged.crash_counts import CrashCounts, crash_counts_path
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
            on_stages=self._observe_stages,
            reserve_worker=self.pool.reserve_worker,
            hold_backfill_writes=self.writer.hold_backfill,
            schema=self.schema,
            crash_counts=CrashCounts(crash_counts_path(self.settings.state.dir)),
        )

    def _observe_stages(self, clock: StageClock) -> None:
        self.metrics.observe_stages(clock)
        if clock.live:
            log.debug(
                "live_batch_stages",
                total_ms=round((clock.end - clock.start) * 1000, 1),
                **{f"{k}_ms": round(v * 1000, 1) for k, v in clock.durations().items()},
            )

    async def _open_schema(self) -> None:
        self.schema = SchemaStage(self.cache.catalog if self.cache is not None else None)
        await self.schema.open()
        await self.schema.configure(explicit_layers(self._root_contexts(self.settings)))

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

        if not self.settings.cache.enabled:
            log.warning("cache_disabled", reason="cache.enabled = false")
            return
        # Never fatal: a broken cache file is moved aside and rebuilt, an unusable one
        # degrades to running without a cache (ParseCache logs which).
        self.cache = await ParseCache.open(
            self.settings.state.dir / "cache.sqlite", **cache_options(self.settings)
        )

    # -- reload -------------------------------------------------------------------------

    async def _apply(self, new: Settings, contexts: dict[str, RootContext]) -> None:
        from lineaged.logging import configure_logging

        old = self.settings
        plan = plan_reload(old, new)
        if plan.restart_required:
            log.warning("reload_needs_restart", keys=list(plan.restart_required))
        if plan.applied:
            log.info("reload_applied", keys=list(plan.applied))
        new = keep_restart_only(old, new, plan)
        self.settings = new
        configure_logging(new.log.level, new.log.format)
        self._configure(new)
        if not plan.roots_changed:
            return
        self.matchers = [RootMatcher(r) for r in new.roots]
        if self.pipeline is not None:
            # Removed roots keep their context so batches already taken can finish.
            self.pipeline.roots.update(contexts)
            # A changed schema file changes what its root's readers resolve to.
            self.pipeline.requeue_files(await self.schema.configure(explicit_layers(contexts)))
        if self.watcher is not None:
            # Start the new watches before dropping the old ones: an overlap only
            # duplicates events (the batcher dedupes them), a gap would lose some.
            old_watch = self._children.get("watcher")
            await self._start_child("watcher", self._watch)
            if old_watch is not None:
                await old_watch.stop()
        for root in (*plan.added, *plan.changed):
            self.request_rescan(root.name, "reload")
        log.info(
            "roots_reloaded",
            added=[r.name for r in plan.added],
            changed=[r.name for r in plan.changed],
            removed=list(plan.removed),
            removed_files="kept in the graph",
        )

    def _configure(self, settings: Settings) -> None:
        """Every setting that can change live, applied to the running stages: the same
        option builders as their constructors (lineaged/wiring.py)."""
        self.live.configure(**live_batcher_options(settings))
        self.backfill.configure(**backfill_batcher_options(settings))
        self.health.stale_after_s = settings.service.health_stale_s
        if self.pool is not None:
            self.pool.configure(**pool_options(settings))
        if self.writer is not None:
            self.writer.configure(**writer_options(settings))
        if self.cache is not None:
            self.cache.configure(**cache_options(settings))

    # -- reconcile ----------------------------------------------------------------------

    async def _rescan_root(self, root: str) -> None:
        matcher = next((m for m in self.matchers if m.root.name == root), None)
        try:
            if matcher is not None:
                await self._reconcile(matcher)
        finally:
            self._unplanned.discard(root)
            if not self._unplanned:
                self._planned.set()

    async def _reconcile(self, matcher: RootMatcher) -> None:
        assert self.writer is not None
        root = matcher.root.name
        trusted: list[TrustedRow] | None = None

        async def trusted_rows() -> list[TrustedRow]:
            # One read of the stat cache's rows per reconcile, by whichever needs it.
            nonlocal trusted
            if trusted is None:
                assert self.cache is not None
                trusted = await self.cache.stat_cache.trusted(root)
            return trusted

        vouch = self._vouch(matcher, trusted_rows) if self.cache is not None else None
        plan = await plan_root(matcher, self.writer.root_files, vouch)
        known: set[str] = set()
        if self.cache is not None and len(plan.stale_stats) > 1:
            recorded = settled(plan.stale_stats, await trusted_rows(), self._catalog_current(root))
            known = {f"{root}:{rel}" for rel in recorded}
        # Definitions before their readers, so a cold start extracts most files once
        # (files whose content the catalog has taken in already need no ordering).
        for ev in await anyio.to_thread.run_sync(order_events, plan.events, known):
            self.backfill.add(ev)

    def _catalog_current(self, root: str) -> Callable[[str, str], bool]:
        """(path, sha256) -> does the schema catalog hold a current record of the file
        with that content (what it defines is known)."""
        schema = self.schema

        def current(rel: str, sha256: str) -> bool:
            return schema.is_current(f"{root}:{rel}", sha256)

        return current

    def _vouch(
        self, matcher: RootMatcher, trusted_rows: Callable[[], Awaitable[list[TrustedRow]]]
    ) -> Vouch:
        """A file whose stat the stat cache recognises, and whose hash the graph already
        holds (for this extractor version and render context, and computed with the
        schema catalog's current columns), needs neither reading nor parsing."""
        from lineaged.extract import EXTRACTOR_VERSION

        root = matcher.root.name

        def version_of(rel: str) -> str:
            # "+r<hash>" records the render context (dbt macros, YAML, ...): a file
            # whose context changed while the daemon was down is read again.
            return EXTRACTOR_VERSION + self._render_suffix(root, rel)

        ctx = self.pipeline.roots.get(root) if self.pipeline is not None else None
        version: Callable[[str], str] | str = version_of
        if ctx is None or ctx.render.renders_nothing:
            version = EXTRACTOR_VERSION

        schema_current = self._catalog_current(root)

        async def vouch(known: dict[str, GraphFile]) -> dict[str, StatKey]:
            return vouched(known, await trusted_rows(), version, schema_current)

        return vouch

    def _render_suffix(self, root: str, rel: str) -> str:
        ctx = self.pipeline.roots.get(root) if self.pipeline is not None else None
        return ctx.render.version_suffix(rel) if ctx is not None else ""


def _copy(stats: T) -> T:
    """A shallow copy of a stats dataclass (numbers only), so a snapshot stays still."""
    return copy.copy(stats)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _sole(group: BaseExceptionGroup) -> BaseException:
    """The one error behind a task group's ExceptionGroup (e.g. a StartupError), so the
    CLI can report it in one line; a group of several stays a group."""
    while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
        group = group.exceptions[0]  # type: ignore[assignment]
    return group
