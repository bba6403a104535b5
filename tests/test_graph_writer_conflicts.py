"""A node deleted under a write by another writer (errors.ErrorKind.CONFLICT): the
writer runs the transaction again, but only a few times in a row, so that a write
naming a node nothing creates ends as a dead letter instead of looping."""

from __future__ import annotations

import sys
from pathlib import Path

from neo4j.exceptions import Neo4jError

sys.path.insert(0, str(Path(__file__).parent))
from fake_neo4j import FakeNeo4j

from lineaged.deadletters import DeadLetters
from lineaged.graph.writer import CONFLICT_RETRIES, GraphWriter
from lineaged.model import ColumnEdge, FileLineage, FileRef, FileUpdate, StatementLineage


def _file(path: str) -> FileUpdate:
    st = StatementLineage(
        0, 1, "insert", ("mart.t",), ("raw.s",), (ColumnEdge("mart.t.x", ("raw.s.x",), "DIRECT"),)
    )
    return FileUpdate(FileRef("r", path), "v1", "postgres", FileLineage("postgres", "t", (st,)))


def _vanished() -> Neo4jError:
    return Neo4jError._hydrate_neo4j(
        code="Neo.ClientError.Statement.EntityNotFound", message="Unable to load NODE 4:x:3."
    )


def _writer(neo4j: FakeNeo4j, tmp_path: Path) -> GraphWriter:
    return GraphWriter(
        neo4j,  # type: ignore[arg-type]
        "neo4j",
        DeadLetters(tmp_path / "dead.jsonl"),
        backoff_initial_s=0.001,
        backoff_max_s=0.001,
    )


async def test_a_conflict_is_retried_and_the_write_then_lands(tmp_path: Path) -> None:
    failures = [_vanished(), _vanished()]

    def on_statement() -> None:
        if failures:
            raise failures.pop()

    neo4j = FakeNeo4j(on_statement)
    writer = _writer(neo4j, tmp_path)
    await writer.write([_file("a.sql")])
    assert writer.stats.retries == 2 and writer.stats.dead_letters == 0
    assert writer.stats.splits == 0 and neo4j.commits == 1


async def test_conflicts_without_end_become_a_dead_letter(tmp_path: Path) -> None:
    def on_statement() -> None:
        raise _vanished()

    neo4j = FakeNeo4j(on_statement)
    writer = _writer(neo4j, tmp_path)
    await writer.write([_file("a.sql")])
    assert writer.stats.dead_letters == 1
    # The file's write and then the write of its failure record, each given up after
    # the first attempt and CONFLICT_RETRIES more.
    assert writer.stats.attempts == 2 * (CONFLICT_RETRIES + 1)
    assert [d.path for d in writer._dead.read()] == ["a.sql"]
