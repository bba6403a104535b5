"""A shared column dropped under a write (two writers, or two transactions of one).

Writer A removes the last file that read `raw.s.x`; its DROP_ORPHANS locks and deletes
`raw.s` and `raw.s.x`. Writer B, at the same moment, writes a new file that reads that
column: its MERGE finds the committed node, and by the time it joins an edge to it the
node is gone. Measured on Neo4j 5.26: the CREATE of that edge fails with
Neo.ClientError.Statement.EntityNotFound (which the writer used to take for bad data:
split, then a dead letter), and a plain MATCH that runs after A's commit finds nothing
and drops the edge without an error. Both must end with B's lineage complete.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from neo4j.exceptions import Neo4jError

from lineaged.deadletters import DeadLetters
from lineaged.graph import queries as q
from lineaged.graph.dump import integrity_problems
from lineaged.graph.errors import ErrorKind, classify
from lineaged.graph.rows import build_rows
from lineaged.graph.writer import REUSE_PLAN, GraphWriter, _replace_files
from lineaged.model import ColumnEdge, FileLineage, FileRef, FileUpdate, StatementLineage

from .graphs import query


def reader(path: str, target: str) -> FileUpdate:
    """A file whose statement copies raw.s.x into `target`.x."""
    st = StatementLineage(
        0,
        1,
        "insert",
        (target,),
        ("raw.s",),
        (ColumnEdge(f"{target}.x", ("raw.s.x",), "DIRECT/IDENTITY"),),
    )
    return FileUpdate(FileRef("r", path), "v1", "postgres", FileLineage("postgres", "t", (st,)))


async def wait_for_a_blocked_transaction(graph: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = await query(graph, "SHOW TRANSACTIONS YIELD status RETURN status")
        if any(str(r["status"]).startswith("Blocked") for r in rows):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no transaction was blocked on a lock within {timeout_s} s")


@pytest.mark.parametrize("urgent", [False, True], ids=["backfill", "live"])
async def test_a_column_dropped_under_a_write_is_merged_again(
    graph: Any, tmp_path: Path, urgent: bool
) -> None:
    first = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dead-a.jsonl"))
    await first.write([reader("a.sql", "mart.a")])

    second = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dead-b.jsonl"))
    gone = build_rows([FileUpdate(FileRef("r", "a.sql"), None, "postgres", None)])
    async with graph.session(database="neo4j") as session:
        tx = await session.begin_transaction()
        # Writer A's replace of a.sql, held open: raw.s and raw.s.x are deleted and
        # stay locked until it commits.
        await _replace_files(tx, gone, {})
        write_b = asyncio.create_task(second.write([reader("b.sql", "mart.b")], urgent=urgent))
        await wait_for_a_blocked_transaction(graph)  # B waits on A's locks
        await tx.commit()
        await asyncio.wait_for(write_b, 120)

    assert second.stats.dead_letters == 0, second._dead.read()
    assert second.stats.retries >= 1  # B really met the deleted nodes
    edges = await query(
        graph,
        "MATCH (:Table {name: 'raw.s'})-[:HAS_COLUMN]->(sc:Column {id: 'raw.s.x'})"
        "<-[:DERIVES_FROM]-(tc:Column) RETURN tc.id AS target",
    )
    assert [e["target"] for e in edges] == ["mart.b.x"]
    reads = await query(
        graph, "MATCH (:File {id: 'r:b.sql'})-[:CONTAINS]->()-[:READS]->(t) RETURN t.name AS t"
    )
    assert [r["t"] for r in reads] == ["raw.s"]
    assert await integrity_problems(graph) == {}


async def test_an_edge_to_a_column_that_is_not_there_fails_the_write(graph: Any) -> None:
    """What B's plain MATCH did when A's commit fell between B's MERGE and B's edge:
    here the column is simply absent (left out of the write's own MERGEs). The write
    must fail, as a conflict, rather than commit the file without its edge."""
    rows = build_rows([reader("b.sql", "mart.b")])
    params = rows.write_new_params()
    ids, tables, names, bounds, writers = params["columns"]
    assert ids.index("raw.s.x") == len(ids) - 1 and bounds[-1] == bounds[-2]  # unwritten
    params["columns"] = [ids[:-1], tables[:-1], names[:-1], bounds[:-1], writers]
    async with graph.session(database="neo4j") as session:
        tx = await session.begin_transaction()
        try:
            with pytest.raises(Neo4jError) as caught:
                result = await tx.run(REUSE_PLAN + q.WRITE_NEW, {"p": params})
                await result.consume()
        finally:
            await tx.rollback()
    assert classify(caught.value) is ErrorKind.CONFLICT, caught.value
