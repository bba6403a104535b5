"""The start-up orphan sweep against a real Neo4j (lineaged/orphan_policy.py): skipped
after a clean stop when nobody else wrote since, and run whenever someone else may
have left an orphan (a hand edit while down, another writer while we ran)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from lineaged.daemon import Daemon
from lineaged.graph.dump import integrity_problems
from lineaged.orphan_policy import note_path

from .graphs import query, table_edges, wait_for
from .test_daemon_e2e import settings_for
from .test_warm_restart import make_tree, scan


def _swept(daemon: Daemon) -> bool:
    assert daemon.writer is not None
    sweeps, skipped = daemon.writer.stats.orphan_sweeps, daemon.writer.stats.orphan_sweeps_skipped
    assert sweeps + skipped == 1, (sweeps, skipped)
    return sweeps == 1


async def _ingested(neo4j_server: Any, tmp_path: Path, files: int) -> tuple[Path, Any]:
    """A tree of `files` files, cold-ingested by a scan that stopped cleanly."""
    root = tmp_path / "sql"
    make_tree(root, files)
    settings = settings_for(root, neo4j_server, tmp_path)
    await scan(settings)
    return root, settings


async def test_a_clean_stop_lets_the_next_start_skip_the_sweep(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    make_tree(root, 20)
    settings = settings_for(root, neo4j_server, tmp_path)
    note = note_path(settings.state.dir)

    cold = await scan(settings)
    assert _swept(cold) and cold.orphans.outcome == "swept" and note.exists()
    # The first warm restart after the cold ingest: no sweep.
    warm = await scan(settings)
    assert not _swept(warm) and warm.orphans.outcome == "skipped"
    assert warm.writer is not None and warm.writer.stats.transactions == 0
    assert note.exists()

    # Changes while down are written by the next start (our writes: the counts they
    # report are what the graph's counts moved by), so the start after that skips too.
    (root / "d0" / "f0.sql").write_text("INSERT INTO mart.t0 SELECT a FROM raw.changed")
    (root / "d1" / "f1.sql").unlink()
    (root / "d2" / "new.sql").write_text("INSERT INTO mart.n SELECT x, y FROM raw.s0")
    third = await scan(settings)
    assert not _swept(third) and third.pipeline is not None and third.pipeline.stats.parsed == 2
    assert third.writer is not None and third.writer.stats.transactions >= 1
    assert note.exists(), "our own writes were taken for someone else's"
    assert not _swept(await scan(settings))
    assert await integrity_problems(graph) == {}


async def test_an_orphan_made_by_hand_while_down_is_swept(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    _, settings = await _ingested(neo4j_server, tmp_path, 10)
    assert note_path(settings.state.dir).exists()
    # Nothing added: a column's edges deleted by hand leave it (and nothing else) orphaned.
    await query(
        graph,
        "MATCH (c:Column) WHERE c.table STARTS WITH 'raw.' WITH c ORDER BY c.id LIMIT 1 "
        "MATCH (c)-[r:DERIVES_FROM|INFLUENCED_BY|WRITTEN_BY]-() DELETE r",
    )
    assert set(await integrity_problems(graph)) == {"orphan_columns"}

    warm = await scan(settings)
    assert _swept(warm) and "graph changed" in warm.orphans.reason
    assert await integrity_problems(graph) == {}


async def test_another_writer_while_the_daemon_runs_makes_the_next_start_sweep(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    """A note saved at that stop would hold the graph WITH the other writer's orphan,
    and the next start would skip the sweep: the stop must see that the counts moved
    by more than this daemon's own writes, and save none."""
    _, settings = await _ingested(neo4j_server, tmp_path, 10)
    note = note_path(settings.state.dir)

    daemon = Daemon(settings)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 60)
    assert daemon.orphans.outcome == "skipped"
    # Taken at start: a crash from here on leaves no note for the next start.
    assert not note.exists()
    await query(graph, "CREATE (:Table {name: 'someone.else'})")
    daemon.request_stop("test")
    assert await asyncio.wait_for(task, 60) == 0
    assert not note.exists()

    assert set(await integrity_problems(graph)) == {"orphan_tables"}
    after = await scan(settings)
    assert _swept(after) and after.orphans.reason == "no note of a clean stop"
    assert await integrity_problems(graph) == {}


async def test_live_edits_are_counted_as_the_daemons_own_writes(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    """Live edits go as one auto-commit statement each (a different path from the
    backfill's explicit transactions): their counts too must balance at the stop."""
    root, settings = await _ingested(neo4j_server, tmp_path, 5)

    daemon = Daemon(settings)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 60)
    try:
        (root / "d0" / "f0.sql").write_text("INSERT INTO mart.t0 SELECT a, c FROM raw.live")
        (root / "d0" / "added.sql").write_text("INSERT INTO mart.added SELECT q FROM raw.live")
        (root / "d1" / "f1.sql").unlink()
        await wait_for(
            lambda: table_edges(graph),
            lambda e: (
                ("d0/added.sql", "READS", "raw.live") in e
                and ("d0/f0.sql", "READS", "raw.live") in e
                and not any(path == "d1/f1.sql" for path, _, _ in e)
            ),
        )
    finally:
        daemon.request_stop("test")
        assert await asyncio.wait_for(task, 60) == 0
    assert daemon.writer is not None and daemon.writer.stats.transactions >= 1
    assert note_path(settings.state.dir).exists()
    assert not _swept(await scan(settings))
    assert await integrity_problems(graph) == {}


async def test_every_start_sweeps_when_configured_so(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    _, settings = await _ingested(neo4j_server, tmp_path, 5)
    assert note_path(settings.state.dir).exists()
    every = replace(settings, writer=replace(settings.writer, orphan_sweep="every_start"))
    assert _swept(await scan(every))
