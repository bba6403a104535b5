"""Cold ingest vs warm restart of the same tree, through the real daemon and Neo4j.

    .venv/bin/python tests/bench/bench_warm_restart.py [--files 20000]

Starts a throw-away Neo4j (scripts/neo4j_local.py), generates a tree of warehouse-style
SQL files with old mtimes, runs `scan` twice (cold: empty graph and cache; warm: nothing
changed) and a third time after deleting the parse cache and the graph (rebuild: every
file parsed again). Prints times, files/s and the ratio, and checks that the warm run
read no file contents, parsed nothing and wrote nothing to Neo4j.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from lineaged.config import load_settings
from lineaged.daemon import Daemon
from lineaged.logging import configure_logging

REPO = Path(__file__).resolve().parents[2]


def neo4j_local():
    spec = importlib.util.spec_from_file_location(
        "neo4j_local", REPO / "scripts" / "neo4j_local.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["neo4j_local"] = module
    spec.loader.exec_module(module)
    return module


def make_tree(root: Path, n: int) -> int:
    old = time.time() - 3600
    total = 0
    for i in range(n):
        path = root / f"domain{i % 20}" / f"model_{i}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        cols = ",\n    ".join(f"s.c{j} AS c{j}" for j in range(8))
        text = (
            f"-- model {i}\nCREATE TABLE mart.m{i} AS\n"
            f"WITH s AS (SELECT * FROM raw.src{i % 50} WHERE ds >= '2024-01-01')\n"
            f"SELECT\n    {cols},\n    d.name\nFROM s\nJOIN raw.dim{i % 10} AS d ON d.id = s.c0;\n"
        )
        path.write_text(text)
        os.utime(path, (old, old))
        total += len(text)
    return total


async def scan(settings) -> tuple[float, Daemon]:
    daemon = Daemon(settings, oneshot=True)
    started = time.perf_counter()
    assert await daemon.run() == 0
    return time.perf_counter() - started, daemon


async def main(n: int) -> None:
    configure_logging("warning", "console")
    nl = neo4j_local()
    work = Path(tempfile.mkdtemp(prefix="lineaged-bench-"))
    inst = nl.start("bench-warm", root=work / "neo4j", heap="1g")
    try:
        root = work / "sql"
        size = make_tree(root, n)
        cfg = work / "config.toml"
        cfg.write_text(
            f'[[roots]]\nname = "wh"\npath = "{root}"\ndialect = "postgres"\n'
            f'[state]\ndir = "{work / "state"}"\n[log]\nlevel = "warning"\n'
        )
        env = {"NEO4J_URI": inst.uri, "NEO4J_USER": inst.user, "NEO4J_PASSWORD": inst.password}
        settings = load_settings(cfg, env=env)
        print(f"corpus: {n} files, {size / 1e6:.1f} MB, {os.cpu_count()} cores")

        cold_s, cold = await scan(settings)
        warm_s, warm = await scan(settings)
        assert cold.pipeline and warm.pipeline and warm.writer
        ws = warm.pipeline.stats
        print(
            f"cold ingest : {cold_s:8.2f} s  {n / cold_s:9.0f} files/s  "
            f"parsed={cold.pipeline.stats.parsed}"
        )
        print(
            f"warm restart: {warm_s:8.2f} s  {n / warm_s:9.0f} files/s  "
            f"read={ws.files_seen} parsed={ws.parsed} write_tx={warm.writer.stats.transactions}"
        )
        print(f"warm / cold : {warm_s / cold_s:.3f}")
        ok = ws.files_seen == 0 and ws.parsed == 0 and warm.writer.stats.transactions == 0
        print("warm restart read, parsed and wrote nothing:", "YES" if ok else "NO")

        # The graph lost, the cache kept: rebuilt without parsing.
        from neo4j import AsyncGraphDatabase

        async with (
            AsyncGraphDatabase.driver(inst.uri, auth=(inst.user, inst.password)) as d,
            d.session() as session,
        ):
            # CALL ... IN TRANSACTIONS needs an auto-commit transaction: session.run.
            result = await session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS")
            await result.consume()
        rebuild_s, rebuild = await scan(settings)
        assert rebuild.pipeline
        rs = rebuild.pipeline.stats
        print(
            f"graph lost, cache kept: {rebuild_s:8.2f} s  parsed={rs.parsed} "
            f"cache_hits={rs.cache_hits}"
            f"  ({rebuild_s / cold_s:.2f} x cold)"
        )
        if not ok:
            sys.exit(1)
    finally:
        nl.stop("bench-warm", root=work / "neo4j")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().files))
