"""Prometheus metrics, made from one `DaemonSnapshot` at scrape time.

The stages keep plain counters (`BatcherStats`, `PoolStats`, `PipelineStats`,
`WriterStats`); `Daemon.snapshot()` copies them into one typed record, and a custom
collector turns that record into metric families when /metrics is scraped, so no stage
knows about Prometheus, nothing is counted twice, and the collector never reaches into
a stage. Only the end-to-end latency, the per-stage durations and the parse duration are real
Histograms, fed by the pipeline's and the pool's hooks.

Scrapes run in the HTTP server's thread. A snapshot only reads ints and floats the loop
writes (atomic under the GIL) and never touches the loop, so a stuck loop still answers
/metrics — and /healthz reports it as unhealthy through the heartbeat age.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

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

from lineaged import metric_names as n
from lineaged.logfilter import LIMITER
from lineaged.snapshot import STATES, DaemonSnapshot, Health, PoolSnapshot, WriterSnapshot
from lineaged.stages import StageClock

__all__ = ["LATENCY_BUCKETS", "STATES", "DaemonCollector", "Health", "Metrics"]

# Event → graph, in seconds: realtime edits land in milliseconds, backfill in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

Snapshot = Callable[[], DaemonSnapshot]


class DaemonCollector:
    """Turns the daemon's snapshot into metric families, at scrape time."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._proc = psutil.Process()

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        yield from self._state(snap)
        yield from self._batchers(snap)
        if snap.pool is not None:
            yield from self._pool(snap.pool)
        yield from self._pipeline(snap)
        yield from self._schema(snap)
        if snap.writer is not None:
            yield from self._writer(snap.writer)
        yield from self._resources(snap)

    def _state(self, snap: DaemonSnapshot) -> Iterator[Metric]:
        s = StateSetMetricFamily(n.STATE, "Lifecycle state of the daemon")
        s.add_metric([], {name: snap.state == name for name in STATES})
        yield s
        yield _gauge(n.UP_SECONDS, "Seconds since start", snap.uptime_s)
        yield _gauge(
            n.HEARTBEAT_AGE, "Seconds since the event loop last ticked", snap.heartbeat_age_s
        )
        yield _gauge(n.NEO4J_UP, "1 if the last Neo4j check succeeded", snap.neo4j_ok)
        yield _gauge(n.HEALTHY, "1 if /healthz answers 200", snap.healthy)
        info = InfoMetricFamily(n.LAST_ERROR, "The most recent error logged")
        if not snap.neo4j_ok and snap.neo4j_error:
            # The error that matters now, whether or not anything logged it yet (a
            # reachability check that fails logs nothing; writes wait and retry).
            at = f"{time.time():.0f}"
            message = f"neo4j unreachable: {snap.neo4j_error}"[:500]
            info.add_metric([], {"message": message, "at": at})
        elif LIMITER.last_error is not None:
            at = f"{LIMITER.last_error_at or 0:.0f}"
            info.add_metric([], {"message": LIMITER.last_error[:500], "at": at})
        yield info
        yield CounterMetricFamily(
            n.LOG_REPEATS_SUPPRESSED,
            "Warning/error lines dropped as repeats (the full list: lineaged status --errors)",
            value=LIMITER.suppressed,
        )

    def _batchers(self, snap: DaemonSnapshot) -> Iterator[Metric]:
        events = CounterMetricFamily(n.EVENTS, "File events received", labels=["source"])
        batches = CounterMetricFamily(n.BATCHES, "Batches released", labels=["source"])
        files = CounterMetricFamily(
            n.BATCHED_FILES, "Files handed on after dedupe", labels=["source"]
        )
        pending = GaugeMetricFamily(
            n.PENDING_FILES, "Files waiting in a batcher", labels=["source"]
        )
        cancelled = CounterMetricFamily(
            n.CANCELLED_FILES, "Files created and deleted inside one window", labels=["source"]
        )
        ratio = GaugeMetricFamily(
            n.DEDUPE_RATIO, "Events per file handed on (1 = nothing collapsed)", labels=["source"]
        )
        for source, b in (("live", snap.live), ("backfill", snap.backfill)):
            events.add_metric([source], b.stats.events_in)
            batches.add_metric([source], b.stats.batches_out)
            files.add_metric([source], b.stats.files_out)
            pending.add_metric([source], b.pending)
            cancelled.add_metric([source], b.stats.cancelled)
            ratio.add_metric([source], b.stats.dedupe_ratio)
        yield from (events, batches, files, pending, cancelled, ratio)
        yield _gauge(
            n.BATCHES_OPEN, "Batches taken from a batcher, not yet done", snap.batches_open
        )
        yield _counter(n.RESCANS_REQUESTED, "Rescans asked for", snap.rescans_requested)
        yield _counter(n.RESCANS, "Rescans run (requests coalesce)", snap.rescans_run)
        yield _counter(n.WATCH_TROUBLES, "Lost-event signals from the watcher", snap.watch_troubles)

    def _pool(self, pool: PoolSnapshot) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            n.QUEUE_DEPTH, "Parse tasks queued per priority", labels=["priority"]
        )
        for priority, count in pool.queue_depth.items():
            depth.add_metric([priority], count)
        yield depth
        yield _gauge(n.PARSE_IN_FLIGHT, "Parse tasks handed to workers", pool.in_flight)
        yield _gauge(
            n.BACKFILL_THROTTLED,
            "1 while live edits hold the backfill to one worker fewer",
            int(pool.editing),
        )
        st = pool.stats
        yield SummaryMetricFamily(
            n.PARSE_SECONDS,
            "Time workers spent per parse task",
            count_value=st.completed,
            sum_value=st.busy_seconds,
        )
        yield _counter(n.PARSE_SUBMITTED, "Parse tasks submitted", st.submitted)
        yield _counter(n.PARSE_TIMEOUTS, "Parse tasks over the timeout", st.timeouts)
        yield _counter(n.WORKER_CRASHES, "Tasks that killed their worker", st.crashes)
        yield _counter(n.WORKER_RECYCLES, "Worker pool replacements", st.recycles)
        yield _counter(
            n.WORKER_POOL_STARTS,
            "Worker process pools started (first parse, recycles, replacements)",
            st.executors_started,
        )
        yield _counter(n.MEMORY_PAUSES, "Dispatch pauses for the memory limit", st.memory_pauses)

    def _pipeline(self, snap: DaemonSnapshot) -> Iterator[Metric]:
        st = snap.pipeline
        if st is None:
            return
        files = CounterMetricFamily(
            n.FILES, "Files by what the pipeline did with them", labels=["outcome"]
        )
        outcomes = {
            "unchanged": st.unchanged,
            "parsed": st.parsed,
            "cache_hits": st.cache_hits,
            "written": st.written,
            "deleted": st.deleted,
            "errors": st.errors,
        }
        for outcome, count in outcomes.items():
            files.add_metric([outcome], count)
        yield files
        yield _counter(n.FILES_SEEN, "Files the pipeline was handed", st.files_seen)
        yield _counter(n.PIPELINE_BATCHES, "Batches the pipeline finished", st.batches)
        lookups = st.cache_hits + st.parsed
        yield _gauge(
            n.CACHE_HIT_RATIO,
            "Parse cache hits / (hits + parses) since start",
            st.cache_hits / lookups if lookups else 0.0,
        )

    def _schema(self, snap: DaemonSnapshot) -> Iterator[Metric]:
        st = snap.schema
        yield _gauge(n.SCHEMA_TABLES, "Tables the schema catalog knows", st.tables)
        yield _gauge(n.SCHEMA_CONFLICTS, "Tables defined differently by two files", st.conflicts)
        yield _counter(
            n.SCHEMA_REQUEUED, "Files re-extracted because a table they read changed", st.requeued
        )
        yield _counter(
            n.SCHEMA_PROPAGATION_STOPPED,
            "Re-extractions not done: the hop bound was reached",
            st.propagation_stopped,
        )

    def _writer(self, writer: WriterSnapshot) -> Iterator[Metric]:
        st = writer.stats
        # rows/s is rate(lineaged_write_rows_total[1m]) in PromQL.
        yield _counter(n.WRITE_ROWS, "Rows sent to Neo4j", st.rows)
        yield _counter(n.WRITE_TRANSACTIONS, "Committed transactions", st.transactions)
        yield _counter(n.WRITE_ATTEMPTS, "Transactions started", st.attempts)
        yield _counter(n.WRITE_FILES, "Files committed to the graph", st.files)
        yield _counter(n.WRITE_SECONDS, "Time in write transactions", st.write_seconds)
        per_query = CounterMetricFamily(
            n.WRITE_QUERY_SECONDS,
            "Of the time in committed write transactions: per query, and the commit",
            labels=["query"],
        )
        for query, seconds in sorted(st.query_seconds.items()):
            per_query.add_metric([query], seconds)
        yield per_query
        yield _counter(n.WRITE_RETRIES, "Transient errors retried", st.retries)
        yield _counter(n.WRITE_SPLITS, "Batches split after an error", st.splits)
        yield _counter(n.DEAD_LETTERS, "Files dead-lettered", st.dead_letters)
        yield _counter(n.SLOW_TRANSACTIONS, "Slow transactions", st.slow_transactions)
        yield _counter(n.ORPHAN_SWEEPS, "Start-up orphan sweeps run", st.orphan_sweeps)
        yield _counter(
            n.ORPHAN_SWEEPS_SKIPPED,
            "Starts that skipped the orphan sweep (graph unchanged since a clean stop)",
            st.orphan_sweeps_skipped,
        )
        yield _gauge(n.TX_IN_FLIGHT, "Write transactions running", st.tx_in_flight)
        yield _gauge(n.TX_WAITING, "Write transactions waiting for a slot", st.tx_waiting)
        yield _gauge(n.TX_IN_FLIGHT_PEAK, "Most write transactions at once", st.tx_in_flight_peak)
        yield _gauge(n.SESSIONS_OPEN, "Driver sessions open", st.sessions_open)
        yield _gauge(
            n.NEO4J_WAITING,
            "How long writes have been waiting for Neo4j (0 = not waiting)",
            writer.waiting_s,
        )
        if writer.driver_pool is not None:
            yield _gauge(n.CONNECTIONS_IN_USE, "Bolt connections in use", writer.driver_pool.in_use)
            yield _gauge(n.CONNECTIONS_IDLE, "Idle Bolt connections", writer.driver_pool.idle)

    def _resources(self, snap: DaemonSnapshot) -> Iterator[Metric]:
        rss = GaugeMetricFamily(n.RSS_BYTES, "Resident memory", labels=["process"])
        rss.add_metric(["daemon"], _safe(lambda: self._proc.memory_info().rss))
        pids = snap.pool.worker_pids if snap.pool is not None else ()
        total = 0
        for pid in pids:
            try:
                total += psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue
        rss.add_metric(["workers"], total)
        yield rss
        yield _gauge(n.WORKERS, "Live worker processes", len(pids))
        yield _gauge(n.OPEN_FDS, "Open file descriptors", _safe(self._proc.num_fds))


class Metrics:
    """The registry, the health state and the histograms for one daemon."""

    def __init__(self, snapshot: Snapshot, health: Health) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.health = health
        self.latency = Histogram(
            n.EVENT_TO_GRAPH,
            "Latency from file event to the file's lineage committed in the graph",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.parse_duration = Histogram(
            n.PARSE_DURATION,
            "Time from handing a parse task to a worker to its result",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_duration = Histogram(
            n.STAGE_DURATION,
            "Time a batch spent in each pipeline stage (lineaged/stages.py), by lane",
            ["lane", "stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(DaemonCollector(snapshot))

    def observe_latencies(self, latencies: Sequence[float]) -> None:
        for seconds in latencies:
            self.latency.observe(seconds)

    def observe_stages(self, clock: StageClock) -> None:
        lane = "live" if clock.live else "backfill"
        for stage, seconds in clock.durations().items():
            self.stage_duration.labels(lane, stage).observe(seconds)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=float(value))


def _safe(read: Callable[[], float]) -> float:
    try:
        return read()
    except psutil.Error:
        return 0.0
