"""Corpus-wide schema through a running daemon on real Neo4j: an upstream edit reaches
the column edges of files that were never touched, and the arrival order of files
does not change the graph."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lineaged.config import load_settings
from lineaged.daemon import Daemon

from .configs import config_text, neo4j_env
from .graphs import dump, query, wait_for

FILES = {
    "raw/orders.sql": "CREATE TABLE raw.orders (id int, amount int);",
    "raw/customers.sql": "CREATE TABLE raw.customers (cid int, name text);",
    "stg/orders.sql": "CREATE VIEW stg.orders AS SELECT * FROM raw.orders;",
    "mart/orders.sql": "CREATE VIEW mart.orders AS SELECT o.*, c.name FROM stg.orders o "
    "JOIN raw.customers c ON c.cid = o.id;",
    "report/daily.sql": "INSERT INTO rep.daily SELECT * FROM mart.orders;",
}


async def derives(graph: Any) -> set[tuple[str, str]]:
    rows = await query(
        graph,
        "MATCH (a:Column)-[r:DERIVES_FROM]->(b:Column) WHERE r.transform = 'DIRECT/IDENTITY' "
        "RETURN a.id AS a, b.id AS b",
    )
    return {(r["a"], r["b"]) for r in rows}


def write(root: Path, rel: str, sql: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql)


@pytest.fixture
async def start(neo4j_server: Any, tmp_path: Path) -> AsyncIterator[Any]:
    tasks: list[tuple[Daemon, asyncio.Task[int]]] = []

    async def starter(root: Path, state: str = "state") -> Daemon:
        cfg = tmp_path / f"{state}.toml"
        # No metrics endpoint: runs of one test follow each other on the same port.
        cfg.write_text(
            config_text(root, tmp_path / state, extra='[service]\nmetrics_address = "0"\n')
        )
        settings = load_settings(cfg, env=neo4j_env(neo4j_server), overrides={"realtime": True})
        daemon = Daemon(settings)
        task = asyncio.create_task(daemon.run())
        await asyncio.wait_for(daemon.ready.wait(), 60)
        tasks.append((daemon, task))
        return daemon

    async def stop(daemon: Daemon) -> None:
        for d, task in tasks:
            if d is daemon:
                daemon.request_stop("test")
                assert await asyncio.wait_for(task, 60) == 0

    starter.stop = stop  # type: ignore[attr-defined]
    yield starter
    for daemon, task in tasks:
        if not task.done():
            daemon.request_stop("test")
            assert await asyncio.wait_for(task, 60) == 0


async def test_upstream_column_change_reaches_untouched_downstream_files(
    graph: Any, start: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    for rel, sql in FILES.items():
        write(root, rel, sql)
    daemon = await start(root)
    await wait_for(
        lambda: derives(graph),
        lambda e: (
            {("rep.daily.amount", "mart.orders.amount"), ("rep.daily.name", "mart.orders.name")}
            <= e
        ),
    )
    downstream_sha = {
        r["path"]: r["sha"]
        for r in await query(graph, "MATCH (f:File) RETURN f.path AS path, f.sha256 AS sha")
    }

    # A column added upstream appears two and three files downstream.
    write(root, "raw/orders.sql", "CREATE TABLE raw.orders (id int, amount int, status text);")
    await wait_for(
        lambda: derives(graph),
        lambda e: (
            {
                ("stg.orders.status", "raw.orders.status"),
                ("mart.orders.status", "stg.orders.status"),
                ("rep.daily.status", "mart.orders.status"),
            }
            <= e
        ),
    )
    # ... and the readers were re-extracted, not edited: their content is unchanged.
    after = {
        r["path"]: r["sha"]
        for r in await query(graph, "MATCH (f:File) RETURN f.path AS path, f.sha256 AS sha")
    }
    assert {p: after[p] for p in FILES if p != "raw/orders.sql"} == {
        p: downstream_sha[p] for p in FILES if p != "raw/orders.sql"
    }

    # A column removed upstream disappears downstream.
    write(root, "raw/orders.sql", "CREATE TABLE raw.orders (id int, status text);")
    await wait_for(
        lambda: derives(graph),
        lambda e: (
            ("rep.daily.amount", "mart.orders.amount") not in e
            and ("rep.daily.status", "mart.orders.status") in e
        ),
    )
    assert daemon.schema.stats.requeued >= 6


async def settled_dump(graph: Any, daemon: Daemon) -> dict[str, Any]:
    """The graph once the daemon has been quiet for a while."""
    last: dict[str, Any] | None = None
    quiet = 0
    while quiet < 6:
        await asyncio.sleep(0.5)
        current = await dump(graph)
        busy = len(daemon.live) or len(daemon.backfill) or daemon._batches_open
        quiet = quiet + 1 if current == last and not busy else 0
        last = current
    assert last is not None
    return last


async def test_shuffled_arrival_order_gives_the_same_graph(
    graph: Any, start: Any, tmp_path: Path, neo4j_server: Any
) -> None:
    dumps = []
    requeued = 0
    for run, seed in enumerate((1, 2, 3)):
        await graph.execute_query("MATCH (n) DETACH DELETE n", database_=neo4j_server.database)
        root = tmp_path / f"sql{run}"
        root.mkdir()
        daemon = await start(root, state=f"state{run}")
        order = list(FILES)
        random.Random(seed).shuffle(order)
        for rel in order:  # live edits, one at a time: each its own batch
            write(root, rel, FILES[rel])
            await asyncio.sleep(0.3)
        dumps.append(await settled_dump(graph, daemon))
        requeued += daemon.schema.stats.requeued
        await start.stop(daemon)
    # Some reader arrived before its upstream and was redone: the orders really differed.
    assert requeued > 0
    for other in dumps[1:]:
        assert other["column_edges"] == dumps[0]["column_edges"]
        assert other["columns"] == dumps[0]["columns"]
        assert other["edges"] == dumps[0]["edges"]
    assert any(
        e["a"] == "rep.daily.amount" and e["b"] == "mart.orders.amount"
        for e in dumps[0]["column_edges"]
    )
