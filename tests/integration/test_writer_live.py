"""A live edit's write (one auto-commit statement, queries.REPLACE_FILES) against a real
Neo4j: the same graph, node for node and property for property, as the backfill's
explicit three-statement transaction; the same splitting and dead letters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lineaged.deadletters import DeadLetters
from lineaged.extract import extract
from lineaged.graph.writer import GraphWriter
from lineaged.model import FileLineage, FileRef, FileUpdate

from .graphs import query

# Each step is one write; together they create, replace, share, fail and delete.
A_V1 = """
CREATE TABLE mart.orders AS
SELECT o.id, o.amount * 2 AS doubled, c.name
FROM raw.orders AS o JOIN raw.customers AS c ON c.id = o.customer_id
WHERE o.status = 'done'
ORDER BY o.id;
INSERT INTO mart.audit SELECT id FROM mart.orders;
"""
A_V2 = "CREATE TABLE mart.orders AS SELECT o.id FROM raw.orders AS o GROUP BY o.id;"
B = """
CREATE VIEW mart.customer_orders AS
SELECT c.name, count(*) AS n, max(o.amount) AS top
FROM raw.customers AS c JOIN mart.orders AS o ON o.id = c.id
GROUP BY c.name;
"""
BROKEN = "SELECT FROM WHERE ((;"


def _update(path: str, sql: str | None, sha: str) -> FileUpdate:
    lineage = None if sql is None else extract(sql, "postgres")
    return FileUpdate(FileRef("r", path), None if sql is None else sha, "postgres", lineage)


STEPS: list[list[FileUpdate]] = [
    [_update("a.sql", A_V1, "a1"), _update("b.sql", B, "b1")],
    [_update("a.sql", A_V2, "a2")],
    [_update("b.sql", BROKEN, "b2"), _update("c.sql", A_V1, "c1")],
    [_update("a.sql", None, ""), _update("b.sql", B, "b3")],
    [_update("c.sql", None, ""), _update("b.sql", None, "")],
]


async def _full_dump(graph: Any) -> tuple[list[str], list[str]]:
    """Every node with its labels and properties (but the ingest time) and every
    relationship with its type, properties and end nodes' keys."""
    key = "coalesce(n.id, n.name)"
    nodes = await query(
        graph,
        "MATCH (n) RETURN labels(n) AS l, [k IN keys(n) WHERE k <> 'ingested_at' | [k, n[k]]] AS p",
    )
    rels = await query(
        graph,
        f"MATCH (n)-[r]->(m) WITH n, r, m, {key} AS a "
        "RETURN a, type(r) AS t, properties(r) AS p, coalesce(m.id, m.name) AS b",
    )
    return sorted(repr((sorted(r["l"]), sorted(r["p"]))) for r in nodes), sorted(
        repr((r["a"], r["t"], sorted(r["p"].items()), r["b"])) for r in rels
    )


async def _run(graph: Any, tmp_path: Path, *, urgent: bool) -> list[Any]:
    await graph.execute_query("MATCH (n) DETACH DELETE n")
    writer = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / f"dead-{urgent}.jsonl"))
    dumps = []
    for step in STEPS:
        await writer.write(step, urgent=urgent)
        dumps.append(await _full_dump(graph))
    return dumps


async def test_a_live_write_leaves_the_graph_the_backfill_write_leaves(
    graph: Any, tmp_path: Path
) -> None:
    backfill = await _run(graph, tmp_path, urgent=False)
    live = await _run(graph, tmp_path, urgent=True)
    assert len(backfill[0][0]) > 20 and len(backfill[0][1]) > 20  # a real graph
    assert any("INFLUENCED_BY" in r for r in backfill[0][1])
    for step, (want, got) in enumerate(zip(backfill, live, strict=True)):
        assert got == want, f"step {step}"
    assert backfill[-1] == ([], [])  # everything deleted leaves nothing behind


@pytest.mark.parametrize("urgent", [False, True])
async def test_a_poison_file_in_a_live_batch_is_isolated(
    graph: Any, tmp_path: Path, urgent: bool
) -> None:
    writer = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))
    huge = "raw." + "x" * 40_000  # Neo4j refuses index keys above ~8 KB: permanent
    updates = [
        _update(f"ok{i}.sql", f"INSERT INTO t{i} SELECT a FROM raw.s", "s") for i in range(3)
    ]
    updates.insert(
        1,
        FileUpdate(
            FileRef("r", "poison.sql"),
            "bad",
            "postgres",
            FileLineage(
                "postgres",
                "t1",
                extract(f"INSERT INTO p SELECT a FROM {huge}", "postgres").statements,
            ),
        ),
    )
    await writer.write(updates, urgent=urgent)
    written = await query(graph, "MATCH (f:File) WHERE f.sha256 IS NOT NULL RETURN f.path AS p")
    assert sorted(r["p"] for r in written) == ["ok0.sql", "ok1.sql", "ok2.sql"]
    assert [(d.path, d.sha256) for d in writer.dead_letters.read()] == [("poison.sql", "bad")]
    assert writer.stats.splits >= 1 and writer.stats.dead_letters == 1
