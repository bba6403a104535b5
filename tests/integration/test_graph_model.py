"""Graph model 2 (statement-wide influence stored once per statement) answers every
lineage question exactly as model 1 (the same influence copied onto every target
column) did, on the same fixtures; and a graph written by model 1 is rewritten on the
first start of the daemon.

Model 1's graph is what the old writer stored: each statement's `expanded_columns()`
as DERIVES_FROM edges, no INFLUENCED_BY/WRITTEN_BY, no `graph_model` on the File.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path
from typing import Any

from lineaged.config import load_settings
from lineaged.daemon import Daemon
from lineaged.deadletters import DeadLetters
from lineaged.extract import extract
from lineaged.graph.dump import dump_lines, integrity_problems
from lineaged.graph.lineage import edges_from_records, query_lineage
from lineaged.graph.writer import GraphWriter
from lineaged.model import FileRef, FileUpdate

from .configs import config_text, neo4j_env
from .graphs import as_model_1, query

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "tests" / "bench"))
from bench_extract import corpus  # noqa: E402

EXAMPLE_DIALECTS = {"shop": "postgres", "finance": "snowflake", "events": "bigquery"}

# Shapes where the two models could part: literal columns (no own edges, only the
# statement's filter), an UPDATE writing some columns of a table another statement
# writes in full, CASE conditions and windows (column-specific INDIRECT edges), a
# statement-wide filter column that is also a target, a chain through two files.
HAND_WRITTEN = {
    "load.sql": """
        INSERT INTO stg.orders (id, amount, flag, region)
        SELECT o.id, o.amount, 1, c.region
        FROM raw.orders o JOIN raw.customers c ON o.customer_id = c.id
        WHERE o.status = 'paid';
        UPDATE stg.orders SET amount = amount * 2 WHERE region = 'eu';
    """,
    "mart.sql": """
        INSERT INTO mart.revenue
        SELECT region,
               SUM(CASE WHEN flag = 1 THEN amount ELSE 0 END) AS revenue,
               ROW_NUMBER() OVER (PARTITION BY region ORDER BY SUM(amount)) AS rnk
        FROM stg.orders
        WHERE amount > 0
        GROUP BY region
        ORDER BY region;
    """,
}


def fixture_updates() -> list[FileUpdate]:
    updates = []
    for root, dialect in EXAMPLE_DIALECTS.items():
        for path in sorted((PROJECT / "examples" / root).rglob("*.sql")):
            rel = path.relative_to(PROJECT / "examples" / root).as_posix()
            lineage = extract(path.read_bytes(), dialect)
            updates.append(FileUpdate(FileRef(root, rel), "a" * 64, dialect, lineage))
    texts = {f"wh{i}.sql": text for i, text in enumerate(corpus(3))} | HAND_WRITTEN
    for rel, text in texts.items():
        lineage = extract(text, "postgres")
        updates.append(FileUpdate(FileRef("wh", rel), "b" * 64, "postgres", lineage))
    return updates


# Model 1's column query (lineaged/graph/lineage.py before model 2), verbatim.
MODEL_1_COLUMN_QUERY = """
MATCH (:Column {{id: $name}}) {hop}{{1,{depth}}} (:Column)
UNWIND range(0, size(a) - 1) AS i
WITH a[i] AS near, b[i] AS far, r[i] AS rel, i + 1 AS depth
RETURN near.id AS near, far.id AS far, min(depth) AS depth,
       collect(DISTINCT rel.file) AS files, collect(DISTINCT rel.transform) AS transform
