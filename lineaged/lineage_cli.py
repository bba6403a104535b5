"""`lineaged lineage upstream|downstream NAME [--column C] [--depth N] [--format F]`

One Cypher query per question, with a Neo4j 5 quantified path pattern; the group
variables of the pattern give every hop's (source, target), so the answer is a set of
edges (data flows source → target) with the shortest depth at which each appears.

Exit codes: 0 answered (possibly with no edges); 1 no such table/column in the graph;
2 bad usage; 3 Neo4j unreachable.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

import orjson

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_CANNOT_CONNECT = 0, 1, 2, 3
MAX_DEPTH = 50

# {depth} is an int validated by argparse (1..MAX_DEPTH): quantifiers cannot be parameters.
_TABLE_HOP = {
    "upstream": "((a:Table)<-[:WRITES]-(s:Statement)-[:READS]->(b:Table))",
    "downstream": "((a:Table)<-[:READS]-(s:Statement)-[:WRITES]->(b:Table))",
}
_COLUMN_HOP = {
    "upstream": "((a:Column)-[r:DERIVES_FROM]->(b:Column))",
    "downstream": "((a:Column)<-[r:DERIVES_FROM]-(b:Column))",
}

TABLE_QUERY = """
MATCH (:Table {{name: $name}}) {hop}{{1,{depth}}} (:Table)
UNWIND range(0, size(a) - 1) AS i
WITH a[i] AS near, b[i] AS far, s[i].file AS file, i + 1 AS depth
RETURN near.name AS near, far.name AS far, min(depth) AS depth,
       collect(DISTINCT file) AS files, null AS transform
"""

COLUMN_QUERY = """
MATCH (:Column {{id: $name}}) {hop}{{1,{depth}}} (:Column)
UNWIND range(0, size(a) - 1) AS i
WITH a[i] AS near, b[i] AS far, r[i] AS rel, i + 1 AS depth
RETURN near.id AS near, far.id AS far, min(depth) AS depth,
       collect(DISTINCT rel.file) AS files, collect(DISTINCT rel.transform) AS transform
"""

EXISTS_QUERY = {
    "table": "MATCH (t:Table {name: $name}) RETURN count(t) AS n",
    "column": "MATCH (c:Column {id: $name}) RETURN count(c) AS n",
}

EXAMPLES = """examples:
  lineaged lineage upstream marts.dim_customers
  lineaged lineage downstream raw.orders --depth 2 --format json
  lineaged lineage upstream marts.dim_customers --column lifetime_value
  lineaged lineage downstream raw.orders --format dot | dot -Tsvg > orders.svg
  lineaged lineage upstream marts.fct_orders --format mermaid

