"""A live edit overtakes a backfill: while the start-up reconcile of thousands of files
is still running (LOW), an edit (HIGH) reaches the graph. Correctness, not timing: the
edit must be in the graph while the backfill has not finished."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .graphs import query, table_edges, wait_for
from .test_watcher_editing import make_settings, running

BACKFILL = 3000


async def count_files(graph: Any) -> int:
    rows = await query(graph, "MATCH (f:File) RETURN count(f) AS n")
    return rows[0]["n"]


async def test_live_edit_overtakes_the_backfill(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    (root / "backfill").mkdir(parents=True)
    old = time.time() - 3600
    for i in range(BACKFILL):
        p = root / "backfill" / f"m{i}.sql"
        p.write_text(f"INSERT INTO mart.m{i} SELECT a, b FROM raw.s{i % 40} WHERE c > {i}")
        os.utime(p, (old, old))
    async with running(make_settings(root, neo4j_server, tmp_path)):
        await wait_for(lambda: count_files(graph), lambda n: n >= 50, timeout=60)
        (root / "live.sql").write_text("INSERT INTO mart.live SELECT x FROM raw.edit")
        await wait_for(lambda: table_edges(graph), lambda e: ("live.sql", "READS", "raw.edit") in e)
        in_graph = await count_files(graph)
        assert in_graph < BACKFILL + 1, "the backfill finished before the live edit landed"
        await wait_for(lambda: count_files(graph), lambda n: n == BACKFILL + 1, timeout=150)
