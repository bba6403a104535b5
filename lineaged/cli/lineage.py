"""`lineaged lineage upstream|downstream NAME [--column C] [--depth N] [--format F]`

The question is one Cypher query (lineaged/graph/lineage.py); this module asks it and
prints the edges as a table, JSON, Graphviz dot or Mermaid.

Exit codes: 0 answered (possibly with no edges); 1 no such table/column in the graph;
2 bad usage; 3 Neo4j unreachable.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from lineaged.cli.common import add_config_flags, ask_graph, settings_from_args
from lineaged.cli.exit_codes import ExitCode
from lineaged.graph.lineage import MAX_DEPTH, Edge, query_lineage, resolve_column, resolve_table

EXAMPLES = """examples:
  lineaged lineage upstream marts.dim_customers
  lineaged lineage downstream raw.orders --depth 2 --format json
  lineaged lineage upstream marts.dim_customers --column lifetime_value
  lineaged lineage downstream raw.orders --format dot | dot -Tsvg > orders.svg
  lineaged lineage upstream marts.fct_orders --format mermaid
  lineaged lineage downstream raw.orders --format html > orders.html   # open in a browser

Neo4j connection: [neo4j] in the config, NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD.
exit codes: 0 answered, 1 no such table/column, 2 bad usage, 3 Neo4j unreachable"""


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
    p = subparsers.add_parser(
        "lineage",
        help="upstream/downstream lineage of a table or column, from the graph",
        description="Print what feeds NAME (upstream) or what NAME feeds (downstream), "
        "as edges source -> target with the depth at which each first appears.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("direction", choices=["upstream", "downstream"])
    p.add_argument(
        "name",
        metavar="NAME",
        help="table name as in the graph (e.g. marts.orders), in any case, or a unique "
        "suffix of one (orders); close names are suggested when none fits",
    )
    p.add_argument("--column", metavar="COL", help="column-level lineage of NAME.COL")
    p.add_argument("--depth", type=_depth, default=10, help=f"max hops, 1..{MAX_DEPTH} (10)")
    p.add_argument(
        "--format",
        choices=["table", "json", "dot", "mermaid", "html"],
        default="table",
        help="html: one self-contained page with the tables, columns and transforms",
    )
    add_config_flags(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from lineaged.qualified import column_id

    cfg = settings_from_args(args).neo4j

    async def ask(driver: Any) -> tuple[str, list[Edge], str | None] | str:
        """(the name asked about, its edges, the html page if asked for), or why NAME
        matched nothing."""
        table = await resolve_table(driver, cfg.database, args.name)
        if table.name is None:
            return table.explain(args.name)
        name = table.name
        if args.column:
            column = await resolve_column(driver, cfg.database, table.name, args.column)
            if column.name is None:
                return column.explain(f"{table.name}.{args.column}", "column")
            name = column_id(table.name, column.name)
        edges, _ = await query_lineage(
            driver, cfg.database, args.direction, name, args.depth, column=bool(args.column)
        )
        page = None
        if args.format == "html":
            page = await _html(driver, cfg, args, name, edges)
        return name, edges, page

    answer = ask_graph("lineage", cfg, ask)
    if answer is None:
        return ExitCode.CANNOT_START
    if isinstance(answer, str):
        print(f"lineaged lineage: {answer}", file=sys.stderr)
        return ExitCode.PROBLEMS
    name, edges, page = answer
    asked = f"{args.name}.{args.column}" if args.column else args.name
    if name != asked:
        print(f"lineaged lineage: {asked!r} is {name!r}", file=sys.stderr)
    print(page if page is not None else render(args.format, args.direction, name, edges))
    return ExitCode.OK


async def _html(
    driver: Any, cfg: Any, args: argparse.Namespace, name: str, edges: list[Edge]
) -> str:
    from datetime import UTC, datetime

    from lineaged.export.graph_read import read_table_view
    from lineaged.export.html_view import render_html

    ends = {end for e in edges for end in (e.source, e.target)} | {name}
    tables = {n.rpartition(".")[0] for n in ends} if args.column else ends
    view = await read_table_view(driver, cfg.database, tables)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return render_html(
        args.direction,
        name,
        edges,
        view,
        column=bool(args.column),
        source=f"From {cfg.uri} ({cfg.database}) at {when}, depth {args.depth}.",
    )
