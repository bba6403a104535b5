"""Every graph read the exporters make: File/Statement/Table/Column → FileRecords.

Exports read the graph, not the parse cache or the files: the graph is the ledger, so
an export says exactly what Neo4j knows (and works on a host that has only the graph).

Three queries: the files (a scan of File nodes: an export wants all of them, or those
ingested since a time), then per batch of files their statements with READS/WRITES
and their column edges (index seeks on File.id and DERIVES_FROM.file).
Statement-wide influence is read from both graph models:
- model 2 stores it once per statement, `(:Statement)-[:INFLUENCED_BY {transform}]->
  (:Column)`, and the columns a statement writes as `(:Column)-[:WRITTEN_BY]->(s)`;
- model 1 copied it onto every target column as DERIVES_FROM edges whose transform is
  one of records.STATEMENT_WIDE; they are folded back into one influence per statement.
Relationship types a graph does not have simply match nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from lineaged.export.records import (
    STATEMENT_WIDE,
    ColumnInput,
    ColumnRef,
    FileRecord,
    Influence,
    StatementRecord,
    TableView,
)

FILES_PER_BATCH = 200

FILES: str = """
MATCH (f:File)
WHERE ($since IS NULL OR f.ingested_at >= datetime($since))
  AND ($root IS NULL OR f.root = $root)
RETURN f.id AS id, f.root AS root, f.path AS path, f.sha256 AS sha256,
       f.dialect AS dialect, toString(f.ingested_at) AS ingested_at, f.error AS error
ORDER BY id
"""

STATEMENTS: str = """
UNWIND $ids AS fid
MATCH (:File {id: fid})-[:CONTAINS]->(s:Statement)
RETURN fid AS file, s.id AS id, s.index AS index, s.kind AS kind, s.error AS error,
       COLLECT { MATCH (s)-[:READS]->(t:Table) RETURN t.name } AS reads,
       COLLECT { MATCH (s)-[:WRITES]->(t:Table) RETURN t.name } AS writes,
       COLLECT { MATCH (c:Column)-[:WRITTEN_BY]->(s) RETURN [c.table, c.name] }
         AS target_columns,
       COLLECT { MATCH (s)-[r:INFLUENCED_BY]->(c:Column)
                 RETURN [c.table, c.name, r.transform] } AS influences
"""

COLUMN_EDGES: str = """
UNWIND $ids AS fid
MATCH (a:Column)-[r:DERIVES_FROM {file: fid}]->(b:Column)
RETURN r.statement AS statement, a.table AS target_table, a.name AS target,
       b.table AS source_table, b.name AS source, r.transform AS transform
"""

# For the lineage view: everything between a given set of tables (Table.name seeks).
VIEW_COLUMNS: str = """
UNWIND $names AS name
MATCH (t:Table {name: name})
RETURN t.name AS table, COLLECT { MATCH (t)-[:HAS_COLUMN]->(c:Column) RETURN c.name } AS columns
"""

VIEW_COLUMN_EDGES: str = """
UNWIND $names AS name
MATCH (:Table {name: name})-[:HAS_COLUMN]->(a:Column)-[r:DERIVES_FROM]->(b:Column)
WHERE b.table IN $names
RETURN DISTINCT a.table AS target_table, a.name AS target, b.table AS source_table,
       b.name AS source, r.transform AS transform
"""

VIEW_INFLUENCES: str = """
UNWIND $names AS name
MATCH (:Table {name: name})<-[:WRITES]-(:Statement)-[r:INFLUENCED_BY]->(c:Column)
WHERE c.table IN $names
RETURN DISTINCT name AS target_table, c.table AS source_table, c.name AS source,
       r.transform AS transform
