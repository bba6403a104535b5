"""Prometheus metrics, read from the stages' own stats objects at scrape time.

The stages keep plain counters (`BatcherStats`, `PoolStats`, `PipelineStats`,
`WriterStats`); a custom collector turns them into metric families when /metrics is
scraped, so no stage knows about Prometheus and nothing is counted twice. Only the
end-to-end latency is a real Histogram, fed by the pipeline's `on_written` hook.

Scrapes run in the HTTP server's thread. They only read ints and floats the loop
writes (atomic under the GIL) and never touch the loop, so a stuck loop still answers
/metrics — and /healthz reports it as unhealthy through the heartbeat age.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
    SummaryMetricFamily,
)

from lineaged.logfilter import LIMITER

STATES = ("starting", "running", "reloading", "draining", "stopped")

# Event → graph, in seconds: realtime edits land in milliseconds, backfill in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass
class Health:
    """Liveness facts the event loop keeps fresh; read by /healthz and /metrics."""

    state: str = "starting"
    started_at: float = field(default_factory=time.monotonic)
    heartbeat: float = field(default_factory=time.monotonic)
    neo4j_ok: bool = False
    neo4j_error: str | None = None
    stale_after_s: float = 10.0

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def heartbeat_age(self) -> float:
        return time.monotonic() - self.heartbeat

    def loop_alive(self) -> bool:
        return self.heartbeat_age() < self.stale_after_s

    def healthy(self) -> tuple[bool, str]:
        if not self.loop_alive():
            return False, f"event loop silent for {self.heartbeat_age():.1f} s"
        if not self.neo4j_ok:
            return False, f"neo4j unreachable: {self.neo4j_error or 'not checked yet'}"
        if self.state in ("starting", "stopped"):
            return False, self.state
        return True, "ok"


class DaemonCollector:
    """Reads a Daemon's stages (any of which may not exist yet) at scrape time."""

    def __init__(self, daemon: Any, health: Health, latency: Histogram) -> None:
        self._d = daemon
        self._health = health
        self._latency = latency
        self._proc = psutil.Process()

    def collect(self) -> Iterator[Metric]:
        yield from self._state()
        yield from self._batchers()
        yield from self._pool()
        yield from self._pipeline()
        yield from self._writer()
        yield from self._driver_pool()
        yield from self._resources()

    def _state(self) -> Iterator[Metric]:
        h = self._health
        s = StateSetMetricFamily("lineaged_state", "Lifecycle state of the daemon")
        s.add_metric([], {name: h.state == name for name in STATES})
        yield s
        yield _gauge("lineaged_up_seconds", "Seconds since start", time.monotonic() - h.started_at)
        yield _gauge(
            "lineaged_loop_heartbeat_age_seconds",
            "Seconds since the event loop last ticked",
            h.heartbeat_age(),
        )
        yield _gauge("lineaged_neo4j_up", "1 if the last Neo4j check succeeded", h.neo4j_ok)
        healthy, _ = h.healthy()
        yield _gauge("lineaged_healthy", "1 if /healthz answers 200", healthy)
        info = InfoMetricFamily("lineaged_last_error", "The most recent error logged")
        if not h.neo4j_ok and h.neo4j_error:
            # The error that matters now, whether or not anything logged it yet (a
            # reachability check that fails logs nothing; writes wait and retry).
            at = f"{time.time():.0f}"
            info.add_metric([], {"message": f"neo4j unreachable: {h.neo4j_error}"[:500], "at": at})
        elif LIMITER.last_error is not None:
            at = f"{LIMITER.last_error_at or 0:.0f}"
            info.add_metric([], {"message": LIMITER.last_error[:500], "at": at})
        yield info
        yield CounterMetricFamily(
            "lineaged_log_repeats_suppressed",
            "Warning/error lines dropped as repeats (the full list: lineaged status --errors)",
            value=LIMITER.suppressed,
        )

    def _batchers(self) -> Iterator[Metric]:
        events = CounterMetricFamily("lineaged_events", "File events received", labels=["source"])
        batches = CounterMetricFamily("lineaged_batches", "Batches released", labels=["source"])
        files = CounterMetricFamily(
            "lineaged_batched_files", "Files handed on after dedupe", labels=["source"]
        )
        pending = GaugeMetricFamily(
            "lineaged_pending_files", "Files waiting in a batcher", labels=["source"]
        )
        ratio = GaugeMetricFamily(
            "lineaged_dedupe_ratio",
            "Events per file handed on (1 = nothing collapsed)",
            labels=["source"],
        )
        for source in ("live", "backfill"):
            b = getattr(self._d, source, None)
            if b is None:
                continue
            events.add_metric([source], b.stats.events_in)
            batches.add_metric([source], b.stats.batches_out)
            files.add_metric([source], b.stats.files_out)
            pending.add_metric([source], len(b))
            ratio.add_metric([source], b.stats.dedupe_ratio)
        yield from (events, batches, files, pending, ratio)

    def _pool(self) -> Iterator[Metric]:
        pool = getattr(self._d, "pool", None)
        if pool is None:
            return
        depth = GaugeMetricFamily(
            "lineaged_queue_depth", "Parse tasks queued per priority", labels=["priority"]
        )
        for priority, n in pool.queue_depth().items():
            depth.add_metric([priority], n)
        yield depth
        yield _gauge("lineaged_parse_in_flight", "Parse tasks handed to workers", pool.in_flight)
        st = pool.stats
        parse = SummaryMetricFamily(
            "lineaged_parse_seconds",
            "Time workers spent per parse task",
            count_value=st.completed,
            sum_value=st.busy_seconds,
        )
        yield parse
        yield _counter("lineaged_parse_timeouts", "Parse tasks over the timeout", st.timeouts)
        yield _counter("lineaged_worker_crashes", "Tasks that killed their worker", st.crashes)
        yield _counter("lineaged_worker_recycles", "Worker pool replacements", st.recycles)

    def _pipeline(self) -> Iterator[Metric]:
        pipeline = getattr(self._d, "pipeline", None)
        if pipeline is None:
            return
        st = pipeline.stats
        files = CounterMetricFamily(
            "lineaged_files", "Files by what the pipeline did with them", labels=["outcome"]
        )
        for outcome in ("unchanged", "parsed", "cache_hits", "written", "deleted", "errors"):
            files.add_metric([outcome], getattr(st, outcome, 0))
        yield files
        lookups = st.cache_hits + st.parsed
        yield _gauge(
            "lineaged_cache_hit_ratio",
            "Parse cache hits / (hits + parses) since start",
            st.cache_hits / lookups if lookups else 0.0,
        )

    def _writer(self) -> Iterator[Metric]:
        writer = getattr(self._d, "writer", None)
        if writer is None:
            return
        st = writer.stats
        # rows/s is rate(lineaged_write_rows_total[1m]) in PromQL.
        yield _counter("lineaged_write_rows", "Rows sent to Neo4j", st.rows)
        yield _counter("lineaged_write_transactions", "Committed transactions", st.transactions)
        yield _counter("lineaged_write_files", "Files committed to the graph", st.files)
        yield _counter("lineaged_write_seconds", "Time in write transactions", st.write_seconds)
        yield _counter("lineaged_write_retries", "Transient errors retried", st.retries)
        yield _counter("lineaged_write_splits", "Batches split after an error", st.splits)
        yield _counter("lineaged_dead_letters", "Files dead-lettered", st.dead_letters)
        waiting = getattr(st, "waiting_since", None)
        yield _gauge(
            "lineaged_neo4j_waiting_seconds",
            "How long writes have been waiting for Neo4j (0 = not waiting)",
            time.monotonic() - waiting if waiting is not None else 0.0,
        )

    def _driver_pool(self) -> Iterator[Metric]:
        writer = getattr(self._d, "writer", None)
        snapshot = getattr(writer, "snapshot", None)
        if snapshot is None:
            return
        snap = snapshot()  # the writer reads the driver's pool defensively
        gauges = {
            "pool_in_use": ("lineaged_driver_connections_in_use", "Bolt connections in use"),
            "pool_idle": ("lineaged_driver_connections_idle", "Idle Bolt connections"),
            "sessions_open": ("lineaged_driver_sessions_open", "Driver sessions open"),
            "tx_in_flight": ("lineaged_write_tx_in_flight", "Write transactions running"),
            "tx_waiting": ("lineaged_write_tx_waiting", "Write transactions waiting for a slot"),
        }
        for key, (name, doc) in gauges.items():
            if snap.get(key) is not None:
                yield _gauge(name, doc, snap[key])
        if snap.get("slow_transactions") is not None:
            yield _counter(
                "lineaged_write_slow_transactions", "Slow transactions", snap["slow_transactions"]
            )

    def _resources(self) -> Iterator[Metric]:
        rss = GaugeMetricFamily("lineaged_rss_bytes", "Resident memory", labels=["process"])
        rss.add_metric(["daemon"], _safe(lambda: self._proc.memory_info().rss))
        pool = getattr(self._d, "pool", None)
        pids = pool.worker_pids() if pool is not None else []
        total = 0
        for pid in pids:
            try:
                total += psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue
        rss.add_metric(["workers"], total)
        yield rss
        yield _gauge("lineaged_workers", "Live worker processes", len(pids))
        yield _gauge("lineaged_open_fds", "Open file descriptors", _safe(self._proc.num_fds))


class Metrics:
    """The registry, the health state and the latency histogram for one daemon."""

    def __init__(self, daemon: Any, *, stale_after_s: float = 10.0) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.health = Health(stale_after_s=stale_after_s)
        self.latency = Histogram(
            "lineaged_event_to_graph_seconds",
            "Latency from file event to the file's lineage committed in the graph",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.parse_duration = Histogram(
            "lineaged_parse_duration_seconds",
            "Time from handing a parse task to a worker to its result",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(DaemonCollector(daemon, self.health, self.latency))

    def observe_latencies(self, latencies: Sequence[float]) -> None:
        for seconds in latencies:
            self.latency.observe(seconds)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=float(value))


def _safe(read: Callable[[], float]) -> float:
    try:
        return read()
    except psutil.Error:
        return 0.0
