"""What editors and tools really do, through a running Daemon (real watchdog observer,
worker processes, Neo4j), each ending with the graph in the right state."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lineaged.config import load_settings
from lineaged.daemon import Daemon
from lineaged.model import Change, FileEvent, FileRef

from .configs import neo4j_env
from .graphs import query, table_edges, wait_for


def make_settings(root: Path, server: Any, tmp_path: Path, root_extra: str = "", **over: Any):
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[[roots]]
name = "wh"
path = "{root}"
{root_extra}

[pool]
workers = 2

[service]
metrics_address = ""

[state]
dir = "{tmp_path / "state"}"
"""
    )
    env = neo4j_env(server)
    return load_settings(cfg, env=env, overrides={"realtime": True, **over})


@asynccontextmanager
async def running(settings: Any) -> AsyncIterator[Daemon]:
    daemon = Daemon(settings)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 60)
    try:
        yield daemon
    finally:
        daemon.request_stop("test")
        assert await asyncio.wait_for(task, 60) == 0


async def files(graph: Any) -> dict[str, str | None]:
    rows = await query(graph, "MATCH (f:File) RETURN f.path AS p, f.error AS e")
    return {r["p"]: r["e"] for r in rows}


def has(edges: set[tuple[str, str, str]], *want: tuple[str, str, str]) -> bool:
    return set(want) <= edges


async def wait_edges(graph: Any, pred: Callable[[set[tuple[str, str, str]]], bool]) -> None:
    await wait_for(lambda: table_edges(graph), pred)


def sql(target: str, source: str) -> str:
    return f"INSERT INTO {target} SELECT id FROM {source}"


async def test_atomic_save_replaces_the_file(graph: Any, neo4j_server: Any, tmp_path: Path) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    target = root / "orders.sql"
    target.write_text(sql("mart.orders", "raw.v1"))
    async with running(make_settings(root, neo4j_server, tmp_path)):
        await wait_edges(graph, lambda e: ("orders.sql", "READS", "raw.v1") in e)
        # The temp file matches the include glob on purpose: it must leave no trace.
        tmp = root / ".orders.sql.tmp.sql"
        tmp.write_text(sql("mart.orders", "raw.v2"))
        os.replace(tmp, target)
        await wait_edges(
            graph,
            lambda e: (
                ("orders.sql", "READS", "raw.v2") in e
                and ("orders.sql", "READS", "raw.v1") not in e
            ),
        )
        await asyncio.sleep(1.0)  # let any late event for the temp file land
        assert set(await files(graph)) == {"orders.sql"}


async def test_move_in_and_out_of_the_root(graph: Any, neo4j_server: Any, tmp_path: Path) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "in.sql").write_text(sql("t.in", "s.in"))
    (root / "stay.sql").write_text(sql("t.stay", "s.stay"))
    (root / "leave.sql").write_text(sql("t.leave", "s.leave"))
    async with running(make_settings(root, neo4j_server, tmp_path)):
        await wait_for(lambda: files(graph), lambda f: set(f) == {"stay.sql", "leave.sql"})
        shutil.move(outside / "in.sql", root / "in.sql")
        shutil.move(root / "leave.sql", outside / "leave.sql")
        await wait_for(lambda: files(graph), lambda f: set(f) == {"stay.sql", "in.sql"})
        await wait_edges(graph, lambda e: ("in.sql", "WRITES", "t.in") in e)
        names = await query(graph, "MATCH (t:Table) RETURN t.name AS n")
        assert "t.leave" not in {r["n"] for r in names}, "a moved-out file left its tables"