Neo4j connection: [neo4j] in the config, NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD.
exit codes: 0 answered, 1 no such table/column, 2 bad usage, 3 Neo4j unreachable"""


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
    hops, template = (_COLUMN_HOP, COLUMN_QUERY) if column else (_TABLE_HOP, TABLE_QUERY)
    return template.format(hop=hops[direction], depth=int(depth))


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


def query_lineage(
    driver: Any, database: str, direction: str, name: str, depth: int, *, column: bool
) -> tuple[list[Edge], bool]:
    """(edges, NAME exists in the graph). One query; a second only to tell an unknown
    name from one without lineage."""
    records, _, _ = driver.execute_query(
        build_query(direction, depth, column=column),
        {"name": name},
        database_=database,
        routing_="r",
    )
    edges = edges_from_records(direction, [r.data() for r in records])
    if edges:
        return edges, True
    kind = "column" if column else "table"
    found, _, _ = driver.execute_query(
        EXISTS_QUERY[kind], {"name": name}, database_=database, routing_="r"
    )
    return edges, found[0]["n"] > 0


# -- output -----------------------------------------------------------------------------


def render(fmt: str, direction: str, name: str, edges: list[Edge]) -> str:
    return {"table": _table, "json": _json, "dot": _dot, "mermaid": _mermaid}[fmt](
        direction, name, edges
    )


def _table(direction: str, name: str, edges: list[Edge]) -> str:
    if not edges:
        return f"{name}: no {direction} lineage"
    rows = [("DEPTH", "SOURCE", "TARGET", "VIA")]
    for e in edges:
        via = ", ".join(e.transforms) if e.transforms else ", ".join(e.files)
        rows.append((str(e.depth), e.source, e.target, via))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        for r in rows
    )


def _json(direction: str, name: str, edges: list[Edge]) -> str:
    doc = {"name": name, "direction": direction, "edges": [e.to_dict() for e in edges]}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()


def _dot(direction: str, name: str, edges: list[Edge]) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
    lines.append(f"  {_dq(name)} [style=bold];")
    for e in edges:
        label = f" [label={_dq(', '.join(e.transforms))}]" if e.transforms else ""
        lines.append(f"  {_dq(e.source)} -> {_dq(e.target)}{label};")
    lines.append("}")
    return "\n".join(lines)


def _dq(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mermaid(direction: str, name: str, edges: list[Edge]) -> str:
    ids: dict[str, str] = {}

    def node(label: str) -> str:
        if label not in ids:
            ids[label] = f"n{len(ids)}"
            # Mermaid labels: quotes are the only character that breaks a "..." label.
            return f'{ids[label]}["{label.replace(chr(34), "#quot;")}"]'
        return ids[label]

    lines = ["flowchart LR", f"  {node(name)}"]
    for e in edges:
        label = f"|{', '.join(e.transforms)}|" if e.transforms else ""
        lines.append(f"  {node(e.source)} -->{label} {node(e.target)}")
    return "\n".join(lines)


# -- command ----------------------------------------------------------------------------


def _depth(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_DEPTH:
        raise argparse.ArgumentTypeError(f"must be 1..{MAX_DEPTH}")
    return value


def add_parser(subparsers: Any) -> None:
    from lineaged.cli import _add_config_flags

    p = subparsers.add_parser(
        "lineage",
        help="upstream/downstream lineage of a table or column, from the graph",
        description="Print what feeds NAME (upstream) or what NAME feeds (downstream), "
        "as edges source -> target with the depth at which each first appears.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("direction", choices=["upstream", "downstream"])
    p.add_argument("name", metavar="NAME", help="table name as in the graph, e.g. marts.orders")
    p.add_argument("--column", metavar="COL", help="column-level lineage of NAME.COL")
    p.add_argument("--depth", type=_depth, default=10, help=f"max hops, 1..{MAX_DEPTH} (10)")
    p.add_argument("--format", choices=["table", "json", "dot", "mermaid"], default="table")
    _add_config_flags(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from neo4j import GraphDatabase
    from neo4j.exceptions import Neo4jError, ServiceUnavailable

    from lineaged.cli import _settings

    cfg = _settings(args).neo4j
    name = f"{args.name}.{args.column}" if args.column else args.name
    try:
        with GraphDatabase.driver(
            cfg.uri, auth=(cfg.user, cfg.password), notifications_min_severity="OFF"
        ) as driver:
            # One attempt, so an unreachable server fails in seconds rather than after
            # the driver's 30 s of transaction retries.
            driver.verify_connectivity()
            edges, found = query_lineage(
                driver, cfg.database, args.direction, name, args.depth, column=bool(args.column)
            )
    except (ServiceUnavailable, OSError) as exc:
        reason = " ".join(str(exc).split())  # one line, whatever the driver says
        print(f"lineaged lineage: cannot reach Neo4j at {cfg.uri}: {reason}", file=sys.stderr)
        return EXIT_CANNOT_CONNECT
    except Neo4jError as exc:
        print(f"lineaged lineage: query failed: {exc.message}", file=sys.stderr)
        return EXIT_CANNOT_CONNECT
    if not found:
        kind = "column" if args.column else "table"
        print(f"lineaged lineage: no {kind} named {name!r} in the graph", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(render(args.format, args.direction, name, edges))
    return EXIT_OK
