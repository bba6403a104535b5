"""Concurrent writers on shared Table/Column nodes (the norm in a warehouse): no
duplicates, no endless deadlock loop, bounded transactions in flight, no leaked
sessions, and an honest slow-transaction warning."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from lineaged.deadletters import DeadLetters
from lineaged.graph import queries as q
from lineaged.graph.stats import driver_pool_stats
from lineaged.graph.writer import GraphWriter
from lineaged.model import (
    ColumnEdge,
    FileLineage,
    FileRef,
    FileUpdate,
    IndirectEdge,
    StatementLineage,
)

from .graphs import query

SHARED = [f"raw.shared{i}" for i in range(5)]


def shared_update(writer_no: int, i: int, version: int) -> FileUpdate:
    """A file that reads every shared table and derives from the same shared columns."""
    target = f"mart.w{writer_no}_f{i}"
    cols = tuple(
        ColumnEdge(f"{target}.c{k}", (f"{SHARED[k]}.c{version % 3}", f"{SHARED[0]}.id"), "DIRECT")
        for k in range(len(SHARED))
    )
    st = StatementLineage(0, 1, "insert", (target,), tuple(SHARED), cols)
    ref = FileRef("r", f"w{writer_no}/f{i}.sql")
    return FileUpdate(ref, f"v{version}", "postgres", FileLineage("postgres", "t", (st,)))


async def test_four_concurrent_writers_on_shared_tables(graph: Any, tmp_path: Path) -> None:
    writers = [
        GraphWriter(
            graph,
            "neo4j",
            DeadLetters(tmp_path / f"dead{n}.jsonl"),
            rows_per_tx=150,  # many small transactions, to interleave as much as possible
            max_concurrency=2,
            backoff_initial_s=0.05,
            backoff_max_s=0.5,
        )
        for n in range(4)
    ]
    files = 80

    async def round_(version: int) -> None:
        await asyncio.gather(
            *(
                w.write([shared_update(n, i, version) for i in range(files)])
                for n, w in enumerate(writers)
            )
        )

    # Two rounds: first creates, second replaces (deletes + re-creates shared edges).
    await asyncio.wait_for(round_(1), 180)
    await asyncio.wait_for(round_(2), 180)

    for w in writers:
        assert w.stats.dead_letters == 0 and w.stats.splits == 0
        assert w.stats.files == 2 * files
        assert 1 <= w.stats.tx_in_flight_peak <= 2
        assert w.stats.sessions_open == 0 and w.stats.tx_in_flight == 0
        # Retries (deadlocks) may happen but must have ended in commits.
        assert w.stats.attempts == w.stats.transactions + w.stats.retries
        assert w.stats.waiting_since is None, "a deadlock is not Neo4j being away"
    print("retries per writer:", [w.stats.retries for w in writers])

    dupes = await query(
        graph,
        "MATCH (t:Table) WITH t.name AS n, count(*) AS c WHERE c > 1 RETURN n "
        "UNION MATCH (c:Column) WITH c.id AS n, count(*) AS k WHERE k > 1 RETURN n",
    )
    assert dupes == []
    reads = await query(graph, "MATCH (:Statement)-[r:READS]->(t:Table) RETURN count(r) AS n")
    assert reads == [{"n": 4 * files * len(SHARED)}]
    shared_cols = await query(
        graph,
        "MATCH (t:Table)-[:HAS_COLUMN]->(c:Column) WHERE t.name STARTS WITH 'raw.shared' "
        "RETURN c.id AS c ORDER BY c",
    )
    # Version 2 uses column c2 and id; c1 (version 1) must be gone as an orphan.
    assert {r["c"] for r in shared_cols} == {f"{t}.c2" for t in SHARED} | {"raw.shared0.id"}
    hc = await query(graph, "MATCH (:Table)-[r:HAS_COLUMN]->(:Column) RETURN count(r) AS n")
    cols = await query(graph, "MATCH (c:Column) RETURN count(c) AS n")
    assert hc == cols, "a column with two HAS_COLUMN edges (duplicate MERGE)"

    pool = driver_pool_stats(graph)
    assert pool is not None and pool["in_use"] == 0, pool


async def test_bounded_concurrency_and_observability(graph: Any, tmp_path: Path) -> None:
    writer = GraphWriter(
        graph,
        "neo4j",
        DeadLetters(tmp_path / "dead.jsonl"),
        rows_per_tx=40,
        max_concurrency=3,
        slow_tx_s=1e-9,  # every transaction is "slow": the warning must say what and why
    )
    with capture_logs() as logs:
        await writer.write([shared_update(0, i, 1) for i in range(60)])
    snap = writer.snapshot()
    assert snap["tx_in_flight_peak"] == 3, snap
    assert snap["transactions"] == writer.stats.transactions > 3
    assert snap["rows"] > 0 and snap["rows_per_s"] > 0 and snap["files"] == 60
    assert snap["state"] == "ok" and snap["sessions_open"] == 0
    assert snap["pool_in_use"] == 0 and snap["pool_idle"] >= 1
    slow = [e for e in logs if e["event"] == "slow_write_transaction"]
    assert len(slow) == snap["transactions"] == snap["slow_transactions"]
    assert all(e["log_level"] == "warning" for e in slow)
    assert all(e["query"] in q.WRITE_QUERIES and e["rows"] > 0 for e in slow)
    assert all(e["duration_s"] >= e["query_s"] >= 0 for e in slow)


def _dim_update(i: int, dims: int) -> FileUpdate:
    """`CREATE TABLE b.t<i> AS SELECT a.x, d.y FROM b.src<i> a JOIN b.dim<i % dims> d
    ON a.k = d.k` (issue 13's mass-delete case), as the extractor gives it."""
    target, src, dim = f"b.t{i}", f"b.src{i}", f"b.dim{i % dims}"
    st = StatementLineage(
        0,
        1,
        "create_table_as",
        (target,),
        (src, dim),
        (
            ColumnEdge(f"{target}.x", (f"{src}.x",), "DIRECT/IDENTITY"),
            ColumnEdge(f"{target}.y", (f"{dim}.y",), "DIRECT/IDENTITY"),
        ),
        target_columns=(f"{target}.x", f"{target}.y"),
        indirect=(IndirectEdge((f"{src}.k", f"{dim}.k"), "INDIRECT/JOIN"),),
    )
    ref = FileRef("r", f"d{i % 7}/f{i}.sql")
    return FileUpdate(ref, "s", "postgres", FileLineage("postgres", "t", (st,)))


async def test_mass_delete_by_concurrent_writers_leaves_no_orphans(
    graph: Any, tmp_path: Path
) -> None:
    """Shared `dim` tables lose their last readers in concurrent transactions: each
    transaction's orphan check must see the others' deletions (no write skew)."""
    files, dims = 240, 6

    def writer(n: int) -> GraphWriter:
        return GraphWriter(
            graph,
            "neo4j",
            DeadLetters(tmp_path / f"dead{n}.jsonl"),
            rows_per_tx=1,  # one file per transaction: as many concurrent checks as can be
            max_concurrency=4,
            backoff_initial_s=0.02,
            backoff_max_s=0.2,
        )

    writers = [writer(n) for n in range(2)]
    updates = [_dim_update(i, dims) for i in range(files)]
    await asyncio.wait_for(writers[0].write(updates), 300)
    deletions = [FileUpdate(u.ref, None, "postgres", None) for u in updates]
    # Two writers (two daemons, or a delete burst) remove every file at once.
    await asyncio.wait_for(
        asyncio.gather(writers[0].write(deletions[::2]), writers[1].write(deletions[1::2])), 300
    )
    left = await query(graph, "MATCH (n) RETURN labels(n)[0] AS label, count(n) AS n")
    assert left == [], f"nodes left after deleting every file: {left}"
    for w in writers:
        assert w.stats.dead_letters == 0
    print("deadlock retries per writer:", [w.stats.retries for w in writers])


async def test_a_backfill_cut_as_it_goes_with_live_edits_between_is_complete(
    graph: Any, tmp_path: Path
) -> None:
    """Backfill transactions sized as each may begin (graph/scheduling.py), live edits of
    a file on the same shared tables in between: every file ends in the graph with its
    content, the edited one with its last, and no transaction is lost or doubled."""
    writer = GraphWriter(
        graph,
        "neo4j",
        DeadLetters(tmp_path / "dead.jsonl"),
        rows_per_tx=5_000,
        backfill_tx_s=0.001,  # once edits are around: min_rows (200) per transaction
        max_concurrency=2,
    )
    backfill = asyncio.create_task(writer.write([shared_update(0, i, 1) for i in range(300)]))
    for version in range(1, 9):
        await asyncio.sleep(0.02)
        with writer.hold_backfill():
            await writer.write([shared_update(9, 0, version)], urgent=True)
    await backfill
    files = await query(graph, "MATCH (f:File) RETURN f.path AS path, f.sha256 AS sha")
    assert {r["path"]: r["sha"] for r in files} == {
        **{f"w0/f{i}.sql": "v1" for i in range(300)},
        "w9/f0.sql": "v8",
    }
    edges = await query(graph, "MATCH ()-[e:DERIVES_FROM]->() RETURN count(e) AS n")
    assert edges[0]["n"] == 301 * len(SHARED) * 2
    assert writer.stats.dead_letters == 0 and writer.stats.files == 308
    assert writer.stats.transactions > 8 + 1  # the backfill went in several transactions
