"""Cold ingest at two sizes (issue 14 target 6): does files/s hold as the graph grows?

    .venv/bin/python tests/bench/bench_scale.py [--sizes 10000,100000] [--profile-writes]
                                                [--warm [--warm-times 3]] [--warm-up 3000]

Starts a throw-away Neo4j (scripts/neo4j_local.py). For each size: a fresh tree of
bench_warm_restart's warehouse-style files (`make_tree`), an empty graph and an empty
state directory (no parse cache), then `scan` through the real daemon in-process while
a sampler adds up the RSS of this process and its worker processes every 50 ms (the
Neo4j JVM excluded). Prints, per size: time, files/s, files/s per tenth of the run
(does the rate fall as the graph fills?), node and relationship counts by type, and
peak RSS; then the ratio of files/s between the sizes. `--profile-writes` PROFILEs one
batch's write queries in the graph each size left behind (db hits per row: a missing
index or a non-seek plan shows as hits growing with the graph). `--warm` then restarts
on the largest tree with nothing changed, `--warm-times` times (issue 14 target 2 at
that size; each restart must read, parse and write nothing).

Two things kept the sizes from being compared fairly, and are handled here:
- The first run met a cold JVM (Neo4j's JIT, page cache) and a cold Python: a 10k run
  on a fresh server climbed from ~120 to ~590 files/s within itself. `--warm-up N`
  (default 3,000) first ingests N files of another tree and empties the graph again.
- Wall time follows whatever else the 2 shared cores run. Each run also reports the CPU
  seconds that the daemon, its workers and the Neo4j JVM spent on it, per 1,000 files:
  the work done per file, which the machine's other load hardly changes. A size may be
  given twice (e.g. `10000,100000,10000`) to bracket the large run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from bench_memory import run_sampled
from bench_warm_restart import (
    TimedDaemon,
    empty_graph,
    make_tree,
    model_text,
    neo4j_local,
    settings_for,
)
from neo4j import AsyncGraphDatabase

from lineaged.logging import configure_logging


async def counts(inst: Any) -> tuple[dict[str, int], dict[str, int]]:
    async with AsyncGraphDatabase.driver(inst.uri, auth=(inst.user, inst.password)) as d:
        nodes, _, _ = await d.execute_query(
            "MATCH (n) RETURN labels(n)[0] AS label, count(*) AS n", database_="neo4j"
        )
        rels, _, _ = await d.execute_query(
            "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS n", database_="neo4j"
        )
    return {r["label"]: r["n"] for r in nodes}, {r["type"]: r["n"] for r in rels}


async def warm(work: Path, inst: Any, n: int, name: str, times: int) -> None:
    """Warm restarts of the tree the size-`n` cold ingest left (bench_warm_restart's
    warm phase, here on the large graph without generating it twice). The first one
    meets a Neo4j still busy with the ingest it just took; the later ones are what a
    restart of the daemon next to a settled Neo4j costs."""
    for k in range(times):
        await _warm_once(work, inst, n, name, k + 1)


async def _warm_once(work: Path, inst: Any, n: int, name: str, k: int) -> None:
    state = work / f"state{name}"
    daemon = TimedDaemon(settings_for(state, work / f"sql{name}", inst), oneshot=True)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    assert await daemon.run() == 0
    took = time.perf_counter() - started
    assert daemon.pipeline is not None and daemon.writer is not None
    stats = daemon.pipeline.stats
    assert stats.files_seen == stats.parsed == daemon.writer.stats.transactions == 0, stats
    print(
        f"    warm restart {k} of {n} files (load {load:.1f}): {took:.2f} s  "
        f"{n / took:.0f} files/s  "
        f"read={stats.files_seen} parsed={stats.parsed} "
        f"write_tx={daemon.writer.stats.transactions}; start-up {daemon.startup_s:.2f} s, "
        f"reconcile plan {daemon.reconcile_s:.2f} s ({n / daemon.reconcile_s:.0f} files/s); "
        f"orphan sweep {daemon.orphans.outcome} ({daemon.orphans.reason or 'graph unchanged'}); "
        f"slowest steps (s): {daemon.slowest_steps()}"
    )


class CpuMeter:
    """CPU seconds (user + system) spent by this process, its descendants and the Neo4j
    JVM since the meter was made. A worker that exits keeps its last sampled figure."""

    def __init__(self, neo4j_pid: int) -> None:
        self._neo4j = psutil.Process(neo4j_pid)
        self._base = {p.pid: _cpu(p) for p in self._processes()}
        self._last = dict(self._base)

    def _processes(self) -> list[psutil.Process]:
        me = psutil.Process()
        return [me, self._neo4j, *me.children(recursive=True)]

    def sample(self) -> None:
        for p in self._processes():
            try:
                self._last[p.pid] = _cpu(p)
            except psutil.Error:
                continue

    def seconds(self) -> float:
        self.sample()
        return sum(v - self._base.get(pid, 0.0) for pid, v in self._last.items())


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


async def cold(work: Path, inst: Any, n: int, name: str | None = None) -> dict[str, Any]:
    name = name or str(n)
    root = work / f"sql{name}"
    make_tree(root, n)
    state = work / f"state{name}"
    state.mkdir()
    settings = settings_for(state, root, inst)
    await empty_graph(inst)
    gc.collect()
    daemon = TimedDaemon(settings, oneshot=True)
    progress: list[tuple[float, int, float]] = []
    cpu = CpuMeter(inst.pid)

    def note_progress() -> None:
        if daemon.pipeline is not None:
            written = daemon.pipeline.stats.written
            progress.append((time.perf_counter(), written, cpu.seconds()))
        else:
            cpu.sample()

    started = time.perf_counter()
    took, peak = await run_sampled(daemon, note_progress, every_s=0.05)
    cpu_s = cpu.seconds()
    assert daemon.pipeline is not None and daemon.writer is not None
    assert daemon.pipeline.stats.parsed == n, daemon.pipeline.stats
    return {
        "seconds": took,
        "peak": peak,
        "tenths": tenths(progress, n, started),
        "cpu_tenths": cpu_tenths(progress, n),
        "retries": daemon.writer.stats.retries,
        "transactions": daemon.writer.stats.transactions,
        "rows": daemon.writer.stats.rows,
        "startup": daemon.startup_s,
        "cpu": cpu_s,
    }


def tenths(progress: list[tuple[float, int, float]], n: int, started: float) -> list[float]:
    """files/s over each tenth of the files written (from the start of the scan)."""
    out, mark, last_t, last_w = [], 1, started, 0
    for t, written, _ in progress:
        while mark <= 10 and written >= n * mark / 10:
            out.append((written - last_w) / max(t - last_t, 1e-9))
            last_t, last_w, mark = t, written, mark + 1
    return out


def cpu_tenths(progress: list[tuple[float, int, float]], n: int) -> list[float]:
    """CPU seconds per 1,000 files over each tenth of the files written: does the work
    per file grow as the graph fills, whatever the machine's other load does to the
    wall clock? (The first tenth carries the start-up.)"""
    out, mark, last_c, last_w = [], 1, 0.0, 0
    for _, written, cpu_s in progress:
        while mark <= 10 and written >= n * mark / 10:
            out.append(1000 * (cpu_s - last_c) / max(written - last_w, 1))
            last_c, last_w, mark = cpu_s, written, mark + 1
    return out


async def profile_writes(inst: Any) -> None:
    """PROFILE the replace of 40 new files in the graph as it is now (rolled back)."""
    from lineaged.extract import extract
    from lineaged.graph import queries as q
    from lineaged.graph.rows import build_rows
    from lineaged.model import FileRef, FileUpdate

    updates = [
        FileUpdate(
            FileRef("wh", f"profile/p{i}.sql"),
            f"{i:064x}",
            "postgres",
            extract(model_text(10_000_000 + i), "postgres"),
        )
        for i in range(40)
    ]
    rows = build_rows(updates)
    async with (
        AsyncGraphDatabase.driver(inst.uri, auth=(inst.user, inst.password)) as d,
        d.session(database="neo4j") as s,
        await s.begin_transaction() as tx,
    ):
        for name, cypher, params in (
            ("delete_old", q.DELETE_OLD, {"delete_ids": rows.delete_ids, "removed_ids": []}),
            ("write_new", q.WRITE_NEW, rows.write_new_params()),
        ):
            # The writer's queries take their lists in one map parameter, $p.
            result = await tx.run("PROFILE " + cypher, {"p": params})
            summary = await result.consume()
            hits = _db_hits(summary.profile)
            print(f"    PROFILE {name}: {hits} db hits, {hits / rows.row_count:.1f} per row")
            for op, op_hits in sorted(_ops(summary.profile), key=lambda x: -x[1])[:5]:
                print(f"      {op_hits:8d}  {op}")
        await tx.rollback()


def _db_hits(plan: dict[str, Any]) -> int:
    return plan.get("dbHits", 0) + sum(_db_hits(c) for c in plan.get("children", []))


def _ops(plan: dict[str, Any]) -> list[tuple[str, int]]:
    details = plan.get("args", {}).get("Details", "")
    out = [(f"{plan.get('operatorType', '?')} {details}"[:110], plan.get("dbHits", 0))]
    for c in plan.get("children", []):
        out.extend(_ops(c))
    return out


async def main(
    sizes: list[int], profile: bool, then_warm: bool, warm_up: int, warm_times: int
) -> None:
    configure_logging("warning", "console")
    nl = neo4j_local()
    work = Path(tempfile.mkdtemp(prefix="lineaged-bench-"))
    inst = nl.start("bench-scale", root=work / "neo4j", heap="2g", pagecache="1g")
    runs: list[tuple[int, dict[str, Any]]] = []
    try:
        print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        if warm_up:
            r = await cold(work, inst, warm_up, "warm-up")
            print(f"warm-up: {warm_up} files in {r['seconds']:.1f} s (not compared)")
        for k, n in enumerate(sizes):
            load = os.getloadavg()[0]
            r = await cold(work, inst, n, f"{n}-{k}")
            runs.append((n, r))
            nodes, rels = await counts(inst)
            ingest_s = r["seconds"] - r["startup"]
            print(
                f"{n:7d} files: {r['seconds']:8.1f} s  {n / r['seconds']:7.1f} files/s  "
                f"({n / ingest_s:.1f} files/s after start-up)  "
                f"CPU {r['cpu']:.0f} s = {1000 * r['cpu'] / n:.1f} s per 1,000 files "
                f"(daemon + workers + Neo4j)  load {load:.1f} -> {os.getloadavg()[0]:.1f}\n"
                f"    peak RSS {r['peak'] / 2**20:7.1f} MB (daemon + workers)  "
                f"start-up {r['startup']:.1f} s  write tx {r['transactions']}  "
                f"rows {r['rows']}  deadlock/transient retries {r['retries']}"
            )
            print(f"    files/s per tenth: {' '.join(f'{x:.0f}' for x in r['tenths'])}")
            print(
                "    CPU s per 1,000 files per tenth: "
                f"{' '.join(f'{x:.1f}' for x in r['cpu_tenths'])}"
            )
            print(
                f"    graph: {sum(nodes.values()):,} nodes {dict(sorted(nodes.items()))}; "
                f"{sum(rels.values()):,} relationships {dict(sorted(rels.items()))}"
            )
            if profile:
                await profile_writes(inst)
            if then_warm and n == max(sizes) and k == sizes.index(n):
                await warm(work, inst, n, f"{n}-{k}", warm_times)
            print(f"    load now {os.getloadavg()[0]:.1f}", flush=True)
        large = max(sizes)
        big = next(r for n, r in runs if n == large)
        for n, r in runs:
            if n == large:
                continue
            after_startup = (large / (big["seconds"] - big["startup"])) / (
                n / (r["seconds"] - r["startup"])
            )
            print(
                f"{large} vs {n}: files/s {large / big['seconds'] / (n / r['seconds']):.3f}, "
                f"after start-up {after_startup:.3f}; "
                f"CPU per file {big['cpu'] / large / (r['cpu'] / n):.3f}; "
                f"peak RSS {big['peak'] / r['peak']:.3f}"
            )
    finally:
        nl.stop("bench-scale", root=work / "neo4j")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--profile-writes", action="store_true")
    parser.add_argument(
        "--warm", action="store_true", help="then warm restarts of the largest tree"
    )
    parser.add_argument("--warm-times", type=int, default=3, help="how many warm restarts")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=3000,
        help="files ingested (and the graph emptied) before the measured runs",
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    asyncio.run(main(sizes, args.profile_writes, args.warm, args.warm_up, args.warm_times))
