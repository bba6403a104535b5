"""What the pipeline adds on top of extraction itself (DESIGN.md: cold ingest within 15 %
of a bare loop of the same extraction on the same cores).

    .venv/bin/python tests/bench/bench_ingest_overhead.py [--files 600]

Same warehouse-style files (tests/bench/bench_extract.py's generator), same number of
worker processes, measured in one run:
  bare      ProcessPoolExecutor.map(extract) over the files' bytes, nothing else;
  pipeline  the daemon's Pipeline + PriorityPool (read, hash, graph-state check,
            priority queue, dispatch) with the parse cache off and a writer that only
            counts, i.e. everything but Neo4j;
  daemon    `lineaged scan` in-process against a throw-away Neo4j on the same machine
            (the cores are shared with the database).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_extract import corpus
from bench_warm_restart import neo4j_local

from lineaged.batcher import Batcher
from lineaged.config import RootSettings, load_settings
from lineaged.daemon import Daemon
from lineaged.extract import EXTRACTOR_VERSION
from lineaged.logging import configure_logging
from lineaged.model import FileUpdate
from lineaged.paths import RootMatcher
from lineaged.pipeline import Pipeline, RootContext
from lineaged.pool import PriorityPool
from lineaged.reconcile import plan_root
from lineaged.worker import extract_task, init_worker

WORKERS = len(os.sched_getaffinity(0))


def bare(paths: list[Path]) -> float:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["lineaged.worker"])
    with ProcessPoolExecutor(WORKERS, mp_context=ctx, initializer=init_worker) as ex:
        list(ex.map(_noop, range(WORKERS)))  # start the workers outside the timing
        started = time.perf_counter()
        data = [p.read_bytes() for p in paths]
        n = len(data)
        list(
            ex.map(
                extract_task,
                data,
                ["postgres"] * n,
                [None] * n,
                [None] * n,
                [None] * n,
                chunksize=4,
            )
        )
        return time.perf_counter() - started


def _noop(_: int) -> None:
    return None


class CountingWriter:
    def __init__(self) -> None:
        self.files = 0

    async def write(self, updates: list[FileUpdate], *, urgent: bool = False) -> None:
        self.files += len(updates)

    async def file_states(self, _ids: list[str]) -> dict[str, Any]:
        return {}


async def pipeline(root: Path) -> float:
    pool = PriorityPool(
        extract_task, workers=WORKERS, initializer=init_worker, preload=("lineaged.worker",)
    )
    await pool.start()
    writer = CountingWriter()
    settings = RootSettings("wh", root)
    pipe = Pipeline(
        {"wh": RootContext(settings)}, pool, writer, extract_fn_version=EXTRACTOR_VERSION
    )
    backfill = Batcher(debounce_s=0, max_batch=500, max_latency_s=1)
    slots = asyncio.Semaphore(2)
    started = time.perf_counter()

    async def no_graph(_root: str) -> dict[str, Any]:
        return {}

    plan = await plan_root(RootMatcher(settings), no_graph)
    for ev in plan.events:
        backfill.add(ev)
    backfill.close()
    tasks = []
    async for batch in backfill.batches():
        await slots.acquire()

        async def run(b=batch) -> None:
            try:
                await pipe.process(b)
            finally:
                slots.release()

        tasks.append(asyncio.create_task(run()))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    await pool.close()
    assert writer.files == len(plan.events)
    return elapsed


async def daemon(root: Path, work: Path, inst: Any) -> float:
    cfg = work / "config.toml"
    cfg.write_text(
        f'[[roots]]\nname = "wh"\npath = "{root}"\n[cache]\nenabled = false\n'
        f'[state]\ndir = "{work / "state"}"\n[service]\nmetrics_address = ""\n'
        f'[log]\nlevel = "warning"\n'
    )
    env = {"NEO4J_URI": inst.uri, "NEO4J_USER": inst.user, "NEO4J_PASSWORD": inst.password}
    d = Daemon(load_settings(cfg, env=env), oneshot=True)
    started = time.perf_counter()
    await d.run()
    return time.perf_counter() - started


async def main(n: int) -> None:
    configure_logging("warning", "console")
    work = Path(tempfile.mkdtemp(prefix="lineaged-overhead-"))
    nl = neo4j_local()
    inst = nl.start("bench-overhead", root=work / "neo4j", heap="1g")
    try:
        root = work / "sql"
        root.mkdir()
        paths = []
        for i, text in enumerate(corpus(n)):
            p = root / f"m{i}.sql"
            p.write_text(text)
            paths.append(p)
        size = sum(p.stat().st_size for p in paths)
        print(f"{n} files, {size / 1e6:.1f} MB, {WORKERS} workers")
        t_bare = bare(paths)
        t_pipe = await pipeline(root)
        t_daemon = await daemon(root, work, inst)
        print(f"bare extraction loop : {t_bare:7.2f} s  {n / t_bare:6.1f} files/s")
        print(
            f"pipeline, no Neo4j   : {t_pipe:7.2f} s  {n / t_pipe:6.1f} files/s  "
            f"{t_pipe / t_bare:.3f} x bare"
        )
        print(
            f"daemon scan + Neo4j  : {t_daemon:7.2f} s  {n / t_daemon:6.1f} files/s  "
            f"{t_daemon / t_bare:.3f} x bare"
        )
    finally:
        nl.stop("bench-overhead", root=work / "neo4j")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=600)
    asyncio.run(main(parser.parse_args().files))