"""

QUERIES = {
    "files": FILES,
    "statements": STATEMENTS,
    "column_edges": COLUMN_EDGES,
    "view_columns": VIEW_COLUMNS,
    "view_column_edges": VIEW_COLUMN_EDGES,
    "view_influences": VIEW_INFLUENCES,
}


def read_files(
    driver: Any, database: str, *, since: str | None = None, root: str | None = None
) -> Iterator[FileRecord]:
    """Every File (ingested at or after `since`, ISO 8601), sorted by id, in batches."""
    files, _, _ = driver.execute_query(
        FILES, {"since": since, "root": root}, database_=database, routing_="r"
    )
    rows = [r.data() for r in files]
    for i in range(0, len(rows), FILES_PER_BATCH):
        batch = rows[i : i + FILES_PER_BATCH]
        yield from _records(driver, database, batch)


def _records(driver: Any, database: str, files: list[dict[str, Any]]) -> Iterator[FileRecord]:
    params = {"ids": [f["id"] for f in files]}
    statements, _, _ = driver.execute_query(STATEMENTS, params, database_=database, routing_="r")
    edges, _, _ = driver.execute_query(COLUMN_EDGES, params, database_=database, routing_="r")
    by_statement: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in edges:
        by_statement[e["statement"]].append(e.data())
    by_file: dict[str, list[StatementRecord]] = defaultdict(list)
    for s in statements:
        by_file[s["file"]].append(statement_record(s.data(), by_statement.get(s["id"], [])))
    for f in files:
        yield FileRecord(
            root=f["root"],
            path=f["path"],
            sha256=f["sha256"],
            dialect=f["dialect"],
            ingested_at=f["ingested_at"],
            error=f["error"],
            statements=tuple(sorted(by_file.get(f["id"], []), key=lambda s: s.index)),
        )


def statement_record(row: dict[str, Any], edges: list[dict[str, Any]]) -> StatementRecord:
    """One STATEMENTS row and its COLUMN_EDGES rows → a StatementRecord (pure)."""
    inputs: set[ColumnInput] = set()
    influences = {Influence(ColumnRef(t, c), tr) for t, c, tr in row["influences"]}
    targets = {ColumnRef(t, c) for t, c in row["target_columns"]}
    for e in edges:
        target = ColumnRef(e["target_table"], e["target"])
        source = ColumnRef(e["source_table"], e["source"])
        targets.add(target)
        if e["transform"] in STATEMENT_WIDE:
            influences.add(Influence(source, e["transform"]))  # model 1's per-column copy
        else:
            inputs.add(ColumnInput(target, source, e["transform"]))
    return StatementRecord(
        index=row["index"],
        kind=row["kind"],
        error=row["error"],
        reads=tuple(sorted(row["reads"])),
        writes=tuple(sorted(row["writes"])),
        target_columns=tuple(sorted(targets)),
        column_inputs=tuple(sorted(inputs)),
        influences=tuple(sorted(influences)),
    )


async def read_table_view(driver: Any, database: str, tables: set[str]) -> TableView:
    """Columns of `tables` and the column edges and influences among them (async
    driver, as lineaged/graph/connect.py makes it)."""
    params = {"names": sorted(tables)}

    async def run(query: str) -> list[dict[str, Any]]:
        records, _, _ = await driver.execute_query(query, params, database_=database, routing_="r")
        return [r.data() for r in records]

    columns = {r["table"]: tuple(sorted(r["columns"])) for r in await run(VIEW_COLUMNS)}
    return table_view(columns, await run(VIEW_COLUMN_EDGES), await run(VIEW_INFLUENCES))


def table_view(
    columns: dict[str, tuple[str, ...]],
    edge_rows: list[dict[str, Any]],
    influence_rows: list[dict[str, Any]],
) -> TableView:
    """Query rows → TableView (pure); model 1's per-column copies of statement-wide
    influence fold back into one influence per target table."""
    inputs: set[ColumnInput] = set()
    influences: set[tuple[str, ColumnRef, str]] = set()
    for r in influence_rows:
        influences.add(
            (r["target_table"], ColumnRef(r["source_table"], r["source"]), r["transform"])
        )
    for r in edge_rows:
        source = ColumnRef(r["source_table"], r["source"])
        if r["transform"] in STATEMENT_WIDE:
            influences.add((r["target_table"], source, r["transform"]))
        else:
            target = ColumnRef(r["target_table"], r["target"])
            inputs.add(ColumnInput(target, source, r["transform"]))
    return TableView(
        columns=dict(sorted(columns.items())),
        column_inputs=tuple(sorted(inputs)),
        influences=tuple(sorted(influences)),
    )
