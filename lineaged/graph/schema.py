"""Constraints and indexes for every key the writer MERGEs or MATCHes on.

Created before the first write and awaited ONLINE: a MATCH on an unindexed key turns a
bulk load into a silent crawl, so tests EXPLAIN every writer query against this schema.
"""

from __future__ import annotations

from neo4j import AsyncDriver

# The shape of what the writer stores, on every File node as `graph_model`. A File
# written under another model reads back with no extractor version, so start-up
# reconcile re-extracts and rewrites it: an old graph is migrated on first start.
#   1 (no property): statement-wide JOIN/FILTER/... copied onto every target column
#   2: statement-wide influence once per statement (INFLUENCED_BY + WRITTEN_BY)
GRAPH_MODEL = 2

SCHEMA_STATEMENTS: tuple[str, ...] = (
    "CREATE CONSTRAINT file_id IF NOT EXISTS FOR (n:File) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT statement_id IF NOT EXISTS FOR (n:Statement) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT table_name IF NOT EXISTS FOR (n:Table) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT column_id IF NOT EXISTS FOR (n:Column) REQUIRE n.id IS UNIQUE",
    # A file's column edges are found (and deleted) by this relationship property.
    "CREATE INDEX derives_from_file IF NOT EXISTS FOR ()-[r:DERIVES_FROM]-() ON (r.file)",
    # The start-up reconcile lists a root's files.
    "CREATE INDEX file_root IF NOT EXISTS FOR (n:File) ON (n.root)",
)


async def ensure_schema(driver: AsyncDriver, database: str, timeout_s: int = 300) -> None:
    for statement in SCHEMA_STATEMENTS:
        await driver.execute_query(statement, database_=database)
    await driver.execute_query(f"CALL db.awaitIndexes({int(timeout_s)})", database_=database)
