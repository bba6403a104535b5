"""Neo4j goes away in the middle of a backfill: the daemon stalls (back-pressure), says
so, drops nothing, and once Neo4j is back the graph equals a clean ingest of the same
tree, with no dead letters.

A real daemon (watchless one-shot scan, real worker processes) ingests a generated tree
of a few thousand files with shared tables and column edges; the session's Neo4j is
stopped (clean shutdown) or killed (SIGKILL, store recovery on start) part-way through.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from lineaged.config import Settings, load_settings
from lineaged.daemon import Daemon
from lineaged.deadletters import DeadLetters
from lineaged.graph.writer import GraphWriter

from .configs import config_text, neo4j_env
from .graphs import dump, query, wait_for

FILES = 2000


def write_tree(root: Path, n: int) -> None:
    """Small files that share source tables and columns, like a real warehouse."""
    for i in range(n):
        d = root / f"d{i % 20}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"m{i}.sql").write_text(
            f"INSERT INTO mart.t{i} (id, v, w)\n"
            f"SELECT a.id, b.v{i % 7}, a.amount * 2\n"
            f"FROM raw.s{i % 50} AS a JOIN raw.d{i % 13} AS b ON a.id = b.id\n"
            f"WHERE a.kind = 'k{i % 3}';\n"
            f"SELECT id FROM mart.t{i};\n"
        )


def settings_for(root: Path, server: Any, state: Path) -> Settings:
    cfg = state / "config.toml"
    state.mkdir(parents=True, exist_ok=True)
    extra = "[batch]\nmax_batch = 50\n\n[writer]\nbackoff_max_s = 1.0\n"
    cfg.write_text(config_text(root, state, extra=extra))
    return load_settings(cfg, env=neo4j_env(server))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fault-tree")
    write_tree(root, FILES)
    return root


_REFERENCE: dict[str, Any] = {}


async def reference_dump(graph: Any, tree: Path, server: Any, state: Path) -> dict[str, Any]:
    """The graph of an undisturbed ingest of `tree` (computed once per module)."""
    if "dump" not in _REFERENCE:
        await graph.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
        daemon = Daemon(settings_for(tree, server, state), oneshot=True)
        assert await asyncio.wait_for(daemon.run(), 120) == 0
        assert daemon.writer is not None and daemon.writer.stats.dead_letters == 0
        _REFERENCE["dump"] = await dump(graph)
        await graph.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
    return _REFERENCE["dump"]


@pytest.mark.parametrize(("how", "down_s"), [("stop", 20.0), ("kill", 5.0)])
async def test_neo4j_outage_mid_ingest_loses_nothing(
    graph: Any,
    neo4j_server: Any,
    neo4j_instance_control: Any,
    tree: Path,
    tmp_path: Path,
    how: str,
    down_s: float,
) -> None:
    reference = await reference_dump(graph, tree, neo4j_server, tmp_path / "ref")
    assert len(reference["files"]) == FILES
    assert reference["column_edges"], "the tree should produce column lineage"

    state = tmp_path / "fault"
    daemon = Daemon(settings_for(tree, neo4j_server, state), oneshot=True)
    run = asyncio.create_task(daemon.run())
    await wait_for(lambda: _files_written(daemon), lambda n: n >= FILES // 10, timeout=120)

    # Stop/kill/start block (they wait for the JVM); the daemon's loop keeps running.
    outage = getattr(neo4j_instance_control, how)
    await asyncio.to_thread(outage)
    down_at = time.monotonic()
    writer = daemon.writer
    assert writer is not None
    at_stop = writer.stats.files
    assert at_stop < FILES and not run.done(), "the ingest finished before Neo4j went down"

    # Back-pressure: the daemon waits, says so, and commits nothing while Neo4j is away.
    await wait_for(lambda: _state(writer), lambda s: s == "waiting_for_neo4j", timeout=30)
    assert "waiting for Neo4j" in daemon.status_line()
    snap = writer.snapshot()
    assert snap["state"] == "waiting_for_neo4j" and snap["retries"] > 0
    assert snap["last_error"]
    await asyncio.sleep(max(0.0, down_s - (time.monotonic() - down_at)))
    assert not run.done(), "the daemon gave up (or dropped work) while Neo4j was down"
    assert writer.stats.files == at_stop
    assert writer.stats.dead_letters == 0

    await asyncio.to_thread(neo4j_instance_control.start)
    assert await asyncio.wait_for(run, 180) == 0

    assert writer.stats.state == "ok"
    assert writer.stats.dead_letters == 0
    assert DeadLetters(state / "dead_letters.jsonl").read() == []
    assert writer.stats.sessions_open == 0, "a session was leaked across the outage"
    after = await dump(graph)
    assert after["files"] == reference["files"]
    assert after == reference


async def _files_written(daemon: Daemon) -> int:
    return daemon.writer.stats.files if daemon.writer is not None else 0


async def _state(writer: GraphWriter) -> str:
    return writer.stats.state


async def test_reads_wait_for_neo4j_too(
    graph: Any, neo4j_instance_control: Any, tmp_path: Path
) -> None:
    """Reconcile and the unchanged-file check read the graph: they stall, not fail."""
    writer = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))
    await graph.execute_query(
        "CREATE (:File {id: 'r:a.sql', root: 'r', path: 'a.sql', sha256: 'x'})",
        database_="neo4j",
    )
    await asyncio.to_thread(neo4j_instance_control.stop)
    listing = asyncio.create_task(writer.root_files("r"))
    await wait_for(lambda: _state(writer), lambda s: s == "waiting_for_neo4j", timeout=30)
    assert not listing.done()
    await asyncio.to_thread(neo4j_instance_control.start)
    files = await asyncio.wait_for(listing, 60)
    assert files == {"a.sql": ("x", None, None)}
    assert writer.stats.state == "ok" and writer.stats.retries > 0
    assert (await query(graph, "MATCH (f:File) RETURN count(f) AS n")) == [{"n": 1}]