async def test_directory_rename_and_delete(graph: Any, neo4j_server: Any, tmp_path: Path) -> None:
    root = tmp_path / "sql"
    for d in ("d/sub", "rm/sub", "out"):
        (root / d).mkdir(parents=True)
    for d in ("d", "d/sub", "rm", "rm/sub", "out"):
        for i in range(3):
            (root / d / f"f{i}.sql").write_text(sql(f"t.{d.replace('/', '_')}{i}", "s.x"))
    elsewhere = tmp_path / "elsewhere"
    async with running(make_settings(root, neo4j_server, tmp_path)):
        await wait_for(lambda: files(graph), lambda f: len(f) == 15)
        os.rename(root / "d", root / "e")  # rename inside the root
        shutil.rmtree(root / "rm")  # delete
        shutil.move(root / "out", elsewhere)  # moved out: one event for the directory
        want = {f"e/f{i}.sql" for i in range(3)} | {f"e/sub/f{i}.sql" for i in range(3)}
        await wait_for(lambda: files(graph), lambda f: set(f) == want, timeout=60)
        # The renamed files kept their lineage under their new paths.
        await wait_edges(graph, lambda e: ("e/sub/f1.sql", "WRITES", "t.d_sub1") in e)


async def test_vanishing_files(graph: Any, neo4j_server: Any, tmp_path: Path) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    (root / "keep.sql").write_text(sql("t.keep", "s.keep"))
    (root / "gone.sql").write_text(sql("t.gone", "s.gone"))
    async with running(make_settings(root, neo4j_server, tmp_path)) as daemon:
        await wait_for(lambda: files(graph), lambda f: set(f) == {"keep.sql", "gone.sql"})
        # A file that vanishes between its event and the read: the event is handed to
        # the pipeline after the file is already gone (the pipeline reads at dispatch).
        path = root / "gone.sql"
        path.unlink()
        daemon.live.add(FileEvent(FileRef("wh", "gone.sql"), str(path), Change.CHANGED))
        # Born and gone at once, many times: never an error, never a File node.
        for i in range(50):
            flash = root / f"flash{i}.sql"
            flash.write_text(sql("t.flash", "s.flash"))
            flash.unlink()
        await wait_for(lambda: files(graph), lambda f: set(f) == {"keep.sql"})
        await asyncio.sleep(1.0)
        assert await files(graph) == {"keep.sql": None}
        assert daemon.writer is not None and daemon.writer.stats.dead_letters == 0


async def test_symlinks(graph: Any, neo4j_server: Any, tmp_path: Path) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    outside = tmp_path / "shared"
    outside.mkdir()
    (outside / "o.sql").write_text(sql("t.out", "s.out"))
    (root / "real.sql").write_text(sql("t.real", "s.real"))
    os.symlink(outside / "o.sql", root / "startup_out.sql")
    async with running(make_settings(root, neo4j_server, tmp_path)):
        await wait_for(lambda: files(graph), lambda f: set(f) == {"real.sql"})
        os.symlink(root / "real.sql", root / "alias.sql")  # inside the root: followed
        os.symlink(outside / "o.sql", root / "live_out.sql")  # outside: ignored
        # A file replaced by a link out of the root leaves the graph.
        (root / "swap.sql").write_text(sql("t.swap", "s.swap"))
        await wait_for(
            lambda: files(graph), lambda f: set(f) == {"real.sql", "alias.sql", "swap.sql"}
        )
        (root / "swap.sql").unlink()
        os.symlink(outside / "o.sql", root / "swap.sql")
        await wait_for(lambda: files(graph), lambda f: set(f) == {"real.sql", "alias.sql"})
        await asyncio.sleep(1.0)
        assert set(await files(graph)) == {"real.sql", "alias.sql"}


async def test_symlinks_out_of_the_root_when_configured(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    outside = tmp_path / "shared"
    outside.mkdir()
    (outside / "o.sql").write_text(sql("t.out", "s.out"))
    os.symlink(outside / "o.sql", root / "startup_out.sql")
    settings = make_settings(root, neo4j_server, tmp_path, "follow_symlinks = true")
    async with running(settings):
        await wait_for(lambda: files(graph), lambda f: set(f) == {"startup_out.sql"})
        os.symlink(outside / "o.sql", root / "live_out.sql")
        await wait_for(
            lambda: files(graph), lambda f: set(f) == {"startup_out.sql", "live_out.sql"}
        )
