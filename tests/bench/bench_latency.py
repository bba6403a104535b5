"""Edit → graph latency of a live edit, idle vs while a backfill runs (realtime mode).

    .venv/bin/python tests/bench/bench_latency.py [--backfill 20000] [--edits 150]
        [--neo4j-dir /dev/shm]

Starts a throw-away Neo4j (scripts/neo4j_local.py) and the daemon in-process with
--realtime. Phase 1 (idle): edits of one file, each timed from the write() to the moment
its new lineage is visible in Neo4j (polled every 2 ms). Phase 2: the same while the
start-up reconcile backfills N files (LOW priority); only edits that landed while the
backfill was still unfinished count. Prints p50/p99 of both and their ratio, and where
the time went (lineaged/stages.py): per stage p50/p99 over the edits, and the stages of
the edit at the p50 and of the slowest one. `watch` is write() → the watcher's event,
`visible` is the commit → this bench seeing the edit (its 2 ms poll).

`--neo4j-dir` puts the throw-away Neo4j's store elsewhere, e.g. on tmpfs (/dev/shm)
where a commit's fsync of the transaction log costs nothing: a bench-only setting that
shows what the disk's log force adds to an edit (a user's Neo4j keeps its durability).
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
from lineaged.stages import STAGES, StageClock

sys.path.insert(0, str(Path(__file__).parent))
from bench_warm_restart import make_tree, neo4j_local


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def count_files(driver, root: str = "busy") -> int:
    r = await driver.execute_query("MATCH (f:File {root: $r}) RETURN count(f) AS n", r=root)
    return r.records[0]["n"]


Profile = dict[str, float]  # stage → seconds, for one edit


def profile_of(clocks: list[StageClock], started: float, seen: float) -> Profile:
    """The stages of the edit written at `started`: its live batch is the first one
    whose triggering event came after the write."""
    clock = next((c for c in clocks if c.live and c.start >= started), None)
    if clock is None:
        return {}
    out = {"watch": clock.start - started, **clock.durations()}
    out.pop("cache_put", None)  # after the commit (or overlapping the write)
    out["visible"] = max(0.0, seen - clock.marks.get("tx_commit", seen))
    return out


async def edit_latencies(
    driver, live: Path, edits: int, tag: str, until_n: int | None, clocks: list[StageClock]
) -> tuple[list[float], list[Profile]]:
    """Edit `live` `edits` times; return latencies (s) and stage profiles of edits that
    landed while the graph held fewer than `until_n` files (None: all)."""
    out, profiles = [], []
    for i in range(edits):
        table = f"raw.{tag}{i}"
        started = time.monotonic()
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
        seen = time.monotonic()
        if until_n is not None and await count_files(driver) >= until_n:
            break  # the backfill is over: later edits would measure an idle daemon
        out.append(seen - started)
        # Its batch reports its stages once its cache writes are done, after the commit.
        for _ in range(200):
            await asyncio.sleep(0.01)
            profile = profile_of(clocks, started, seen)
            if profile and len(profile) > 2:
                break
        profiles.append(profile)
    return out, profiles


async def run(
    work: Path, inst, backfill: int, edits: int, tag: str
) -> tuple[list[float], list[Profile]]:
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
    clocks: list[StageClock] = []
    observe = daemon.metrics.observe_stages

    backfill_batches: list[StageClock] = []

    def record(clock: StageClock) -> None:
        (clocks if clock.live else backfill_batches).append(clock)
        observe(clock)

    daemon.metrics.observe_stages = record  # type: ignore[method-assign]
    task = asyncio.create_task(daemon.run())
    await daemon.ready.wait()
    async with AsyncGraphDatabase.driver(
        inst.uri, auth=(inst.user, inst.password), notifications_min_severity="OFF"
    ) as driver:
        if backfill:
            while await count_files(driver) < 100:  # backfill under way
                await asyncio.sleep(0.05)
        written_before, started = await count_files(driver), time.monotonic()
        lat, profiles = await edit_latencies(
            driver, root / "live.sql", edits, tag, backfill + 1 if backfill else None, clocks
        )
        written = await count_files(driver) - written_before
        took = time.monotonic() - started
        during = [c for c in backfill_batches if c.end >= started]
        left = backfill + 1 - await count_files(driver) if backfill else 0
    daemon.request_stop("bench")
    await task
    if backfill:
        # The price of live-first: how fast the backfill went on while edits came.
        print(
            f"  backfill while editing: {written} files in {took:.1f} s "
            f"({written / took:.0f} files/s); still pending after the last counted edit: {left}"
        )
        # Where the backfill's batches spent their time meanwhile (seconds summed).
        totals: dict[str, float] = {}
        for c in during:
            for stage, seconds in c.durations().items():
                totals[stage] = totals.get(stage, 0.0) + seconds
        print(
            f"  backfill batches finished while editing: {len(during)}; stage seconds: "
            + ", ".join(f"{k} {v:.1f}" for k, v in sorted(totals.items(), key=lambda kv: -kv[1]))
        )
    return lat, profiles


def top_stage(profile: Profile) -> str:
    if not profile:
        return "no stages"
    stage = max(profile, key=profile.__getitem__)
    return f"{stage} {profile[stage] * 1000:.0f} ms"


def print_profile(name: str, lat: list[float], profiles: list[Profile]) -> None:
    """Per stage p50/p99 (ms) over the edits, then the stages of the edit at the p50
    and of the slowest edit."""
    order = ["watch", *(s for s in STAGES if s != "cache_put"), "visible"]
    seen = [s for s in order if any(s in p for p in profiles)]
    print(f"  {name}: stage        p50 ms   p99 ms   p50-edit   slowest-edit")
    by_latency = sorted(range(len(lat)), key=lat.__getitem__)
    mid, worst = profiles[by_latency[len(by_latency) // 2]], profiles[by_latency[-1]]
    for stage in seen:
        values = [p.get(stage, 0.0) for p in profiles if p]
        print(
            f"    {stage:18s} {pct(values, 0.5) * 1000:7.1f}  {pct(values, 0.99) * 1000:7.1f}"
            f"   {mid.get(stage, 0.0) * 1000:8.1f}   {worst.get(stage, 0.0) * 1000:12.1f}"
        )
    print(
        f"    {'total':18s} {pct(lat, 0.5) * 1000:7.1f}  {pct(lat, 0.99) * 1000:7.1f}"
        f"   {sum(mid.values()) * 1000:8.1f}   {sum(worst.values()) * 1000:12.1f}"
    )


async def main(backfill: int, edits: int, neo4j_dir: str | None) -> None:
    configure_logging("warning", "console")
    nl = neo4j_local()
    work = Path(tempfile.mkdtemp(prefix="lineaged-bench-"))
    store = Path(tempfile.mkdtemp(prefix="lineaged-bench-neo4j-", dir=neo4j_dir)) / "neo4j"
    inst = nl.start("bench-latency", root=store, heap="1g")
    try:
        print(
            f"{os.cpu_count()} cores; edit -> graph latency, realtime mode; {load()}; "
            f"Neo4j store in {store.parent.parent}"
        )
        idle, idle_profiles = await run(work, inst, 0, edits, "idle")
        print(f"  after idle: {load()}")
        busy, busy_profiles = await run(work, inst, backfill, edits, "busy")
        print(f"  after backfill: {load()}")
        for name, lat in (("idle", idle), (f"during {backfill}-file backfill", busy)):
            print(
                f"{name:32s} n={len(lat):3d}  p50={pct(lat, 0.5) * 1000:7.1f} ms  "
                f"p99={pct(lat, 0.99) * 1000:7.1f} ms  mean={statistics.mean(lat) * 1000:7.1f} ms"
            )
        for name, lat, profiles in (
            ("idle", idle, idle_profiles),
            ("backfill", busy, busy_profiles),
        ):
            worst = sorted(range(len(lat)), key=lat.__getitem__)[-3:][::-1]
            print(
                f"  {name}: slowest edits "
                + ", ".join(
                    f"#{i + 1} {lat[i] * 1000:.0f} ms ({top_stage(profiles[i])})" for i in worst
                )
            )
        print(
            f"backfill / idle: p50 {pct(busy, 0.5) / pct(idle, 0.5):.2f}x  "
            f"p99 {pct(busy, 0.99) / pct(idle, 0.99):.2f}x"
        )
        print_profile("idle", idle, idle_profiles)
        print_profile("backfill", busy, busy_profiles)
    finally:
        nl.stop("bench-latency", root=store)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(store.parent, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backfill", type=int, default=20000)
    parser.add_argument("--edits", type=int, default=150)
    parser.add_argument(
        "--neo4j-dir", help="where Neo4j's store goes (default: the temp dir); bench only"
    )
    args = parser.parse_args()
    asyncio.run(main(args.backfill, args.edits, args.neo4j_dir))
