"""`lineaged dump [--check]` as a user runs it: the same lines as graph/dump.py, the
integrity check's exit code, and one line with exit 3 when Neo4j cannot be reached
(the connection and error handling it shares with `lineage`, cli/common.ask_graph)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lineaged.deadletters import DeadLetters
from lineaged.extract import extract
from lineaged.graph.dump import dump_lines
from lineaged.graph.writer import GraphWriter
from lineaged.model import FileRef, FileUpdate

LINEAGED = Path(sys.executable).with_name("lineaged")


def run(uri: str, password: str, *args: str, user: str = "neo4j") -> subprocess.CompletedProcess:
    env = {**os.environ, "NEO4J_URI": uri, "NEO4J_USER": user, "NEO4J_PASSWORD": password}
    env.pop("LINEAGED_CONFIG", None)
    return subprocess.run(
        [str(LINEAGED), "dump", *args], env=env, capture_output=True, text=True, timeout=60, cwd="/"
    )


async def test_dump_prints_the_graph_and_check_finds_an_orphan(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    writer = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dl.jsonl"))
    lineage = extract(b"INSERT INTO mart.c SELECT id, amount FROM raw.a", "postgres")
    await writer.write([FileUpdate(FileRef("wh", "c.sql"), "0" * 64, "postgres", lineage)])
    server = (neo4j_server.uri, neo4j_server.password)

    done = run(*server, user=neo4j_server.user)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == await dump_lines(graph)
    assert run(*server, "--check", user=neo4j_server.user).returncode == 0

    await graph.execute_query("CREATE (:Table {name: 'nobody.uses_me'})")
    check = run(*server, "--check", user=neo4j_server.user)
    assert check.returncode == 1
    assert "orphan_tables: nobody.uses_me" in check.stdout
    assert "1 problems" in check.stderr


def test_dump_exits_3_with_one_line_when_neo4j_is_unreachable() -> None:
    dead = run("bolt://127.0.0.1:1", "x")
    assert dead.returncode == 3
    assert dead.stderr.startswith("lineaged dump: cannot reach Neo4j at bolt://127.0.0.1:1")
    assert len(dead.stderr.strip().splitlines()) == 1
