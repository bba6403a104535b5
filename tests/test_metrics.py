"""Metrics collector over real stage stats objects, /metrics and /healthz over HTTP,
`lineaged status` parsing, the repeat limiter and the reload plan."""

from __future__ import annotations

import contextlib
import dataclasses
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
import structlog
from prometheus_client import generate_latest

import lineaged.metrics as metrics_module
from lineaged.batcher import Batcher, BatcherStats
from lineaged.catalog.stage import SchemaStats
from lineaged.cli.status import parse_metrics
from lineaged.config import load_settings
from lineaged.graph.writer import WriterStats
from lineaged.logfilter import RepeatLimiter
from lineaged.metrics import Metrics
from lineaged.metrics_http import MetricsServer, parse_address
from lineaged.model import Change, FileEvent, FileRef, Priority
from lineaged.pipeline import PipelineStats
from lineaged.pool import PoolStats
from lineaged.reload import keep_restart_only, plan_reload
from lineaged.snapshot import (
    BatcherSnapshot,
    DaemonSnapshot,
    Health,
    PoolSnapshot,
    WriterSnapshot,
)


def fake_snapshot(health: Health | None = None) -> DaemonSnapshot:
    """A snapshot with known counters; state and health follow `health` when given."""
    live = Batcher(debounce_s=0)
    for path in ("a.sql", "a.sql", "b.sql"):
        live.add(FileEvent(FileRef("r", path), "/x/" + path, Change.CHANGED, Priority.HIGH, 0.0))
    live.stats.files_out = 2
    h = health or Health()
    return DaemonSnapshot(
        state=h.state,
        uptime_s=5.0,
        heartbeat_age_s=h.heartbeat_age(),
        healthy=h.healthy()[0],
        neo4j_ok=h.neo4j_ok,
        neo4j_error=h.neo4j_error,
        live=BatcherSnapshot(live.stats, len(live)),
        backfill=BatcherSnapshot(BatcherStats(), 0),
        batches_open=1,
        rescans_requested=3,
        rescans_run=2,
        watch_troubles=0,
        schema=SchemaStats(tables=4),
        pool=PoolSnapshot(
            PoolStats(completed=4, busy_seconds=2.0, timeouts=1),
            {"critical": 0, "high": 3, "low": 7},
            2,
            (),
            editing=True,
        ),
        pipeline=PipelineStats(files_seen=10, unchanged=4, parsed=3, cache_hits=1, errors=2),
        writer=WriterSnapshot(WriterStats(rows=1234, retries=5, dead_letters=1), 0.0, None),
    )


def metrics_of(health: Health | None = None) -> Metrics:
    h = health or Health()
    return Metrics(lambda: fake_snapshot(h), h)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in metrics.registry.collect():
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_collector_reads_the_snapshot_at_scrape_time() -> None:
    current = [fake_snapshot()]
    m = Metrics(lambda: current[0], Health())
    got = samples(m)
    assert got[("lineaged_events_total", (("source", "live"),))] == 3
    assert got[("lineaged_dedupe_ratio", (("source", "live"),))] == 1.5
    assert got[("lineaged_pending_files", (("source", "live"),))] == 2
    assert got[("lineaged_queue_depth", (("priority", "low"),))] == 7
    assert got[("lineaged_backfill_throttled", ())] == 1
    assert got[("lineaged_parse_seconds_count", ())] == 4
    assert got[("lineaged_parse_seconds_sum", ())] == 2.0
    assert got[("lineaged_files_total", (("outcome", "unchanged"),))] == 4
    assert got[("lineaged_cache_hit_ratio", ())] == 0.25
    assert got[("lineaged_write_rows_total", ())] == 1234
    assert got[("lineaged_write_retries_total", ())] == 5
    assert got[("lineaged_dead_letters_total", ())] == 1
    assert got[("lineaged_rss_bytes", (("process", "daemon"),))] > 0
    assert got[("lineaged_open_fds", ())] > 0
    # Every scrape takes a fresh snapshot: nothing is copied at registration.
    later = fake_snapshot()
    assert later.writer is not None
    later.writer.stats.rows += 10
    current[0] = later
    assert samples(m)[("lineaged_write_rows_total", ())] == 1244


def test_latency_histogram_counts_observations() -> None:
    m = metrics_of()
    m.observe_latencies([0.003, 0.2, 4.0])
    got = samples(m)
    assert got[("lineaged_event_to_graph_seconds_count", ())] == 3
    assert got[("lineaged_event_to_graph_seconds_bucket", (("le", "0.005"),))] == 1
    assert got[("lineaged_event_to_graph_seconds_bucket", (("le", "5.0"),))] == 3


def test_stages_not_started_yet_do_not_break_a_scrape() -> None:
    bare = dataclasses.replace(fake_snapshot(), pool=None, pipeline=None, writer=None)
    m = Metrics(lambda: bare, Health())
    text = generate_latest(m.registry).decode()
    assert "lineaged_state" in text and "lineaged_rss_bytes" in text


@pytest.fixture
def served():
    m = metrics_of()
    server = MetricsServer(m, "127.0.0.1", 0)
    server.start()
    yield m, server.url
    server.stop()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_http_metrics_and_status_parsing(served) -> None:
    m, url = served
    m.health.state = "running"
    m.health.neo4j_ok = True
    code, body = get(url + "/metrics")
    assert code == 200
    st = parse_metrics(body.decode())
    assert st.state == "running" and st.healthy and st.neo4j_up
    assert st.queue == {"critical": 0, "high": 3, "low": 7}
    assert st.files["errors"] == 2 and st.dead_letters == 1 and st.write_rows == 1234
    assert get(url + "/nope")[0] == 404


