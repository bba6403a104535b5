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

sys.path.insert(0, str(Path(__file__).parent))
from fake_neo4j import FakeNeo4j

from lineaged.deadletters import DeadLetters
from lineaged.graph import queries as q
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
    assert params["p"]["files"][0]["id"] == "r:a.sql"
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
    assert neo4j.transactions == [
        ["CYPHER replan=skip " + query] for query in q.WRITE_QUERIES.values()
    ]
    assert neo4j.rollbacks == len(q.WRITE_QUERIES) and neo4j.commits == 0
