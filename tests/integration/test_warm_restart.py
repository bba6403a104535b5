"""Restarts through the caches: an unchanged tree is neither read, parsed nor written;
a lost graph is rebuilt from the parse cache without parsing; a lost cache costs time,
never correctness."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from lineaged import daemon as daemon_module
from lineaged.catalog import stage
from lineaged.daemon import Daemon

from .graphs import dump
from .test_daemon_e2e import settings_for


def make_tree(root: Path, n: int) -> None:
    old = time.time() - 3600  # older than the stat cache's racy-clean window
    for i in range(n):
        path = root / f"d{i % 5}" / f"f{i}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"INSERT INTO mart.t{i} SELECT a, b FROM raw.s{i % 7} JOIN raw.k USING (a)")
        os.utime(path, (old, old))


async def scan(settings: Any) -> Daemon:
    daemon = Daemon(settings, oneshot=True)
    assert await daemon.run() == 0
    return daemon


async def test_unchanged_tree_is_not_read_parsed_or_written(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    make_tree(root, 60)
    settings = settings_for(root, neo4j_server, tmp_path)
    cold = await scan(settings)
    assert cold.pipeline is not None and cold.pipeline.stats.parsed == 60
    reference = await dump(graph)

    warm = await scan(settings)
    assert warm.pipeline is not None and warm.writer is not None
    assert warm.pipeline.stats.files_seen == 0, "unchanged files were read again"
    assert warm.pipeline.stats.parsed == 0
    assert warm.writer.stats.transactions == 0
    # The catalog's records were all current at the cold scan's stop: not decoded.
    assert not warm.schema.loaded and not cold.schema.stale_files()
    # Nothing to parse: no worker process was started (old: always, before the plan).
    assert warm.pool is not None and warm.pool.stats.executors_started == 0
    assert cold.pool is not None and cold.pool.stats.executors_started >= 1
    assert await dump(graph) == reference

    # One file edited while down: exactly that one is read, parsed and written.
    edited = root / "d0" / "f0.sql"
    edited.write_text("INSERT INTO mart.t0 SELECT a FROM raw.changed")
    third = await scan(settings)
    assert third.pipeline is not None
    assert third.pipeline.stats.files_seen == 1 and third.pipeline.stats.parsed == 1
    assert third.schema.loaded


async def test_an_upstream_edit_while_down_reaches_its_untouched_readers(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    """The restart that skips decoding the catalog (its records were all current at
    the stop) still re-extracts a file whose upstream's columns changed while down."""
    root = tmp_path / "sql"
    root.mkdir()
    (root / "raw.sql").write_text("CREATE TABLE raw.orders (id int, amount int);")
    (root / "stg.sql").write_text("CREATE VIEW stg.orders AS SELECT * FROM raw.orders;")
    settings = settings_for(root, neo4j_server, tmp_path)
    await scan(settings)
    await scan(settings)  # a clean stop with the note saved, then an unchanged restart
    (root / "raw.sql").write_text("CREATE TABLE raw.orders (id int, amount int, status text);")
    third = await scan(settings)
    assert third.pipeline is not None and third.pipeline.stats.parsed == 2
    rows = await graph.execute_query(
        "MATCH (a:Column {id: 'stg.orders.status'})-[:DERIVES_FROM]->(b:Column) RETURN b.id AS b",
        database_="neo4j",
    )
    assert [r["b"] for r in rows.records] == ["raw.orders.status"]


async def test_graph_rebuilt_from_parse_cache_and_cache_loss_is_harmless(
    graph: Any, neo4j_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "sql"
    make_tree(root, 40)
    settings = settings_for(root, neo4j_server, tmp_path)
    await scan(settings)
    reference = await dump(graph)

    # The definitions-first ordering reads no file whose content the catalog already
    # holds: after a lost graph, none of the 40 (stage.order_events, reconcile.settled).
    orderings: list[tuple[int, int]] = []

    def order_events(events: Any, settled: Any = frozenset()) -> Any:
        orderings.append((len(events), len(settled)))
        return stage.order_events(events, settled)

    monkeypatch.setattr(daemon_module, "order_events", order_events)
    await graph.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
    rebuilt = await scan(settings)
    assert rebuilt.pipeline is not None
    assert rebuilt.pipeline.stats.parsed == 0 and rebuilt.pipeline.stats.cache_hits == 40
    assert orderings == [(40, 40)]
    assert await dump(graph) == reference

    for f in (tmp_path / "state").glob("cache.sqlite*"):
        f.unlink()
    await graph.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
    no_cache = await scan(settings)
    assert no_cache.pipeline is not None and no_cache.pipeline.stats.parsed == 40
    assert await dump(graph) == reference


async def test_start_up_sweeps_orphan_tables_and_columns(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    """Reconcile compares File nodes with the disk; Table/Column nodes nothing refers
    to (left by a crash of an older version, a bug, a hand edit) are swept at start."""
    from lineaged.graph.dump import integrity_problems

    root = tmp_path / "sql"
    make_tree(root, 5)
    settings = settings_for(root, neo4j_server, tmp_path)
    await scan(settings)
    reference = await dump(graph)
    await graph.execute_query(
        "CREATE (:Table {name: 'b.dim0'})-[:HAS_COLUMN]->(:Column {id: 'b.dim0.k', "
        "name: 'k', table: 'b.dim0'}), (:Table {name: 'b.lonely'}) "
        "WITH 1 AS one MATCH (t:Table {name: 'raw.k'}) "
        "CREATE (t)-[:HAS_COLUMN]->(:Column {id: 'raw.k.orphan', name: 'orphan', table: 'raw.k'})",
        database_="neo4j",
    )
    assert set(await integrity_problems(graph)) == {"orphan_tables", "orphan_columns"}

    warm = await scan(settings)
    assert warm.pipeline is not None and warm.pipeline.stats.parsed == 0
    assert await integrity_problems(graph) == {}
    assert await dump(graph) == reference


async def test_a_daemon_starts_its_workers_after_the_start_up_plan_without_an_edit(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    """Daemon mode: the workers start (and Neo4j plans the write queries) in the
    background from READY on, without an edit, so the first live edit finds them."""
    import asyncio

    root = tmp_path / "sql"
    make_tree(root, 10)
    settings = settings_for(root, neo4j_server, tmp_path)
    await scan(settings)
    daemon = Daemon(settings)
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.ready.wait(), 60)
        for _ in range(600):
            if daemon.pool is not None and len(daemon.pool.worker_pids()) == daemon.pool.workers:
                break
            await asyncio.sleep(0.1)
        assert daemon.pool is not None and len(daemon.pool.worker_pids()) == daemon.pool.workers
        assert daemon.pipeline is not None and daemon.pipeline.stats.parsed == 0
    finally:
        daemon.request_stop("test")
        assert await asyncio.wait_for(task, 60) == 0