def test_healthz_needs_a_live_loop_and_neo4j(served) -> None:
    m, url = served
    h = m.health
    h.state, h.neo4j_ok = "running", True
    h.beat()
    code, body = get(url + "/healthz")
    assert code == 200 and orjson.loads(body)["status"] == "ok"
    h.neo4j_ok, h.neo4j_error = False, "ServiceUnavailable: refused"
    code, body = get(url + "/healthz")
    assert code == 503 and "refused" in orjson.loads(body)["reason"]
    h.neo4j_ok = True
    h.heartbeat = time.monotonic() - 10 * h.stale_after_s  # a loop that stopped ticking
    code, body = get(url + "/healthz")
    assert code == 503 and "silent" in orjson.loads(body)["reason"]
    h.beat()
    h.state = "starting"
    assert get(url + "/healthz")[0] == 503


def test_parse_address() -> None:
    assert parse_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_address("[::1]:9") == ("::1", 9)
    assert parse_address("0") is None and parse_address("") is None
    with pytest.raises(ValueError):
        parse_address("localhost")


# -- repeat limiter -------------------------------------------------------------------


def test_repeats_of_one_error_are_dropped_then_counted() -> None:
    now = [0.0]
    limiter = RepeatLimiter(window_s=60, clock=lambda: now[0])

    def log(event: str, error: str, level: str = "error") -> dict | None:
        try:
            return dict(limiter(None, level, {"event": event, "level": level, "error": error}))
        except structlog.DropEvent:
            return None

    assert log("write_failed", "refused") is not None
    assert log("write_failed", "refused") is None
    assert log("write_failed", "refused") is None
    assert log("write_failed", "other") is not None  # a different error is news
    assert log("batch_written", "", level="info") is not None  # info is never limited
    assert log("batch_written", "", level="info") is not None
    now[0] = 61.0
    again = log("write_failed", "refused")
    assert again is not None and again["repeated"] == 2
    assert limiter.last_error == "write_failed: refused"


def test_limiter_memory_is_bounded() -> None:
    limiter = RepeatLimiter(max_keys=10)
    for i in range(100):
        limiter(None, "warning", {"event": "e", "level": "warning", "error": str(i)})
    assert len(limiter._seen) <= 10


# -- reload plan -------------------------------------------------------------------


def test_reload_plan_sorts_roots_and_restart_only_keys(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()

    def settings(text: str):
        cfg = tmp_path / "config.toml"
        cfg.write_text(text)
        return load_settings(cfg, env={})

    old = settings(
        '[[roots]]\nname="a"\npath="a"\n[[roots]]\nname="b"\npath="b"\n[pool]\nworkers=2\n'
    )
    new = settings(
        '[[roots]]\nname="a"\npath="a"\ndialect="snowflake"\n'
        '[[roots]]\nname="c"\npath="c"\n[pool]\nworkers=4\n[batch]\ndebounce_ms=5\n'
    )
    plan = plan_reload(old, new)
    assert [r.name for r in plan.changed] == ["a"]
    assert [r.name for r in plan.added] == ["c"]
    assert plan.removed == ("b",)
    assert plan.restart_required == ("pool.workers",)
    assert plan.applied == ("batch.debounce_ms",)
    applied = keep_restart_only(old, new, plan)
    assert applied.pool.workers == 2 and applied.batch.debounce_ms == 5
    assert not plan_reload(old, dataclasses.replace(old)).roots_changed


def test_parse_duration_histogram_is_exposed() -> None:
    m = metrics_of()
    m.parse_duration.observe(0.02)
    m.parse_duration.observe(3.0)
    got = samples(m)
    assert got[("lineaged_parse_duration_seconds_count", ())] == 2
    assert got[("lineaged_parse_duration_seconds_bucket", (("le", "0.025"),))] == 1


def test_status_names_neo4j_as_the_last_error_while_it_is_unreachable(served) -> None:
    from lineaged.cli.status import render

    m, url = served
    m.health.state = "running"
    m.health.neo4j_ok, m.health.neo4j_error = False, "ServiceUnavailable: refused"
    st = parse_metrics(get(url + "/metrics")[1].decode())
    assert not st.neo4j_up
    assert st.last_error == "neo4j unreachable: ServiceUnavailable: refused"
    assert "last error: none" not in render(st, url)


def test_suppressed_repeats_are_counted_even_when_their_key_is_forgotten() -> None:
    from lineaged import logfilter

    limiter = RepeatLimiter(max_keys=4)

    def log(error: str) -> None:
        event = {"event": "file_has_errors", "level": "warning", "error": error}
        with contextlib.suppress(structlog.DropEvent):
            limiter(None, "warning", event)

    for error in ["a", "b", "c"] * 11:  # 30 repeats dropped, waiting for their window
        log(error)
    for i in range(10):  # new errors push the old keys (and their counts) out
        log(f"new {i}")
    assert not {("file_has_errors", e) for e in "abc"} & set(limiter._seen)
    assert limiter.suppressed == 30
    old, logfilter.LIMITER = logfilter.LIMITER, limiter
    try:
        metrics_module.LIMITER = limiter
        text = generate_latest(metrics_of().registry).decode()
    finally:
        logfilter.LIMITER = metrics_module.LIMITER = old
    assert "lineaged_log_repeats_suppressed_total 30.0" in text
    assert parse_metrics(text).log_repeats_suppressed == 30
