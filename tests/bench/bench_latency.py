"""Edit → graph latency of a live edit, idle vs while a backfill runs (realtime mode).

    .venv/bin/python tests/bench/bench_latency.py [--backfill 5000] [--edits 40]

Starts a throw-away Neo4j (scripts/neo4j_local.py) and the daemon in-process with
--realtime. Phase 1 (idle): edits of one file, each timed from the write() to the moment
its new lineage is visible in Neo4j (polled every 2 ms). Phase 2: the same while the
start-up reconcile backfills N files (LOW priority); only edits that landed while the
backfill was still unfinished count. Prints p50/p99 of both and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from neo4j import AsyncGraphDatabase

from lineaged.config import load_settings
from lineaged.daemon import Daemon
from lineaged.logging import configure_logging

sys.path.insert(0, str(Path(__file__).parent))
from bench_warm_restart import make_tree, neo4j_local


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def count_files(driver, root: str = "busy") -> int:
    r = await driver.execute_query("MATCH (f:File {root: $r}) RETURN count(f) AS n", r=root)
    return r.records[0]["n"]


async def edit_latencies(driver, live: Path, edits: int, tag: str, until_n: int | None):
    """Edit `live` `edits` times; return latencies (s) of edits that landed while the
    graph held fewer than `until_n` files (None: all)."""
    out = []
    for i in range(edits):
        table = f"raw.{tag}{i}"
        started = time.perf_counter()
        live.write_text(f"INSERT INTO mart.live SELECT x FROM {table}")
        while True:
            r = await driver.execute_query(
                "MATCH (:File {id: $id})-[:CONTAINS]->()-[:READS]->(t:Table {name: $t}) "
                "RETURN count(t) AS n",
                t=table,
                id=f"{tag}:live.sql",
            )
            if r.records[0]["n"]:
                break
            await asyncio.sleep(0.002)
        took = time.perf_counter() - started
        if until_n is not None and await count_files(driver) >= until_n:
            break  # the backfill is over: later edits would measure an idle daemon
        out.append(took)
        await asyncio.sleep(0.05)
    return out


async def run(work: Path, inst, backfill: int, edits: int, tag: str) -> list[float]:
    root = work / f"sql-{tag}"
    root.mkdir()
    if backfill:
        make_tree(root, backfill)
    cfg = work / f"{tag}.toml"
    cfg.write_text(
        f'[[roots]]\nname = "{tag}"\npath = "{root}"\n[service]\nmetrics_address = ""\n'
        f'[state]\ndir = "{work / ("state-" + tag)}"\n[log]\nlevel = "warning"\n'
    )
    # LINEAGED_* settings from the caller's environment apply (e.g. writer.rows_per_tx).
    env = {k: v for k, v in os.environ.items() if k.startswith("LINEAGED_")}
    env |= {"NEO4J_URI": inst.uri, "NEO4J_USER": inst.user, "NEO4J_PASSWORD": inst.password}
    daemon = Daemon(load_settings(cfg, env=env, overrides={"realtime": True}))
    task = asyncio.create_task(daemon.run())
    await daemon.ready.wait()
    async with AsyncGraphDatabase.driver(
        inst.uri, auth=(inst.user, inst.password), notifications_min_severity="OFF"
    ) as driver:
        if backfill:
            while await count_files(driver) < 100:  # backfill under way
                await asyncio.sleep(0.05)
        lat = await edit_latencies(
            driver, root / "live.sql", edits, tag, backfill + 1 if backfill else None
        )
        left = backfill + 1 - await count_files(driver) if backfill else 0
    daemon.request_stop("bench")
    await task
    if backfill:
        print(f"  backfill files still pending after the last counted edit: {left}")
    return lat


async def main(backfill: int, edits: int) -> None:
    configure_logging("warning", "console")
    nl = neo4j_local()
    work = Path(tempfile.mkdtemp(prefix="lineaged-bench-"))
    inst = nl.start("bench-latency", root=work / "neo4j", heap="1g")
    try:
        print(f"{os.cpu_count()} cores; edit -> graph latency, realtime mode")
        idle = await run(work, inst, 0, edits, "idle")
        busy = await run(work, inst, backfill, edits, "busy")
        for name, lat in (("idle", idle), (f"during {backfill}-file backfill", busy)):
            print(
                f"{name:32s} n={len(lat):3d}  p50={pct(lat, 0.5) * 1000:7.1f} ms  "
                f"p99={pct(lat, 0.99) * 1000:7.1f} ms  mean={statistics.mean(lat) * 1000:7.1f} ms"
            )
        slowest = max(range(len(idle)), key=idle.__getitem__)
        print(
            f"  idle: slowest edit is #{slowest + 1} of {len(idle)} ({idle[slowest] * 1000:.0f} ms)"
        )
        print(
            f"backfill / idle: p50 {pct(busy, 0.5) / pct(idle, 0.5):.2f}x  "
            f"p99 {pct(busy, 0.99) / pct(idle, 0.99):.2f}x"
        )
    finally:
        nl.stop("bench-latency", root=work / "neo4j")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backfill", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.backfill, args.edits))
