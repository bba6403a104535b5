"""Upstream/downstream lineage questions, one Cypher query each.

A Neo4j 5 quantified path pattern walks the hops; its group variables give every
hop's (source, target), so the answer is a set of edges (data flows source -> target)
with the shortest depth at which each appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lineaged.graph.name_match import Match, match_name

if TYPE_CHECKING:  # the CLI imports this module for --help: keep the driver out of it
    from neo4j import AsyncDriver

MAX_DEPTH = 50

# {depth} is an int validated by argparse (1..MAX_DEPTH): quantifiers cannot be parameters.
_TABLE_HOP = {
    "upstream": "((a:Table)<-[:WRITES]-(s:Statement)-[:READS]->(b:Table))",
    "downstream": "((a:Table)<-[:READS]-(s:Statement)-[:WRITES]->(b:Table))",
}
# Column level (graph model 2): one hop from a column is either its own DERIVES_FROM
# edge or, through a statement that writes it, that statement's statement-wide
# INFLUENCED_BY edge (two relationships). The reachable columns come first, with the
# fewest column hops to each (a statement hop counts as one), then each one's hops.
_COLUMN_STEP = {
    "upstream": "((:Column|Statement)-[:DERIVES_FROM|WRITTEN_BY|INFLUENCED_BY]->"
    "(:Column|Statement))",
    "downstream": "((:Column|Statement)<-[:DERIVES_FROM|WRITTEN_BY|INFLUENCED_BY]-"
    "(:Column|Statement))",
}
_COLUMN_HOPS = {
    "upstream": """
  MATCH (near)-[r:DERIVES_FROM]->(far:Column)
  RETURN far, r.file AS file, r.transform AS transform
  UNION ALL
  MATCH (near)-[:WRITTEN_BY]->(s:Statement)-[r:INFLUENCED_BY]->(far:Column)
  RETURN far, s.file AS file, r.transform AS transform""",
    "downstream": """
  MATCH (near)<-[r:DERIVES_FROM]-(far:Column)
  RETURN far, r.file AS file, r.transform AS transform
  UNION ALL
  MATCH (near)<-[r:INFLUENCED_BY]-(s:Statement)<-[:WRITTEN_BY]-(far:Column)
  RETURN far, s.file AS file, r.transform AS transform""",
}

TABLE_QUERY = """
MATCH (:Table {{name: $name}}) {hop}{{1,{depth}}} (:Table)
UNWIND range(0, size(a) - 1) AS i
WITH a[i] AS near, b[i] AS far, s[i].file AS file, i + 1 AS depth
RETURN near.name AS near, far.name AS far, min(depth) AS depth,
       collect(DISTINCT file) AS files, null AS transform
"""

COLUMN_QUERY = """
MATCH p = (:Column {{id: $name}}) {step}{{0,{steps}}} (near:Column)
WITH near, min(size([n IN nodes(p) WHERE n:Column])) AS seen
WHERE seen <= {depth}
CALL (near) {{{hops}
}}
RETURN near.id AS near, far.id AS far, min(seen) AS depth,
       collect(DISTINCT file) AS files, collect(DISTINCT transform) AS transform
"""

EXISTS_QUERY = {
    "table": "MATCH (t:Table {name: $name}) RETURN count(t) AS n",
    "column": "MATCH (c:Column {id: $name}) RETURN count(c) AS n",
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    depth: int
    files: tuple[str, ...] = ()
    transforms: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "depth": self.depth,
            "files": list(self.files),
            "transforms": list(self.transforms),
        }


def build_query(direction: str, depth: int, *, column: bool) -> str:
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be 1..{MAX_DEPTH}")
    if column:
        # A column hop is at most two relationships; paths to the columns whose own
        # hops are asked for are at most depth - 1 column hops long ({0,0} is not
        # allowed: the WHERE keeps depth 1 to the start column).
        return COLUMN_QUERY.format(
            step=_COLUMN_STEP[direction],
            steps=max(1, 2 * (int(depth) - 1)),
            depth=int(depth),
            hops=_COLUMN_HOPS[direction],
        )
    return TABLE_QUERY.format(hop=_TABLE_HOP[direction], depth=int(depth))


def edges_from_records(direction: str, records: list[dict[str, Any]]) -> list[Edge]:
    """`near` is the hop's end closer to NAME; data flows far → near upstream and
    near → far downstream."""
    edges = []
    for r in records:
        source, target = (r["far"], r["near"]) if direction == "upstream" else (r["near"], r["far"])
        edges.append(
            Edge(
                source,
                target,
                int(r["depth"]),
                tuple(sorted(f for f in r["files"] if f)),
                tuple(sorted(r["transform"] or ())),
            )
        )
    return sorted(edges, key=lambda e: (e.depth, e.target, e.source))


async def query_lineage(
    driver: AsyncDriver, database: str, direction: str, name: str, depth: int, *, column: bool
) -> tuple[list[Edge], bool]:
    """(edges, NAME exists in the graph). One query; a second only to tell an unknown
    name from one without lineage."""
    records, _, _ = await driver.execute_query(
        build_query(direction, depth, column=column),
        {"name": name},
        database_=database,
        routing_="r",
    )
    edges = edges_from_records(direction, [r.data() for r in records])
    if edges:
        return edges, True
    kind = "column" if column else "table"
    found, _, _ = await driver.execute_query(
        EXISTS_QUERY[kind], {"name": name}, database_=database, routing_="r"
    )
    return edges, found[0]["n"] > 0


# Candidates for a typed table name: exact, same ignoring case, or ending in `.NAME`.
# A scan of Table nodes, not an index seek: this runs once per CLI call when the name
# typed is not exact, never in the write path.
CANDIDATES_QUERY = """
MATCH (t:Table)
WHERE t.name = $name OR toLower(t.name) = $lower OR toLower(t.name) ENDS WITH $suffix
RETURN t.name AS name LIMIT 100
"""
ALL_TABLES_QUERY = "MATCH (t:Table) RETURN t.name AS name LIMIT 200000"
COLUMNS_QUERY = "MATCH (:Table {name: $table})-[:HAS_COLUMN]->(c:Column) RETURN c.name AS name"


async def resolve_table(driver: AsyncDriver, database: str, asked: str) -> Match:
    """The table NAME means (see graph/name_match.py), with suggestions when none."""
    # The exact name wins (match_name's rule 1): an index seek, before any scan of
    # every Table (100-200 ms on a 200,000-table graph).
    records, _, _ = await driver.execute_query(
        EXISTS_QUERY["table"], {"name": asked}, database_=database, routing_="r"
    )
    if records[0]["n"] > 0:
        return Match(asked)
    lower = asked.lower()
    params = {"name": asked, "lower": lower, "suffix": "." + lower}
    records, _, _ = await driver.execute_query(
        CANDIDATES_QUERY, params, database_=database, routing_="r"
    )
    found = match_name(asked, [r["name"] for r in records])
    if found.name is not None or found.candidates:
        return found
    records, _, _ = await driver.execute_query(ALL_TABLES_QUERY, database_=database, routing_="r")
    return match_name(asked, [r["name"] for r in records])


async def resolve_column(driver: AsyncDriver, database: str, table: str, asked: str) -> Match:
    records, _, _ = await driver.execute_query(
        COLUMNS_QUERY, {"table": table}, database_=database, routing_="r"
    )
    return match_name(asked, [r["name"] for r in records if r["name"]])