"""
MODEL_1_HOP = {
    "upstream": "((a:Column)-[r:DERIVES_FROM]->(b:Column))",
    "downstream": "((a:Column)<-[r:DERIVES_FROM]-(b:Column))",
}

# The README's "everything that influences X" / "what X feeds", before and now.
README_1 = {
    "upstream": "MATCH (c:Column {id: $name}) (()-[:DERIVES_FROM]->()){1,10} (x:Column) "
    "RETURN DISTINCT x.id AS id",
    "downstream": "MATCH (c:Column {id: $name}) (()<-[:DERIVES_FROM]-()){1,10} (x:Column) "
    "RETURN DISTINCT x.id AS id",
}
README_2 = {
    "upstream": "MATCH (c:Column {id: $name}) "
    "(()-[:DERIVES_FROM|WRITTEN_BY|INFLUENCED_BY]->()){1,20} (x:Column) "
    "RETURN DISTINCT x.id AS id",
    "downstream": "MATCH (c:Column {id: $name}) "
    "(()<-[:DERIVES_FROM|WRITTEN_BY|INFLUENCED_BY]-()){1,20} (x:Column) "
    "RETURN DISTINCT x.id AS id",
}


async def _model_1_edges(driver: Any, direction: str, name: str, depth: int) -> list[Any]:
    cypher = MODEL_1_COLUMN_QUERY.format(hop=MODEL_1_HOP[direction], depth=depth)
    records, _, _ = await driver.execute_query(cypher, {"name": name}, database_="neo4j")
    return edges_from_records(direction, [r.data() for r in records])


async def _ids(driver: Any, cypher: str, name: str) -> set[str]:
    records, _, _ = await driver.execute_query(cypher, {"name": name}, database_="neo4j")
    return {r["id"] for r in records}


async def _write(graph: Any, tmp_path: Path, updates: list[FileUpdate]) -> None:
    await graph.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
    writer = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))
    await writer.write(updates)
    assert writer.stats.dead_letters == 0


async def _answers(graph: Any, model: int) -> dict[Any, Any]:
    rows = await query(graph, "MATCH (c:Column) RETURN c.id AS id ORDER BY id")
    answers: dict[Any, Any] = {}
    for name in (r["id"] for r in rows):
        for direction in ("upstream", "downstream"):
            for depth in (1, 2, 10):
                if model == 1:
                    edges = await _model_1_edges(graph, direction, name, depth)
                else:
                    edges, _ = await query_lineage(
                        graph, "neo4j", direction, name, depth, column=True
                    )
                if edges:
                    answers[(name, direction, depth)] = edges
            readme = (README_1 if model == 1 else README_2)[direction]
            reached = await _ids(graph, readme, name)
            if reached:
                answers[(name, direction, "readme")] = reached
    return answers


async def test_both_models_answer_every_column_question_alike(graph: Any, tmp_path: Path) -> None:
    updates = fixture_updates()
    await _write(graph, tmp_path, [as_model_1(u) for u in updates])
    old = await _answers(graph, model=1)
    old_edges = await query(graph, "MATCH ()-[r]->() RETURN count(r) AS n")

    await _write(graph, tmp_path, updates)
    new = await _answers(graph, model=2)
    new_edges = await query(graph, "MATCH ()-[r]->() RETURN count(r) AS n")

    assert len(old) > 300, "the fixtures should ask many questions with answers"
    # Literal columns written under a filter exist in both; columns written with no
    # lineage at all exist only in model 2 (WRITTEN_BY) and have no answers there.
    assert new == old
    assert new_edges[0]["n"] * 2 < old_edges[0]["n"], (old_edges, new_edges)
    assert await integrity_problems(graph) == {}


async def test_a_model_1_graph_is_rewritten_on_first_start(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    updates = []
    for i, text in enumerate([*corpus(2), *HAND_WRITTEN.values()]):
        path = root / f"f{i}.sql"
        path.write_text(text)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        lineage = extract(path.read_bytes(), "postgres")
        updates.append(FileUpdate(FileRef("wh", path.name), sha, "postgres", lineage))

    def daemon(state: str) -> Daemon:
        cfg = tmp_path / f"{state}.toml"
        cfg.write_text(config_text(root, tmp_path / state, extra="[cache]\nenabled = false\n"))
        return Daemon(load_settings(cfg, env=neo4j_env(neo4j_server)), oneshot=True)

    assert await asyncio.wait_for(daemon("clean").run(), 120) == 0
    clean = await dump_lines(graph)

    # The same tree as the model-1 writer left it, with the same content hashes and
    # even the current extractor version: only the model differs (no graph_model).
    await _write(graph, tmp_path, [as_model_1(u) for u in updates])
    await graph.execute_query("MATCH (f:File) REMOVE f.graph_model", database_="neo4j")
    stale = await dump_lines(graph)
    assert stale != clean and not any("INFLUENCED_BY" in line for line in stale)

    assert await asyncio.wait_for(daemon("restart").run(), 120) == 0
    assert await dump_lines(graph) == clean
    assert await integrity_problems(graph) == {}
