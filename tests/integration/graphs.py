"""Helpers for asserting on the graph: canonical dumps and bounded waits."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

from neo4j import AsyncDriver

from lineaged.model import FileUpdate


def as_model_1(update: FileUpdate) -> FileUpdate:
    """What graph model 1's writer was given for `update`: the statement-wide edges
    copied onto every target column, no statement-level list. Written by today's
    writer this is model 1's graph (for comparisons and benchmarks)."""
    if update.lineage is None:
        return update
    statements = tuple(
        dataclasses.replace(st, columns=st.expanded_columns(), target_columns=(), indirect=())
        for st in update.lineage.statements
    )
    lineage = dataclasses.replace(update.lineage, statements=statements)
    return dataclasses.replace(update, lineage=lineage)


async def query(driver: AsyncDriver, cypher: str, **params: Any) -> list[dict[str, Any]]:
    result = await driver.execute_query(cypher, params, database_="neo4j")
    return [r.data() for r in result.records]


async def table_edges(driver: AsyncDriver) -> set[tuple[str, str, str]]:
    """(file path, READS|WRITES, table) for every statement edge."""
    rows = await query(
        driver,
        "MATCH (f:File)-[:CONTAINS]->(:Statement)-[r:READS|WRITES]->(t:Table) "
        "RETURN f.path AS path, type(r) AS rel, t.name AS table",
    )
    return {(r["path"], r["rel"], r["table"]) for r in rows}


async def dump(driver: AsyncDriver) -> dict[str, Any]:
    """A canonical, order-free picture of the whole graph (ingest timestamps left out)."""
    files = await query(
        driver,
        "MATCH (f:File) RETURN f.id AS id, f.sha256 AS sha, f.error AS error ORDER BY id",
    )
    stmts = await query(
        driver,
        "MATCH (f:File)-[:CONTAINS]->(s:Statement) "
        "RETURN s.id AS id, s.kind AS kind, s.error AS error ORDER BY id",
    )
    tables = await query(driver, "MATCH (t:Table) RETURN t.name AS name ORDER BY name")
    columns = await query(
        driver,
        "MATCH (t:Table)-[:HAS_COLUMN]->(c:Column) RETURN t.name AS t, c.id AS c ORDER BY t, c",
    )
    edges = await query(
        driver,
        "MATCH (s:Statement)-[r:READS|WRITES]->(t:Table) "
        "RETURN s.id AS s, type(r) AS r, t.name AS t ORDER BY s, r, t",
    )
    col_edges = await query(
        driver,
        "MATCH (a:Column)-[r:DERIVES_FROM]->(b:Column) "
        "RETURN a.id AS a, b.id AS b, r.statement AS s, r.transform AS x ORDER BY a, b, s, x",
    )
    influences = await query(
        driver,
        "MATCH (s:Statement)-[r:INFLUENCED_BY]->(c:Column) "
        "RETURN s.id AS s, c.id AS c, r.transform AS x ORDER BY s, c, x",
    )
    written_by = await query(
        driver,
        "MATCH (c:Column)-[:WRITTEN_BY]->(s:Statement) RETURN c.id AS c, s.id AS s ORDER BY c, s",
    )
    return {
        "influences": influences,
        "written_by": written_by,
        "files": files,
        "statements": stmts,
        "tables": tables,
        "columns": columns,
        "edges": edges,
        "column_edges": col_edges,
    }


async def wait_for(
    probe: Callable[[], Awaitable[Any]],
    predicate: Callable[[Any], bool],
    timeout: float = 30.0,
    interval: float = 0.05,
) -> Any:
    """Poll `probe` until `predicate` holds; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    value = await probe()
    while not predicate(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s; last value: {value!r}")
        await asyncio.sleep(interval)
        value = await probe()
    return value
