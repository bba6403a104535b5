"""`lineaged lineage` and the other read-only commands against the real Neo4j: every
lineage query plans its start node as an index seek and its walk as a bounded
expansion (EXPLAIN), and read-only commands do no schema work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lineaged.graph.lineage import COLUMNS_QUERY, EXISTS_QUERY, MAX_DEPTH, build_query
from lineaged.graph.schema import ensure_schema

from .configs import process_env

LINEAGED = Path(sys.executable).with_name("lineaged")
SCANS = ("NodeByLabelScan", "AllNodesScan", "UnionNodeByLabelsScan", "IntersectionNodeByLabelsScan")


def _walk(plan: Any) -> list[tuple[str, str, Any]]:
    """(operator, details, plan) of every operator, parents first."""
    op = plan["operatorType"].split("@")[0]
    out = [(op, str(plan.get("args", {}).get("Details", "")), plan)]
    for child in plan.get("children", []):
        out.extend(_walk(child))
    return out


def plan_problems(plan: Any, start_label: str) -> list[str]:
    """Why `plan` is not a seek on the start node followed by bounded walks (empty: fine)."""
    ops = _walk(plan)
    problems = [f"scan: {op} {details}" for op, details, _ in ops if op in SCANS]
    seeks = [details for op, details, _ in ops if "IndexSeek" in op]
    if not any(f":{start_label}(" in d for d in seeks):
        problems.append(f"no index seek on :{start_label}: {[op for op, _, _ in ops]}")
    for op, details, node in ops:
        if op.startswith("Repeat"):
            # Quantified path pattern: its quantifier must have an upper bound.
            if not re.search(r"\{\d+, \d+\}", details):
                problems.append(f"unbounded {op}: {details}")
            # The walk starts from the seek (the Repeat's left-hand input).
            left = _walk(node["children"][0])
            if not any("IndexSeek" in o for o, _, _ in left):
                problems.append(f"{op} does not start from an index seek: {left}")
        if "VarLengthExpand" in op and not re.search(r"\*\d+\.\.\d+", details):
            problems.append(f"unbounded {op}: {details}")
    return problems


async def explain(graph: Any, cypher: str, **params: Any) -> Any:
    result = await graph.execute_query("EXPLAIN " + cypher, params, database_="neo4j")
    return result.summary.plan


@pytest.mark.parametrize("column", [False, True], ids=["table", "column"])
@pytest.mark.parametrize("direction", ["upstream", "downstream"])
@pytest.mark.parametrize("depth", [1, 10, MAX_DEPTH])
async def test_lineage_query_seeks_its_start_and_walks_a_bounded_path(
    graph: Any, direction: str, column: bool, depth: int
) -> None:
    plan = await explain(graph, build_query(direction, depth, column=column), name="x")
    assert plan_problems(plan, "Column" if column else "Table") == []


async def test_name_lookups_are_index_seeks(graph: Any) -> None:
    assert plan_problems(await explain(graph, EXISTS_QUERY["table"], name="x"), "Table") == []
    assert plan_problems(await explain(graph, EXISTS_QUERY["column"], name="x"), "Column") == []
    assert plan_problems(await explain(graph, COLUMNS_QUERY, table="x"), "Table") == []
    # (CANDIDATES_QUERY and ALL_TABLES_QUERY scan Table on purpose: only for a name
    # that is not exact, once per call.)


async def test_the_plan_check_catches_a_scan_and_an_unbounded_walk(graph: Any) -> None:
    # The checker itself must be able to fail: no index on Table.title, and no bound.
    unindexed = build_query("upstream", 10, column=False).replace(
        "(:Table {name: $name})", "(:Table {title: $name})"
    )
    problems = plan_problems(await explain(graph, unindexed, name="x"), "Table")
    assert any(p.startswith("scan: NodeByLabelScan") for p in problems), problems
    unbounded = build_query("upstream", 10, column=False).replace("{1,10}", "+")
    problems = plan_problems(await explain(graph, unbounded, name="x"), "Table")
    assert any(p.startswith("unbounded") for p in problems), problems


# Runs the real main() with socket.connect counted (the async driver's sock_connect
# ends in socket.connect too), then prints the count on stderr's last line.
COUNT_CONNECTS = """
import socket, sys
connects = []
real = socket.socket.connect
def connect(sock, address):
    connects.append(address)
    return real(sock, address)
socket.socket.connect = connect
from lineaged.cli.app import main
code = main(sys.argv[1:])
print(f"\\n{code} {len(connects)}", file=sys.stderr)
"""


def _env(neo4j_server: Any) -> dict[str, str]:
    return process_env(neo4j_server)


async def test_a_read_only_command_makes_one_connection(graph: Any, neo4j_server: Any) -> None:
    await graph.execute_query(
        "CREATE (:Table {name: 'raw.a'})<-[:READS]-(:Statement {id: 'f#0', file: 'f'})"
        "-[:WRITES]->(:Table {name: 'mart.b'})"
    )
    for argv in (
        ["lineage", "upstream", "mart.b"],  # exact name, lineage query
        ["lineage", "upstream", "MART.B", "--format", "html"],  # name scan, html view reads
        ["lineage", "downstream", "nothing.here"],  # all-name scan for suggestions
        ["dump", "--check"],
    ):
        done = subprocess.run(
            [sys.executable, "-c", COUNT_CONNECTS, *argv],
            env=_env(neo4j_server),
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        code, connects = done.stderr.splitlines()[-1].split()
        assert code in ("0", "1"), (argv, done.stderr)
        assert connects == "1", (argv, done.stderr)


async def _schema(graph: Any) -> list[tuple[str, ...]]:
    indexes = await graph.execute_query("SHOW INDEXES YIELD name, type RETURN name, type")
    constraints = await graph.execute_query("SHOW CONSTRAINTS YIELD name RETURN name")
    return sorted(tuple(r.values()) for r in [*indexes.records, *constraints.records])


async def test_read_only_commands_do_no_schema_work(graph: Any, neo4j_server: Any) -> None:
    # A graph without lineaged's schema: a command that created it would show here.
    lineaged = {r[0] for r in await _schema(graph) if r[1:] != ("LOOKUP",)}
    for name in lineaged:
        await graph.execute_query(f"DROP CONSTRAINT {name} IF EXISTS")
        await graph.execute_query(f"DROP INDEX {name} IF EXISTS")
    before = await _schema(graph)
    assert all(r[1:] == ("LOOKUP",) for r in before), before
    env = _env(neo4j_server)
    try:
        for argv in (
            ["lineage", "upstream", "raw.a"],
            ["lineage", "downstream", "raw.a", "--column", "x"],
            ["dump"],
            ["dump", "--check"],
            ["status", "--errors"],
        ):
            done = subprocess.run(
                [str(LINEAGED), *argv], env=env, capture_output=True, text=True, timeout=60, cwd="/"
            )
            assert done.returncode in (0, 1), (argv, done.stderr)
        assert await _schema(graph) == before
    finally:
        await ensure_schema(graph, "neo4j")
