"""The writer's statements keep one cached plan each in Neo4j: Neo4j caches a plan per
query text and parameter types, and a list's type is its elements' type (an empty
list is another), so the lists travel in one map parameter whatever they hold, and
the text asks Neo4j to keep its plan when statistics drift (graph/queries.py). On the
old code each write query took up to eight list parameters and a file of a new shape
(no column edges, no influences, a first deletion) planned the query again inside a
live edit's transaction: 0.3-2.7 s on a loaded 2-core machine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from fake_neo4j import FakeNeo4j

from lineaged.deadletters import DeadLetters
from lineaged.graph import queries as q
from lineaged.graph.rows import FILE_ID
from lineaged.graph.writer import GraphWriter
from lineaged.model import ColumnEdge, FileLineage, FileRef, FileUpdate, StatementLineage


def _file(path: str, *, edges: bool) -> FileUpdate:
    columns = (ColumnEdge("mart.t.x", ("raw.s.x",), "DIRECT/IDENTITY"),) if edges else ()
    statement = StatementLineage(0, 1, "insert", ("mart.t",), ("raw.s",), columns)
    return FileUpdate(
        FileRef("r", path), "s1", "postgres", FileLineage("postgres", "t1", (statement,))
    )


async def test_every_write_statement_has_one_map_parameter_and_keeps_its_plan(
    tmp_path: Path,
) -> None:
    neo4j = FakeNeo4j()
    writer = GraphWriter(neo4j, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))  # type: ignore[arg-type]
    await writer.write([_file("a.sql", edges=True)])
    await writer.write([_file("b.sql", edges=False)], urgent=True)
    await writer.write([FileUpdate(FileRef("r", "a.sql"), None, "postgres", None)])
    assert len(neo4j.runs) >= 5  # delete_old, write_new, delete_orphans, replace_files, ...
    for query, params in neo4j.runs:
        assert query.startswith("CYPHER replan=skip ")
        assert list(params) == ["p"] and isinstance(params["p"], dict)


async def test_a_live_write_is_one_auto_commit_statement(tmp_path: Path) -> None:
    """A live edit's replace goes as ONE statement Neo4j commits by itself (one round
    trip); the old writer sent BEGIN, three statements and COMMIT for it."""
    neo4j = FakeNeo4j()
    writer = GraphWriter(neo4j, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))  # type: ignore[arg-type]
    await writer.write([_file("a.sql", edges=True)], urgent=True)
    assert neo4j.kinds == ["auto"] and neo4j.begins == 0
    query, params = neo4j.runs[0]
    assert query == "CYPHER replan=skip " + q.REPLACE_FILES
    # Every list of the three statements it is composed of, in the one map.
    assert params["p"]["delete_ids"] == ["r:a.sql"]
    assert params["p"]["files"][0][FILE_ID] == "r:a.sql"
    assert {"orphan_columns", "orphan_tables", "column_edges"} <= set(params["p"])


async def test_a_backfill_write_stays_an_explicit_transaction(tmp_path: Path) -> None:
    neo4j = FakeNeo4j()
    writer = GraphWriter(neo4j, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))  # type: ignore[arg-type]
    await writer.write([_file("a.sql", edges=True)])
    assert set(neo4j.kinds) == {"tx"} and neo4j.begins == neo4j.commits == 1


async def test_warm_up_plans_each_write_query_first_in_its_own_transaction(
    tmp_path: Path,
) -> None:
    """Neo4j does not keep a plan made in a transaction that has already written; the
    old warm-up ran every query in one transaction, so all but the first were planned
    again by the first edit that used them (1.2 s for the first live edit)."""
    neo4j = FakeNeo4j()
    writer = GraphWriter(neo4j, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))  # type: ignore[arg-type]
    await writer.warm_up()
    assert sorted(neo4j.transactions) == sorted(
        ["CYPHER replan=skip " + query] for query in q.WRITE_QUERIES.values()
    )
    assert neo4j.rollbacks == len(q.WRITE_QUERIES) and neo4j.commits == 0


async def test_a_live_write_during_the_warm_up_waits_for_its_own_query_only(
    tmp_path: Path,
) -> None:
    """Daemon mode warms up from READY on, in the background. A live edit arriving
    meanwhile is written once REPLACE_FILES, the one statement it sends, is planned
    (old: its statement went in between, and Neo4j planned REPLACE_FILES a second time
    inside the edit), and no later: the warm-up plans it first, and the backfill's
    queries after it (old: the edit waited for all of them, ~3 s after READY)."""
    import asyncio

    neo4j = FakeNeo4j()

    def hold_after_the_first_plan() -> None:
        if len(neo4j.runs) == 1:
            neo4j.gate = asyncio.Event()  # every later planning transaction waits

    neo4j._on_statement = hold_after_the_first_plan
    writer = GraphWriter(neo4j, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))  # type: ignore[arg-type]
    warm_up = asyncio.create_task(writer.warm_up())
    await asyncio.sleep(0)  # the warm-up has begun
    edit = asyncio.create_task(writer.write([_file("a.sql", edges=True)], urgent=True))
    for _ in range(20):
        await asyncio.sleep(0)
    assert edit.done() and not warm_up.done()  # the backfill's queries wait to be planned
    await edit
    assert neo4j.runs[0][0] == "CYPHER replan=skip " + q.REPLACE_FILES
    assert neo4j.runs[-1][0] == "CYPHER replan=skip " + q.REPLACE_FILES  # the edit
    assert neo4j.kinds[-1] == "auto"
    assert neo4j.gate is not None
    neo4j.gate.set()
    await warm_up
    assert neo4j.rollbacks == len(q.WRITE_QUERIES) and neo4j.commits == 0


def _statement(params: dict[str, Any]) -> str:
    """Which write query a run was, by its parameters."""
    p = params["p"]
    return "delete_old" if "delete_ids" in p else "write_new" if "files" in p else "delete_orphans"


async def test_a_new_file_is_written_without_a_delete_and_its_retry_deletes_first(
    tmp_path: Path,
) -> None:
    from dataclasses import replace

    from neo4j.exceptions import ServiceUnavailable

    failures = [ServiceUnavailable("connection lost during commit")]

    def maybe_fail() -> None:
        if failures and len(neo4j.runs) == 2:
            raise failures.pop()

    neo4j = FakeNeo4j(on_statement=maybe_fail)
    writer = GraphWriter(
        neo4j,  # type: ignore[arg-type]
        "neo4j",
        DeadLetters(tmp_path / "dead.jsonl"),
        backoff_initial_s=0.001,
    )
    await writer.write([replace(_file("a.sql", edges=True), in_graph=False)])
    await writer.write([replace(_file("b.sql", edges=True), in_graph=False)])
    names = [_statement(params) for _, params in neo4j.runs]
    # a.sql: one statement. b.sql: its first attempt failed (the commit may have
    # landed), so the retry deletes whatever it wrote first.
    assert names == ["write_new", "write_new", "delete_old", "write_new", "delete_orphans"]
    assert neo4j.runs[2][1]["p"]["delete_ids"] == ["r:b.sql"]


async def test_a_new_file_that_clashes_with_statements_in_the_graph_is_retried_as_a_replace(
    tmp_path: Path,
) -> None:
    """A file taken for new whose statements are there after all (written since its
    state was read, e.g. by `lineaged replay`): the Statement id constraint refuses
    the write; the writer retries it as a replace rather than dead-lettering it."""
    from dataclasses import replace

    from neo4j.exceptions import ConstraintError

    refused = [ConstraintError("Node(1) already exists with label `Statement`")]

    def refuse_once() -> None:
        if refused and _statement(neo4j.runs[-1][1]) == "write_new":
            raise refused.pop()

    neo4j = FakeNeo4j(on_statement=refuse_once)
    writer = GraphWriter(neo4j, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))  # type: ignore[arg-type]
    await writer.write([replace(_file("a.sql", edges=True), in_graph=False)])
    names = [_statement(params) for _, params in neo4j.runs]
    assert names == ["write_new", "delete_old", "write_new", "delete_orphans"]
    assert writer.stats.dead_letters == 0 and writer.stats.splits == 0
