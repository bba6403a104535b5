"""`lineaged lineage` against the real Neo4j, on a small chain ingested by the writer:
raw.a → stg.b → mart.c → rpt.d (tables and columns)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from lineaged.deadletters import DeadLetters
from lineaged.extract import EXTRACTOR_VERSION, extract
from lineaged.graph.writer import GraphWriter
from lineaged.model import FileRef, FileUpdate

from .configs import process_env

LINEAGED = Path(sys.executable).with_name("lineaged")

CHAIN = {
    "stg_b.sql": "INSERT INTO stg.b SELECT id, amount FROM raw.a",
    "mart_c.sql": "INSERT INTO mart.c SELECT b.id, b.amount * 2 AS amount FROM stg.b AS b",
    "rpt_d.sql": "INSERT INTO rpt.d SELECT id, sum(amount) AS amount FROM mart.c GROUP BY id",
}


@pytest.fixture
async def chain(graph: Any, tmp_path: Path) -> Any:
    writer = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dl.jsonl"))
    updates = []
    for path, text in CHAIN.items():
        lineage = extract(text.encode(), "postgres")
        assert lineage.extractor_version == EXTRACTOR_VERSION
        updates.append(FileUpdate(FileRef("wh", path), "0" * 64, "postgres", lineage))
    await writer.write(updates)
    return graph


def run(neo4j_server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = process_env(neo4j_server)
    return subprocess.run(
        [str(LINEAGED), "lineage", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",  # no ./config.toml: connection from NEO4J_* only
    )


def edges(out: str) -> set[tuple[str, str, int]]:
    return {(e["source"], e["target"], e["depth"]) for e in orjson.loads(out)["edges"]}


async def test_table_upstream_and_downstream(chain: Any, neo4j_server: Any) -> None:
    up = run(neo4j_server, "upstream", "rpt.d", "--format", "json")
    assert up.returncode == 0, up.stderr
    assert edges(up.stdout) == {
        ("mart.c", "rpt.d", 1),
        ("stg.b", "mart.c", 2),
        ("raw.a", "stg.b", 3),
    }
    shallow = run(neo4j_server, "upstream", "rpt.d", "--depth", "1", "--format", "json")
    assert edges(shallow.stdout) == {("mart.c", "rpt.d", 1)}
    down = run(neo4j_server, "downstream", "raw.a", "--format", "json")
    assert edges(down.stdout) == {
        ("raw.a", "stg.b", 1),
        ("stg.b", "mart.c", 2),
        ("mart.c", "rpt.d", 3),
    }
    files = orjson.loads(down.stdout)["edges"][0]["files"]
    assert files == ["wh:stg_b.sql"]


async def test_column_lineage_and_formats(chain: Any, neo4j_server: Any) -> None:
    up = run(neo4j_server, "upstream", "rpt.d", "--column", "amount", "--format", "json")
    assert up.returncode == 0, up.stderr
    assert ("raw.a.amount", "stg.b.amount", 3) in edges(up.stdout)
    assert ("mart.c.amount", "rpt.d.amount", 1) in edges(up.stdout)
    table = run(neo4j_server, "upstream", "rpt.d", "--column", "amount")
    assert "raw.a.amount" in table.stdout and "DIRECT/" in table.stdout
    dot = run(neo4j_server, "downstream", "raw.a", "--format", "dot")
    assert '"stg.b" -> "mart.c";' in dot.stdout and dot.stdout.startswith("digraph")
    mermaid = run(neo4j_server, "downstream", "raw.a", "--format", "mermaid")
    assert mermaid.stdout.startswith("flowchart LR") and '["rpt.d"]' in mermaid.stdout


async def test_unknown_name_and_unreachable_neo4j(chain: Any, neo4j_server: Any) -> None:
    missing = run(neo4j_server, "upstream", "no.such_table")
    assert missing.returncode == 1 and "no table named" in missing.stderr
    leaf = run(neo4j_server, "upstream", "raw.a")
    assert leaf.returncode == 0 and "no upstream lineage" in leaf.stdout
    dead = subprocess.run(
        [str(LINEAGED), "lineage", "upstream", "x"],
        env={**os.environ, "NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_PASSWORD": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dead.returncode == 3 and "cannot reach Neo4j" in dead.stderr


async def test_name_in_any_case_or_by_unique_suffix_and_suggestions(
    chain: Any, neo4j_server: Any
) -> None:
    upper = run(neo4j_server, "upstream", "RPT.D", "--format", "json")
    assert upper.returncode == 0, upper.stderr
    assert ("mart.c", "rpt.d", 1) in edges(upper.stdout)
    assert "'RPT.D' is 'rpt.d'" in upper.stderr
    suffix = run(neo4j_server, "downstream", "a", "--column", "AMOUNT", "--format", "json")
    assert suffix.returncode == 0, suffix.stderr
    assert ("raw.a.amount", "stg.b.amount", 1) in edges(suffix.stdout)
    typo = run(neo4j_server, "upstream", "mart.cc")
    assert typo.returncode == 1
    assert "no table named 'mart.cc' in the graph; did you mean 'mart.c'" in typo.stderr
    column = run(neo4j_server, "upstream", "rpt.d", "--column", "amuont")
    assert column.returncode == 1 and "did you mean 'amount'" in column.stderr
