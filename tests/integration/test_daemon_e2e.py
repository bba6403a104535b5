"""The whole pipeline: a real watchdog observer, worker processes and Neo4j. Files are
created, modified, renamed and deleted under a watched temp directory, and each change
is asserted on the graph with a bounded wait."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lineaged.config import load_settings
from lineaged.daemon import Daemon

from .configs import config_text, neo4j_env
from .graphs import table_edges, wait_for


def settings_for(root: Path, server: Any, tmp_path: Path, **overrides: Any):
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_text(root, tmp_path / "state"))
    return load_settings(cfg, env=neo4j_env(server), overrides={"realtime": True, **overrides})


@pytest.fixture
async def running(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> AsyncIterator[tuple[Daemon, Path]]:
    root = tmp_path / "sql"
    (root / "marts").mkdir(parents=True)
    (root / "marts" / "existing.sql").write_text("INSERT INTO mart.e SELECT a FROM raw.e")
    daemon = Daemon(settings_for(root, neo4j_server, tmp_path))
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 60)
    try:
        yield daemon, root
    finally:
        daemon.request_stop("test")
        assert await asyncio.wait_for(task, 60) == 0


async def test_create_modify_rename_delete_reach_the_graph(
    running: tuple[Daemon, Path], graph: Any
) -> None:
    _daemon, root = running

    async def edges() -> set[tuple[str, str, str]]:
        return await table_edges(graph)

    # The file that existed before start-up arrives through the reconcile.
    await wait_for(edges, lambda e: ("marts/existing.sql", "WRITES", "mart.e") in e)

    orders = root / "marts" / "orders.sql"
    orders.write_text(
        "WITH o AS (SELECT * FROM raw.orders)\n"
        "INSERT INTO mart.orders SELECT o.id, c.name FROM o JOIN raw.customers c ON c.id = o.cid"
    )
    await wait_for(
        edges,
        lambda e: (
            {
                ("marts/orders.sql", "WRITES", "mart.orders"),
                ("marts/orders.sql", "READS", "raw.orders"),
                ("marts/orders.sql", "READS", "raw.customers"),
            }
            <= e
        ),
    )
    assert not any(t == "o" for _p, _r, t in await edges()), "a CTE was reported as a table"

    orders.write_text("INSERT INTO mart.orders SELECT id FROM raw.orders_v2")
    await wait_for(
        edges,
        lambda e: (
            ("marts/orders.sql", "READS", "raw.orders_v2") in e
            and ("marts/orders.sql", "READS", "raw.customers") not in e
        ),
    )

    renamed = root / "marts" / "orders_renamed.sql"
    os.rename(orders, renamed)
    await wait_for(
        edges,
        lambda e: (
            ("marts/orders_renamed.sql", "READS", "raw.orders_v2") in e
            and not any(p == "marts/orders.sql" for p, _r, _t in e)
        ),
    )

    renamed.unlink()
    await wait_for(edges, lambda e: not any(p == "marts/orders_renamed.sql" for p, _r, _t in e))
    tables = await graph.execute_query("MATCH (t:Table) RETURN t.name AS n", database_="neo4j")
    assert {r["n"] for r in tables.records} == {"mart.e", "raw.e"}, "orphan tables left behind"


async def test_restart_reconciles_changes_made_while_down(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    (root / "a.sql").write_text("INSERT INTO t.a SELECT 1 FROM s.a")
    (root / "b.sql").write_text("INSERT INTO t.b SELECT 1 FROM s.b")
    settings = settings_for(root, neo4j_server, tmp_path)
    assert await Daemon(settings, oneshot=True).run() == 0
    assert {p for p, _r, _t in await table_edges(graph)} == {"a.sql", "b.sql"}

    # While "down": one file deleted, one changed, one added.
    (root / "a.sql").unlink()
    (root / "b.sql").write_text("INSERT INTO t.b SELECT 1 FROM s.b2")
    (root / "c.sql").write_text("INSERT INTO t.c SELECT 1 FROM s.c")
    second = Daemon(settings, oneshot=True)
    assert await second.run() == 0
    assert await table_edges(graph) == {
        ("b.sql", "WRITES", "t.b"),
        ("b.sql", "READS", "s.b2"),
        ("c.sql", "WRITES", "t.c"),
        ("c.sql", "READS", "s.c"),
    }

    third = Daemon(settings, oneshot=True)
    assert await third.run() == 0
    assert third.pipeline is not None
    assert third.pipeline.stats.parsed == 0, "an unchanged tree was parsed again"
    assert third.writer is not None and third.writer.stats.transactions == 0
