"""Daemon.snapshot() over the daemon's real stage objects, and /metrics made from it.

Every counter of every stage's stats class is given a distinct value and must come out
of a scrape with that value: a counter that is renamed, added without being exported,
or read from the wrong stage fails here instead of silently exporting nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from prometheus_client import generate_latest

from lineaged.batcher import BatcherStats
from lineaged.cli.status import parse_metrics
from lineaged.config import Settings
from lineaged.daemon import Daemon
from lineaged.deadletters import DeadLetters
from lineaged.graph.stats import WriterStats
from lineaged.graph.writer import GraphWriter
from lineaged.model import Change, FileEvent, FileRef, Priority
from lineaged.pipeline import Pipeline
from lineaged.pool import PriorityPool

# Fields that are not counters of their own, with where they do show up.
NOT_EXPORTED_AS_IS = {
    (WriterStats, "sessions_opened"): "exported as sessions_open (opened - closed)",
    (WriterStats, "sessions_closed"): "exported as sessions_open (opened - closed)",
    (WriterStats, "waiting_since"): "exported as lineaged_neo4j_waiting_seconds",
    (WriterStats, "last_error"): "the logging's last error is lineaged_last_error_info",
    (WriterStats, "last_error_at"): "the logging's last error is lineaged_last_error_info",
    (WriterStats, "started_at"): "a timestamp, not a counter",
    (WriterStats, "query_seconds"): "exported per query (test below)",
}


def fill(stats: object, start: float) -> list[tuple[str, float]]:
    """Give every numeric field of a stats dataclass a distinct value; return them."""
    values = []
    for i, f in enumerate(dataclasses.fields(stats)):  # type: ignore[arg-type]
        if (type(stats), f.name) in NOT_EXPORTED_AS_IS:
            continue
        value: float = start + i
        if isinstance(getattr(stats, f.name), float):
            value += 0.5
        setattr(stats, f.name, value if isinstance(getattr(stats, f.name), float) else int(value))
        values.append((f.name, getattr(stats, f.name)))
    return values


def daemon_with_real_stages(tmp_path: Path) -> Daemon:
    d = Daemon(Settings())
    d.pool = PriorityPool(len, workers=1)  # never started: its counters are what matter
    d.writer = GraphWriter(None, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))  # type: ignore[arg-type]
    d.pipeline = Pipeline({}, d.pool, d.writer, extract_fn_version="test")
    return d


def scraped_values(d: Daemon) -> set[float]:
    values = set()
    for family in d.metrics.registry.collect():
        for sample in family.samples:
            values.add(float(sample.value))
    return values


def test_every_stage_counter_reaches_the_snapshot_and_metrics(tmp_path: Path) -> None:
    d = daemon_with_real_stages(tmp_path)
    assert d.pool is not None and d.writer is not None and d.pipeline is not None
    expected: dict[str, list[tuple[str, float]]] = {
        "live": fill(d.live.stats, 1000),
        "backfill": fill(d.backfill.stats, 2000),
        "pool": fill(d.pool.stats, 3000),
        "pipeline": fill(d.pipeline.stats, 4000),
        "writer": fill(d.writer.stats, 5000),
        "schema": fill(d.schema.stats, 6000),
    }
    snap = d.snapshot()
    assert snap.pool is not None and snap.pipeline is not None and snap.writer is not None
    copies: dict[str, object] = {
        "live": snap.live.stats,
        "backfill": snap.backfill.stats,
        "pool": snap.pool.stats,
        "pipeline": snap.pipeline,
        "writer": snap.writer.stats,
        "schema": snap.schema,
    }
    for stage, fields in expected.items():
        for name, value in fields:
            assert getattr(copies[stage], name) == value, f"{stage}.{name} not in the snapshot"

    exported = scraped_values(d)
    missing = [
        f"{stage}.{name}={value}"
        for stage, fields in expected.items()
        for name, value in fields
        if float(value) not in exported
    ]
    assert not missing, f"counters the metrics do not export: {missing}"


def test_the_snapshot_is_a_still_copy(tmp_path: Path) -> None:
    d = daemon_with_real_stages(tmp_path)
    assert d.pipeline is not None
    d.pipeline.stats.parsed = 3
    snap = d.snapshot()
    d.pipeline.stats.parsed = 4
    assert snap.pipeline is not None and snap.pipeline.parsed == 3


def test_status_line_and_lineaged_status_read_the_snapshot(tmp_path: Path) -> None:
    d = daemon_with_real_stages(tmp_path)
    assert d.pipeline is not None and d.writer is not None
    d.live.add(FileEvent(FileRef("r", "a.sql"), "/r/a.sql", Change.CHANGED, Priority.HIGH, 0.0))
    d.pipeline.stats.files_seen, d.pipeline.stats.parsed, d.pipeline.stats.errors = 7, 5, 1
    d.writer.stats.dead_letters = 2
    d.health.state = "running"
    assert d.status_line() == (
        "running, files 7 parsed 5 unchanged 0, errors 1, queued 0, dead letters 2"
    )
    st = parse_metrics(generate_latest(d.metrics.registry).decode())
    assert st.state == "running"
    assert st.pending == {"live": 1, "backfill": 0}
    assert st.files["parsed"] == 5 and st.files["errors"] == 1 and st.dead_letters == 2


def test_a_daemon_not_started_has_an_empty_but_complete_snapshot() -> None:
    snap = Daemon(Settings()).snapshot()
    assert snap.state == "starting" and snap.pool is None and snap.writer is None
    assert snap.live.stats == BatcherStats() and snap.live.pending == 0


def test_write_time_per_query_is_exported_per_query(tmp_path: Path) -> None:
    d = daemon_with_real_stages(tmp_path)
    assert d.writer is not None
    d.writer.stats.query_seconds.update({"write_new": 7.25, "commit": 3.5})
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in d.metrics.registry.collect()
        for s in family.samples
    }
    assert samples[("lineaged_write_query_seconds_total", (("query", "write_new"),))] == 7.25
    assert samples[("lineaged_write_query_seconds_total", (("query", "commit"),))] == 3.5
