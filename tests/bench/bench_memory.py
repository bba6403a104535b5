"""Peak RSS of daemon + worker processes with 1,000 vs 20,000 files queued.

    .venv/bin/python tests/bench/bench_memory.py [--small 1000] [--large 20000]

Starts a throw-away Neo4j (scripts/neo4j_local.py), then for each size runs a cold
`scan` (oneshot daemon, in-process) of a fresh tree, so the whole tree is queued by the
start-up reconcile at once, while a sampler adds up the RSS of this process and its
descendants every 20 ms (the Neo4j JVM excluded). Peak RSS should barely move with the
queue length: the queue holds paths; file contents are read only for the batches in
flight.
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
from collections.abc import Callable
from pathlib import Path

import psutil

from lineaged.config import load_settings
from lineaged.daemon import Daemon
from lineaged.logging import configure_logging

sys.path.insert(0, str(Path(__file__).parent))
from bench_warm_restart import make_tree, neo4j_local


def ours_rss(exclude: set[int]) -> int:
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            if child.pid in exclude or "java" in child.name():
                continue
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return total


async def run_sampled(
    daemon: Daemon, on_sample: Callable[[], None], every_s: float = 0.02
) -> tuple[float, int]:
    """Run `daemon` to its end while sampling: (seconds, peak RSS of this process and its
    workers). `on_sample` runs at every sample too."""
    peak = ours_rss(set())
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, ours_rss(set()))
            on_sample()
            await asyncio.sleep(every_s)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    assert await daemon.run() == 0
    took = time.perf_counter() - started
    done.set()
    await sampler
    return took, peak


async def scan(work: Path, inst, n: int) -> tuple[int, int, float, int]:
    root = work / f"sql{n}"
    make_tree(root, n)
    cfg = work / f"c{n}.toml"
    cfg.write_text(
        f'[[roots]]\nname = "r{n}"\npath = "{root}"\n[cache]\nenabled = false\n'
        f'[state]\ndir = "{work / f"state{n}"}"\n[log]\nlevel = "warning"\n'
    )
    env = {"NEO4J_URI": inst.uri, "NEO4J_USER": inst.user, "NEO4J_PASSWORD": inst.password}
    gc.collect()
    baseline = ours_rss(set())
    daemon = Daemon(load_settings(cfg, env=env), oneshot=True)
    max_queued = 0

    def count_queued() -> None:
        nonlocal max_queued
        queued = len(daemon.backfill) + (
            sum(daemon.pool.queue_depth().values()) if daemon.pool else 0
        )
        max_queued = max(max_queued, queued)

    took, peak = await run_sampled(daemon, count_queued)
    assert daemon.pipeline is not None and daemon.pipeline.stats.parsed == n
    return baseline, max(peak, baseline), took, max_queued


async def main(small: int, large: int) -> None:
    configure_logging("warning", "console")
    nl = neo4j_local()
    work = Path(tempfile.mkdtemp(prefix="lineaged-bench-"))
    inst = nl.start("bench-memory", root=work / "neo4j", heap="1g")
    try:
        print(f"{os.cpu_count()} cores; peak RSS of this process + workers (Neo4j excluded)")
        peaks = {}
        for n in (small, large):
            base, peak, took, queued = await scan(work, inst, n)
            peaks[n] = peak
            print(
                f"{n:6d} files: peak {peak / 2**20:7.1f} MB (before start {base / 2**20:6.1f} MB)"
                f"  max queued {queued:6d}  {took:6.1f} s"
            )
        print(f"peak RSS {large} / {small} files: {peaks[large] / peaks[small]:.3f}")
    finally:
        nl.stop("bench-memory", root=work / "neo4j")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(main(args.small, args.large))
