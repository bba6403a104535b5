"""Poison files end to end: real files whose write Neo4j genuinely refuses (a table name
far above the index key size limit) are dead-lettered by the daemon while the rest of
their batch lands in the graph; `lineaged replay` (the real CLI) then writes the ones
that were fixed, removes the ones deleted from disk, and keeps the ones still refused."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from lineaged.config import load_settings
from lineaged.daemon import Daemon
from lineaged.deadletters import DeadLetters

from .configs import config_text, neo4j_env, process_env
from .graphs import query, table_edges

# Neo4j refuses index entries above ~8 KB: every MERGE on this Table name fails.
HUGE = "raw." + "x" * 40_000


def poison(target: str) -> str:
    return f"INSERT INTO {target} SELECT a.id FROM {HUGE} AS a"


def make_tree(root: Path) -> None:
    root.mkdir()
    for i in range(8):
        (root / f"ok{i}.sql").write_text(f"INSERT INTO mart.t{i} SELECT id FROM raw.src")
    (root / "fix_me.sql").write_text(poison("mart.fixed"))
    (root / "gone.sql").write_text(poison("mart.gone"))
    (root / "stays.sql").write_text(poison("mart.stays"))


def write_config(tmp_path: Path, root: Path) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_text(root, tmp_path / "state", workers=1))
    return cfg


def run_replay(cfg: Path, server: Any) -> tuple[int, dict[str, Any]]:
    env = process_env(server)
    proc = subprocess.run(
        [sys.executable, "-m", "lineaged.cli", "replay", "-c", str(cfg), "--json"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return proc.returncode, orjson.loads(proc.stdout)


async def file_node(graph: Any, path: str) -> dict[str, Any] | None:
    rows = await query(
        graph,
        "MATCH (f:File {id: $id}) RETURN f.sha256 AS sha, f.failed_sha256 AS failed, "
        "f.error AS error",
        id=f"wh:{path}",
    )
    return rows[0] if rows else None


async def test_poison_files_dead_lettered_then_replayed(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    make_tree(root)
    cfg = write_config(tmp_path, root)
    env = neo4j_env(neo4j_server)
    daemon = Daemon(load_settings(cfg, env=env), oneshot=True)
    assert await daemon.run() == 0

    # All 11 files were one batch; the 8 good ones are in the graph.
    assert daemon.writer is not None and daemon.writer.stats.splits >= 1
    edges = await table_edges(graph)
    assert {p for p, _r, _t in edges} == {f"ok{i}.sql" for i in range(8)}
    dead = DeadLetters(tmp_path / "state" / "dead_letters.jsonl")
    letters = dead.read()
    assert sorted(d.path for d in letters) == ["fix_me.sql", "gone.sql", "stays.sql"]
    assert all(d.message.startswith("Neo.") for d in letters), letters
    for path in ("fix_me.sql", "gone.sql", "stays.sql"):
        node = await file_node(graph, path)
        assert node is not None and node["sha"] is None and node["failed"] and node["error"]

    # Fix one, delete one, leave one as it is.
    fixed_text = "INSERT INTO mart.fixed SELECT a.id FROM raw.small AS a"
    (root / "fix_me.sql").write_text(fixed_text)
    (root / "gone.sql").unlink()
    code, report = run_replay(cfg, neo4j_server)

    assert code == 1, "a file still failing must be reported"
    assert report["written"] == ["wh:fix_me.sql"]
    assert report["removed"] == ["wh:gone.sql"]
    assert [f["file"] for f in report["failed"]] == ["wh:stays.sql"]
    assert [d.path for d in dead.read()] == ["stays.sql"]

    node = await file_node(graph, "fix_me.sql")
    assert node == {
        "sha": hashlib.sha256(fixed_text.encode()).hexdigest(),
        "failed": None,
        "error": None,
    }
    edges = await table_edges(graph)
    assert {("fix_me.sql", "WRITES", "mart.fixed"), ("fix_me.sql", "READS", "raw.small")} <= edges
    assert await file_node(graph, "gone.sql") is None
    stays = await file_node(graph, "stays.sql")
    assert stays is not None and stays["sha"] is None and stays["failed"]
    tables = {r["n"] for r in await query(graph, "MATCH (t:Table) RETURN t.name AS n")}
    assert "mart.gone" not in tables and "mart.stays" not in tables

    # Once the last one is fixed too, replay clears the file and exits 0.
    (root / "stays.sql").write_text("INSERT INTO mart.stays SELECT 1")
    code, report = run_replay(cfg, neo4j_server)
    assert (code, report["written"], report["failed"]) == (0, ["wh:stays.sql"], [])
    assert dead.read() == []
    assert (await file_node(graph, "stays.sql") or {}).get("sha") is not None


async def test_replay_retries_files_whose_worker_crashed(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    """A crash verdict (the graph holds the error, no content hash) is retried by
    `lineaged replay`, in a worker process, and then written like any file."""
    from lineaged.extract import EXTRACTOR_VERSION
    from lineaged.graph.writer import GraphWriter
    from lineaged.model import FileLineage, FileRef, FileUpdate
    from lineaged.pipeline import CRASH_ERROR

    root = tmp_path / "sql"
    root.mkdir()
    (root / "crashed.sql").write_text("INSERT INTO mart.after_crash SELECT id FROM raw.src")
    cfg = write_config(tmp_path, root)
    # What the daemon writes after the file's worker died twice.
    error = f"{CRASH_ERROR} (worker died twice running this task: ...); retried at the next start"
    lineage = FileLineage("postgres", EXTRACTOR_VERSION, (), error)
    writer = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dl.jsonl"))
    await writer.write([FileUpdate(FileRef("wh", "crashed.sql"), None, "postgres", lineage)])
    assert (await file_node(graph, "crashed.sql"))["error"] == error

    code, report = run_replay(cfg, neo4j_server)
    assert code == 0, report
    assert report["written"] == ["wh:crashed.sql"]
    node = await file_node(graph, "crashed.sql")
    sha = hashlib.sha256((root / "crashed.sql").read_bytes()).hexdigest()
    assert node == {"sha": sha, "failed": None, "error": None}
    assert ("crashed.sql", "WRITES", "mart.after_crash") in await table_edges(graph)
