"""The graph writer against a real Neo4j: replace semantics, orphans, hostile names,
poison files, and index-only query plans."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from lineaged.deadletters import DeadLetters
from lineaged.graph import queries as q
from lineaged.graph.rows import build_rows
from lineaged.graph.writer import GraphWriter, _replace_params
from lineaged.model import (
    ColumnEdge,
    FileLineage,
    FileRef,
    FileUpdate,
    IndirectEdge,
    StatementLineage,
)

from .graphs import dump, query, table_edges


def stmt(
    index: int,
    targets: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    columns: tuple[ColumnEdge, ...] = (),
    kind: str = "insert",
) -> StatementLineage:
    return StatementLineage(index, index + 1, kind, targets, sources, columns)


def update(path: str, *statements: StatementLineage, sha: str = "s1") -> FileUpdate:
    return FileUpdate(
        FileRef("r", path), sha, "postgres", FileLineage("postgres", "t1", tuple(statements))
    )


def deletion(path: str) -> FileUpdate:
    return FileUpdate(FileRef("r", path), None, "postgres", None)


@pytest.fixture
def writer(graph: Any, tmp_path: Path) -> GraphWriter:
    return GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))


async def test_replace_removes_old_edges_and_orphans_but_keeps_shared_tables(
    graph: Any, writer: GraphWriter
) -> None:
    a_v1 = update(
        "a.sql",
        stmt(
            0,
            ("mart.t",),
            ("raw.s1", "raw.s2"),
            (
                ColumnEdge("mart.t.x", ("raw.s1.x",), "DIRECT/IDENTITY"),
                ColumnEdge("mart.t.y", ("raw.s2.y",), "DIRECT/TRANSFORMATION"),
            ),
        ),
    )
    b = update("b.sql", stmt(0, ("mart.u",), ("raw.s1",)))
    await writer.write([a_v1, b])
    assert await table_edges(graph) == {
        ("a.sql", "WRITES", "mart.t"),
        ("a.sql", "READS", "raw.s1"),
        ("a.sql", "READS", "raw.s2"),
        ("b.sql", "WRITES", "mart.u"),
        ("b.sql", "READS", "raw.s1"),
    }
    a_v2 = update(
        "a.sql",
        stmt(
            0, ("mart.t",), ("raw.s1",), (ColumnEdge("mart.t.x", ("raw.s1.x",), "DIRECT/IDENTITY"),)
        ),
        sha="s2",
    )
    await writer.write([a_v2])
    g = await dump(graph)
    assert [t["name"] for t in g["tables"]] == ["mart.t", "mart.u", "raw.s1"]
    assert g["column_edges"] == [
        {"a": "mart.t.x", "b": "raw.s1.x", "s": "r:a.sql#0", "x": "DIRECT/IDENTITY"}
    ]
    assert {c["c"] for c in g["columns"]} == {"mart.t.x", "raw.s1.x"}
    assert g["files"][0]["sha"] == "s2"

    await writer.write([deletion("a.sql")])
    g = await dump(graph)
    assert [f["id"] for f in g["files"]] == ["r:b.sql"]
    assert [t["name"] for t in g["tables"]] == ["mart.u", "raw.s1"]  # shared with b stays
    assert g["columns"] == [] and g["column_edges"] == []


async def test_many_files_in_one_transaction_sharing_tables(
    graph: Any, writer: GraphWriter
) -> None:
    updates = [
        update(
            f"f{i}.sql",
            stmt(0, (f"mart.t{i}",), ("raw.shared",)),
            stmt(1, (), ("raw.shared",), kind="select"),
        )
        for i in range(50)
    ]
    writer.rows_per_tx = 10_000
    await writer.write(updates)
    assert writer.stats.transactions == 1
    rows = await query(
        graph, "MATCH (t:Table {name: 'raw.shared'})<-[:READS]-(s) RETURN count(s) AS n"
    )
    assert rows == [{"n": 100}]
    # Re-writing the same batch is idempotent: no duplicate nodes or edges.
    await writer.write(updates)
    assert (await query(graph, "MATCH (t:Table) RETURN count(t) AS n")) == [{"n": 51}]
    assert (await query(graph, "MATCH ()-[r:READS]->() RETURN count(r) AS n")) == [{"n": 100}]


async def test_row_budget_splits_transactions_without_splitting_files(
    graph: Any, writer: GraphWriter
) -> None:
    writer.rows_per_tx = 10
    updates = [update(f"f{i}.sql", stmt(0, (f"t{i}",), ("s",))) for i in range(12)]
    await writer.write(updates)
    assert writer.stats.transactions >= 3
    assert len(await table_edges(graph)) == 24


HOSTILE = [
    'db.sch."quoted"',
    "db.sch.`back`tick`",
    "db.sch.it's",
    "db.sch.ünïcödé_表",
    "MATCH (n) DETACH DELETE n",
    "db.sch.}) RETURN 1 //",
    "$param",
    "db.sch.tab\nnewline",
]


async def test_hostile_names_round_trip(graph: Any, writer: GraphWriter) -> None:
    cols = tuple(ColumnEdge(f"{n}.c'ol", (f"{n}.`x`",), "DIRECT/IDENTITY") for n in HOSTILE)
    await writer.write([update("weird ' \" `.sql", stmt(0, tuple(HOSTILE), tuple(HOSTILE), cols))])
    names = {r["name"] for r in await query(graph, "MATCH (t:Table) RETURN t.name AS name")}
    assert names == set(HOSTILE)
    edges = await query(
        graph, "MATCH (a:Column)-[:DERIVES_FROM]->(b:Column) RETURN a.id AS a, b.id AS b"
    )
    assert {(e["a"], e["b"]) for e in edges} == {(c.target, c.sources[0]) for c in cols}
    files = await query(graph, "MATCH (f:File) RETURN f.path AS p")
    assert files == [{"p": "weird ' \" `.sql"}]


async def test_quoted_dots_make_different_nodes(graph: Any, writer: GraphWriter) -> None:
    """`"a.b"` is not `a.b`, and `x."b.c"` is not `x.b.c` (names keep their parts)."""
    from lineaged.extract import extract

    sql = {
        "q1.sql": 'INSERT INTO out1 SELECT t.x FROM "a.b" t',
        "q2.sql": "INSERT INTO out2 SELECT t.x FROM a.b t",
        "q3.sql": 'INSERT INTO out3 SELECT q."b.c" AS v FROM x q',
        "q4.sql": "INSERT INTO out4 SELECT q.c AS v FROM x.b q",
    }
    await writer.write(
        [
            FileUpdate(FileRef("r", p), "s", "postgres", extract(text, "postgres"))
            for p, text in sql.items()
        ]
    )
    rows = await query(
        graph,
        "MATCH (t:Table)-[:HAS_COLUMN]->(c:Column) WHERE NOT t.name STARTS WITH 'out' "
        "RETURN t.name AS t, c.name AS name, c.id AS id, c.table AS table ORDER BY id",
    )
    assert [(r["t"], r["name"], r["id"]) for r in rows] == [
        ('"a.b"', "x", '"a.b".x'),
        ("a.b", "x", "a.b.x"),
        ("x", "b.c", 'x."b.c"'),
        ("x.b", "c", "x.b.c"),
    ]
    assert all(r["table"] == r["t"] for r in rows)
    feeds = await query(
        graph,
        "MATCH (a:Column)-[:DERIVES_FROM]->(b:Column) RETURN a.id AS a, b.id AS b ORDER BY a",
    )
    assert [(r["a"], r["b"]) for r in feeds] == [
        ("out1.x", '"a.b".x'),
        ("out2.x", "a.b.x"),
        ("out3.v", 'x."b.c"'),
        ("out4.v", "x.b.c"),
    ]


async def test_poison_file_is_dead_lettered_and_the_rest_written(
    graph: Any, writer: GraphWriter
) -> None:
    # Neo4j refuses index keys above ~8 KB: a genuine, permanent rejection.
    huge = "raw." + "x" * 40_000
    updates = [update(f"ok{i}.sql", stmt(0, (f"t{i}",), ("raw.s",))) for i in range(7)]
    updates.insert(3, update("poison.sql", stmt(0, ("mart.p",), (huge,)), sha="bad"))
    await writer.write(updates)
    written = await query(graph, "MATCH (f:File) WHERE f.sha256 IS NOT NULL RETURN f.path AS p")
    assert sorted(r["p"] for r in written) == sorted(f"ok{i}.sql" for i in range(7))
    letters = writer._dead.read()
    assert [(d.path, d.sha256) for d in letters] == [("poison.sql", "bad")]
    assert writer.stats.splits >= 3 and writer.stats.dead_letters == 1
    failed = await query(
        graph,
        "MATCH (f:File {id: 'r:poison.sql'}) "
        "RETURN f.sha256 AS sha, f.failed_sha256 AS failed, f.error AS error",
    )
    assert failed[0]["sha"] is None and failed[0]["failed"] == "bad"
    assert failed[0]["error"]


SCANS = (
    "NodeByLabelScan",
    "AllNodesScan",
    "NodeIndexScan",
    "DirectedAllRelationshipsScan",
    "UndirectedAllRelationshipsScan",
    "DirectedRelationshipTypeScan",
    "UndirectedRelationshipTypeScan",
    "DirectedRelationshipIndexScan",
    "UndirectedRelationshipIndexScan",
)


def _operators(plan: dict[str, Any]) -> list[str]:
    ops = [plan["operatorType"]]
    for child in plan.get("children", []):
        ops.extend(_operators(child))
    return ops


def _explain_params() -> dict[str, dict[str, Any]]:
    rows = build_rows(
        [
            update(
                "a.sql",
                stmt(
                    0,
                    ("mart.t",),
                    ("raw.s",),
                    (ColumnEdge("mart.t.x", ("raw.s.x",), "DIRECT/IDENTITY"),),
                ),
            )
        ]
    )
    return {  # write queries take their lists in one map parameter, $p
        "delete_old": {"p": {"delete_ids": rows.delete_ids, "removed_ids": rows.delete_ids}},
        "write_new": {"p": rows.write_new_params()},
        "delete_orphans": {"p": {"orphan_columns": ["mart.t.x"], "orphan_tables": ["raw.s"]}},
        "replace_files": {"p": _replace_params(rows)},
        "file_states": {"ids": rows.delete_ids, "graph_model": 2},
        "root_files": {"root": "r", "graph_model": 2},
    }


@pytest.mark.parametrize("name", sorted({**q.WRITE_QUERIES, **q.READ_QUERIES}))
async def test_every_writer_query_plans_as_index_seeks(graph: Any, name: str) -> None:
    cypher = {**q.WRITE_QUERIES, **q.READ_QUERIES}[name]
    result = await graph.execute_query(
        "EXPLAIN " + cypher, _explain_params()[name], database_="neo4j"
    )
    ops = _operators(result.summary.plan)
    # Any scan whose cost grows with the graph. The plans are made once and kept
    # (writer.REUSE_PLAN), here on an empty graph, where a scan looks cheapest.
    scans = [op for op in ops if op.split("@")[0] in SCANS]
    assert not scans, f"{name} plans a scan: {ops}"
    assert any("Seek" in op or "Unique" in op for op in ops), ops


async def test_urgent_writes_do_not_queue_behind_busy_regular_slots(
    graph: Any, tmp_path: Path
) -> None:
    writer = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dead.jsonl"), max_concurrency=1)
    await writer._slots.acquire(False)  # a backfill transaction holding every regular slot
    try:
        regular = asyncio.create_task(writer.write([update("slow.sql", stmt(0, ("t.slow",)))]))
        await asyncio.wait_for(
            writer.write([update("edit.sql", stmt(0, ("t.edit",)))], urgent=True), timeout=30
        )
        assert {p for p, _r, _t in await table_edges(graph)} == {"edit.sql"}
        assert not regular.done()
    finally:
        writer._slots.release(False)
    await asyncio.wait_for(regular, timeout=30)
    assert {p for p, _r, _t in await table_edges(graph)} == {"edit.sql", "slow.sql"}


async def test_warm_up_runs_every_query_and_commits_nothing(
    graph: Any, writer: GraphWriter
) -> None:
    await writer.write([update("keep.sql", stmt(0, ("t.keep",), ("s.keep",)))])
    before = await dump(graph)
    await writer.warm_up()
    assert await dump(graph) == before


def _corpus(n: int) -> list[FileUpdate]:
    """Files that share source tables and columns, as a warehouse's models do."""
    out = []
    for i in range(n):
        src, dim = f"raw.src{i % 3}", f"raw.dim{i % 2}"
        edges = [
            ColumnEdge(f"mart.m{i}.c{j}", (f"{src}.c{j}",), "DIRECT/IDENTITY") for j in range(3)
        ]
        edges.append(ColumnEdge(f"mart.m{i}.name", (f"{dim}.name",), "DIRECT/IDENTITY"))
        columns = tuple(edges)
        statement = StatementLineage(
            0,
            1,
            "create_table_as",
            (f"mart.m{i}",),
            (src, dim),
            columns,
            target_columns=tuple(c.target for c in columns),
            indirect=(IndirectEdge((f"{dim}.id", f"{src}.c0"), "INDIRECT/JOIN"),),
        )
        out.append(update(f"m{i}.sql", statement, sha=f"s{i}"))
    return out


async def test_new_files_written_without_a_delete_make_the_graph_a_replace_makes(
    graph: Any, writer: GraphWriter
) -> None:
    """A rebuild (FileUpdate.in_graph False: nothing to delete first) leaves exactly the
    graph that replacing the same files leaves."""
    from dataclasses import replace

    from lineaged.graph.dump import dump_lines

    files = _corpus(12)
    # Several concurrent transactions, as a backfill writes.
    writer.rows_per_tx = 40
    await writer.write([replace(u, in_graph=False) for u in files])
    assert writer.stats.transactions > 1
    rebuilt = await dump_lines(graph)
    await graph.execute_query("MATCH (n) DETACH DELETE n")
    await writer.write(files)
    assert await dump_lines(graph) == rebuilt
    await writer.write(files)  # and a replace of what the rebuild wrote
    assert await dump_lines(graph) == rebuilt
