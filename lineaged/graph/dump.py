"""A canonical dump of the whole graph and the integrity queries that must return nothing.

The dump is every node (labels, key, properties) and every relationship (type, both
ends' keys, properties), one JSON object per line, sorted: two graphs hold the same
lineage exactly when their dumps are equal. `ingested_at` is left out (it says when,
not what). Both read the whole graph (label scans): they are for tests, audits and
`lineaged dump`, never for the write path.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from neo4j import AsyncDriver

# Properties that say when a write happened, not what the graph holds.
VOLATILE: Final = frozenset({"ingested_at"})

# A node's key is the property its uniqueness constraint is on.
_NODES: Final = """
MATCH (n)
RETURN labels(n) AS labels, coalesce(n.id, n.name) AS key, properties(n) AS props
"""

_RELATIONSHIPS: Final = """
MATCH (a)-[r]->(b)
RETURN type(r) AS type, coalesce(a.id, a.name) AS start, coalesce(b.id, b.name) AS end,
       properties(r) AS props
"""

# name -> query returning one `item` per problem; a sound graph answers none of them.
INTEGRITY_QUERIES: Final = {
    "statements_without_file": """
        MATCH (s:Statement) WHERE NOT EXISTS { (:File)-[:CONTAINS]->(s) }
        RETURN s.id AS item""",
    "statements_naming_another_file": """
        MATCH (f:File)-[:CONTAINS]->(s:Statement) WHERE s.file <> f.id
        RETURN s.id AS item""",
    "orphan_tables": """
        MATCH (t:Table)
        WHERE NOT EXISTS { (t)<-[:READS|WRITES]-(:Statement) }
          AND NOT EXISTS { (t)-[:HAS_COLUMN]->(:Column) }
        RETURN t.name AS item""",
    "orphan_columns": """
        MATCH (c:Column)
        WHERE NOT EXISTS { (c)-[:DERIVES_FROM|INFLUENCED_BY|WRITTEN_BY]-() }
        RETURN c.id AS item""",
    "columns_without_table": """
        MATCH (c:Column) WHERE NOT EXISTS { (:Table {name: c.table})-[:HAS_COLUMN]->(c) }
        RETURN c.id AS item""",
    "column_edges_naming_dead_files": """
        MATCH (a:Column)-[r:DERIVES_FROM]->(b:Column)
        WHERE NOT EXISTS { MATCH (:File {id: r.file})-[:CONTAINS]->(:Statement {id: r.statement}) }
        RETURN a.id + ' -> ' + b.id + ' (' + r.file + ')' AS item""",
    "files_without_state": """
        MATCH (f:File) WHERE f.sha256 IS NULL AND f.failed_sha256 IS NULL
        RETURN f.id AS item""",
}


def _canonical(props: dict[str, Any]) -> dict[str, Any]:
    return {k: props[k] for k in sorted(props) if k not in VOLATILE}


async def _records(driver: AsyncDriver, database: str, cypher: str) -> list[dict[str, Any]]:
    result = await driver.execute_query(cypher, database_=database, routing_="r")
    return [r.data() for r in result.records]


async def dump_lines(driver: AsyncDriver, database: str = "neo4j") -> list[str]:
    """The canonical dump, one JSON line per node then per relationship, sorted."""
    nodes = [
        orjson.dumps(
            {"node": sorted(r["labels"]), "key": r["key"], "props": _canonical(r["props"])},
            option=orjson.OPT_SORT_KEYS,
        ).decode()
        for r in await _records(driver, database, _NODES)
    ]
    rels = [
        orjson.dumps(
            {
                "rel": r["type"],
                "start": r["start"],
                "end": r["end"],
                "props": _canonical(r["props"]),
            },
            option=orjson.OPT_SORT_KEYS,
        ).decode()
        for r in await _records(driver, database, _RELATIONSHIPS)
    ]
    return sorted(nodes) + sorted(rels)


async def integrity_problems(driver: AsyncDriver, database: str = "neo4j") -> dict[str, list[str]]:
    """name -> sorted offending items, only for the checks that found something."""
    problems: dict[str, list[str]] = {}
    for name, cypher in INTEGRITY_QUERIES.items():
        items = sorted(str(r["item"]) for r in await _records(driver, database, cypher))
        if items:
            problems[name] = items
    return problems
