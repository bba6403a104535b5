"""What the pipeline adds on top of extraction itself (DESIGN.md: cold ingest within 15 %
of a bare loop of the same extraction on the same cores).

    .venv/bin/python tests/bench/bench_ingest_overhead.py [--files 600]

Same warehouse-style files (tests/bench/bench_extract.py's generator), same number of
worker processes, measured in one run:
  bare      ProcessPoolExecutor.map(extract) over the files' bytes, nothing else;
  pipeline  the daemon's Pipeline + PriorityPool (read, hash, graph-state check,
            priority queue, dispatch) with the parse cache off and a writer that only
            counts, i.e. everything but Neo4j;
  writes    the bare results written by GraphWriter alone into an empty graph;
  daemon    `lineaged scan` in-process against a throw-away Neo4j on the same machine
            (the cores are shared with the database), empty graph, no cache.
The floor is bare + writes run one after the other (issue 14 target 1: the scan,
which overlaps them, must take <= 1.0x the floor). Rows per file are printed for
graph model 1 (statement-wide edges on every column) and model 2.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_extract import corpus
from bench_warm_restart import neo4j_local
from neo4j import AsyncGraphDatabase

from lineaged.batcher import Batcher
from lineaged.config import RootSettings, load_settings
from lineaged.daemon import Daemon
from lineaged.deadletters import DeadLetters
from lineaged.extract import EXTRACTOR_VERSION
from lineaged.graph.rows import build_rows
from lineaged.graph.schema import ensure_schema
from lineaged.graph.writer import GraphWriter
from lineaged.logging import configure_logging
from lineaged.model import FileRef, FileUpdate
from lineaged.paths import RootMatcher
from lineaged.pipeline import Pipeline, RootContext
from lineaged.pool import PriorityPool
from lineaged.reconcile import plan_root
from lineaged.worker import extract_task, init_worker
from tests.integration.crash import clear
from tests.integration.graphs import as_model_1

WORKERS = len(os.sched_getaffinity(0))


def bare(paths: list[Path]) -> tuple[float, list[Any]]:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["lineaged.worker"])
    with ProcessPoolExecutor(WORKERS, mp_context=ctx, initializer=init_worker) as ex:
        list(ex.map(_noop, range(WORKERS)))  # start the workers outside the timing
        started = time.perf_counter()
        data = [p.read_bytes() for p in paths]
        n = len(data)
        results = list(
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
        return time.perf_counter() - started, results


def updates_of(paths: list[Path], root: Path, results: list[Any]) -> list[FileUpdate]:
    return [
        FileUpdate(
            FileRef("wh", p.relative_to(root).as_posix()),
            hashlib.sha256(p.read_bytes()).hexdigest(),
            "postgres",
            lineage,
        )
        for p, lineage in zip(paths, results, strict=True)
    ]


async def bare_writes(updates: list[FileUpdate], inst: Any, work: Path) -> float:
    """The same results written by the GraphWriter alone (default settings) into an
    empty graph: the write half of the floor."""
    driver = AsyncGraphDatabase.driver(
        inst.uri, auth=(inst.user, inst.password), notifications_min_severity="OFF"
    )
    try:
        await ensure_schema(driver, "neo4j")
        await clear(driver)
        writer = GraphWriter(driver, "neo4j", DeadLetters(work / "bare-dead.jsonl"))
        await writer.warm_up()
        started = time.perf_counter()
        await writer.write(updates)
        elapsed = time.perf_counter() - started
        assert writer.stats.dead_letters == 0
        await clear(driver)
    finally:
        await driver.close()
    return elapsed


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
        t_bare, results = bare(paths)
        updates = updates_of(paths, root, results)
        model_2 = [build_rows([u]) for u in updates]
        model_1 = [build_rows([as_model_1(u)]) for u in updates]
        rows_1 = sum(r.row_count for r in model_1) / n
        rows_2 = sum(r.row_count for r in model_2) / n
        el_1 = sum(r.element_count for r in model_1) / n
        el_2 = sum(r.element_count for r in model_2) / n
        t_write = await bare_writes(updates, inst, work)
        t_pipe = await pipeline(root)
        t_daemon = await daemon(root, work, inst)
        floor = t_bare + t_write
        print(
            f"rows per file: model 1 {rows_1:.0f}, model 2 {rows_2:.0f} "
            f"({rows_1 / rows_2:.2f}x fewer); nodes + relationships {el_1:.0f} vs {el_2:.0f} "
            f"({el_1 / el_2:.2f}x fewer)"
        )
        print(f"bare extraction loop : {t_bare:7.2f} s  {n / t_bare:6.1f} files/s")
        print(f"bare writes (model 2): {t_write:7.2f} s  {n / t_write:6.1f} files/s")
        print(f"floor = both in turn : {floor:7.2f} s  {n / floor:6.1f} files/s")
        print(
            f"pipeline, no Neo4j   : {t_pipe:7.2f} s  {n / t_pipe:6.1f} files/s  "
            f"{t_pipe / t_bare:.3f} x bare"
        )
        print(
            f"daemon scan + Neo4j  : {t_daemon:7.2f} s  {n / t_daemon:6.1f} files/s  "
            f"{t_daemon / t_bare:.3f} x bare, {t_daemon / floor:.3f} x floor"
        )
    finally:
        nl.stop("bench-overhead", root=work / "neo4j")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=600)
    asyncio.run(main(parser.parse_args().files))
