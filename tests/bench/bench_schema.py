"""Corpus-wide schema: how much extraction a cold ingest and an upstream change cost.

    .venv/bin/python tests/bench/bench_schema.py [--files 600] [--batch 100] [--seed 1]
    .venv/bin/python tests/bench/bench_schema.py --overhead [--files 600]
    .venv/bin/python tests/bench/bench_schema.py --real DIR DIALECT

A generated tree where most files `SELECT *` from the table another file defines:
~8 % base tables (CREATE TABLE with 12-20 typed columns), the rest views, CTAS and
INSERTs that read one or two upstream files (`SELECT *`, `t.*` over a join, an added
column). File names are random, so path order says nothing about dependency order.

Measured in one run, extraction in-process (the daemon's Pipeline and SchemaStage, a
writer that remembers file states, the pool replaced by an in-process extractor that
counts calls and their CPU time):
  once       every file extracted exactly once, in dependency order, with the final
             catalog (the floor: no ordering or re-extraction cost);
  cold       the daemon's cold start: reconcile events ordered by `order_events`,
             batches of --batch files, two batches in flight (as the daemon's
             backfill), then whatever the catalog re-queues;
  unordered  the same with events in path order (what ordering saves);
  change     one base table gains a column: files re-extracted vs the files that
             really depend on it (transitive readers, from the generator's graph).

`--overhead`: what the stage costs where there is nothing to resolve across files:
bench_extract.py's warehouse-style files through the real worker pool, the daemon's
Pipeline with and without the SchemaStage (incl. `order_events`), alternating runs,
wall time.

`--real DIR DIALECT`: a real tree (e.g. a `fetch`ed repository, never committed here)
extracted file by file vs resolved together (`lineaged extract DIR`'s fixpoint):
unresolved references, unresolved stars, column edges, extractions, CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))

from test_catalog_stage import StateWriter

from lineaged.catalog.stage import SchemaStage, order_events
from lineaged.config import RootSettings
from lineaged.extract import EXTRACTOR_VERSION, extract
from lineaged.model import Change, FileEvent, FileRef, Priority
from lineaged.pipeline import Pipeline, RootContext


@dataclass
class Tree:
    files: dict[str, str]  # path -> sql
    table_of: dict[str, str]  # path -> table it writes
    reads: dict[str, list[str]]  # path -> upstream paths
    star_from: dict[str, str]  # path -> the upstream whose columns it passes on


def generate(n: int, seed: int) -> Tree:
    rng = random.Random(seed)
    files: dict[str, str] = {}
    table_of: dict[str, str] = {}
    reads: dict[str, list[str]] = {}
    star_from: dict[str, str] = {}
    made: list[str] = []  # files that define a table
    for i in range(n):
        path = f"{rng.choice(['etl', 'marts', 'stg', 'raw'])}/{rng.getrandbits(40):010x}.sql"
        table = f"s{i % 7}.t{i}"
        if i < max(3, n // 12):
            cols = ", ".join(f"c{i}_{k} int" for k in range(rng.randint(12, 20)))
            sql = f"CREATE TABLE {table} (id int, {cols});"
            ups: list[str] = []
        else:
            up = rng.choice(made)
            ups = [up]
            star_from[path] = up
            kind = rng.random()
            if kind < 0.45:
                sql = f"CREATE VIEW {table} AS SELECT * FROM {table_of[up]};"
            elif kind < 0.7:
                other = rng.choice(made)
                ups.append(other)
                sql = (
                    f"CREATE TABLE {table} AS SELECT a.*, b.id AS id_{i} "
                    f"FROM {table_of[up]} a JOIN {table_of[other]} b ON a.id = b.id;"
                )
            elif kind < 0.9:
                sql = (
                    f"CREATE VIEW {table} AS SELECT *, 1 AS flag_{i} FROM {table_of[up]} "
                    f"WHERE id > {i};"
                )
            else:
                sql = f"INSERT INTO rep.sink_{i} SELECT * FROM {table_of[up]};"
                table = ""
        files[path] = sql
        table_of[path] = table
        reads[path] = ups
        if table:
            made.append(path)
    return Tree(files, table_of, reads, star_from)


class CountingExtractor:
    def __init__(self) -> None:
        self.calls = 0
        self.cpu_s = 0.0
        self.texts: list[bytes] = []

    async def submit(self, _p: Priority, data: bytes, dialect: str, *args: Any) -> Any:
        corpus = args[3] if len(args) > 3 else None
        started = time.process_time()
        result = extract(data, dialect, catalog=corpus)
        self.cpu_s += time.process_time() - started
        self.calls += 1
        self.texts.append(data)
        return result


async def ingest(root: Path, paths: list[str], batch: int, ordered: bool) -> tuple[Any, Any]:
    pool = CountingExtractor()
    writer = StateWriter()
    stage = SchemaStage()
    queue: list[FileEvent] = []
    pipeline = Pipeline(
        {"r": RootContext(RootSettings("r", root))},
        pool,
        writer,
        extract_fn_version=EXTRACTOR_VERSION,
        requeue=queue.append,
        schema=stage,
    )
    events = [
        FileEvent(FileRef("r", p), str(root / p), Change.CHANGED, Priority.LOW)
        for p in sorted(paths)
    ]
    if ordered:
        events = order_events(events)
    slots = asyncio.Semaphore(2)  # the daemon's backfill runs two batches at a time

    async def one(chunk: list[FileEvent]) -> None:
        async with slots:
            await pipeline.process({e.ref: e for e in chunk})

    await asyncio.gather(*(one(events[i : i + batch]) for i in range(0, len(events), batch)))
    await drain(pipeline, queue)
    return pool, (pipeline, queue, stage, writer)


async def drain(pipeline: Pipeline, queue: list[FileEvent]) -> None:
    while queue:
        batch = {e.ref: e for e in queue}
        queue.clear()
        await pipeline.process(batch)


def once_in_order(tree: Tree, stage: SchemaStage) -> tuple[int, float]:
    """Every file once, with the settled catalog's slice: the floor."""
    cpu = 0.0
    for path, sql in tree.files.items():
        data = sql.encode()
        piece = stage.slice_for(f"r:{path}", data)
        started = time.process_time()
        extract(data, "postgres", catalog=piece)
        cpu += time.process_time() - started
    return len(tree.files), cpu


def dependants(tree: Tree, path: str) -> set[str]:
    """Files whose result changes when `path`'s table gains a column: every reader of
    a table whose column list changed; a file passes the change on only through its
    star (`SELECT *`, `a.*`), not through a column it names (`b.id`)."""
    readers = _readers(tree)
    out: set[str] = set()
    changed = [path]
    while changed:
        up = changed.pop()
        for r in readers.get(up, ()):
            if r not in out:
                out.add(r)
            if tree.star_from.get(r) == up and tree.table_of[r] and r not in changed:
                changed.append(r)
    return out


def _readers(tree: Tree) -> dict[str, set[str]]:
    readers: dict[str, set[str]] = {}
    for p, ups in tree.reads.items():
        for u in ups:
            readers.setdefault(u, set()).add(p)
    return readers


def transitive_readers(tree: Tree, path: str) -> set[str]:
    readers = _readers(tree)
    out: set[str] = set()
    todo = [path]
    while todo:
        for r in readers.get(todo.pop(), ()):
            if r not in out:
                out.add(r)
                todo.append(r)
    return out


async def timed_pipeline(root: Path, pool: Any, with_schema: bool) -> float:
    from lineaged.batcher import Batcher
    from lineaged.paths import RootMatcher
    from lineaged.reconcile import plan_root

    settings = RootSettings("wh", root)
    writer = StateWriter()
    stage = SchemaStage() if with_schema else None
    pipe = Pipeline(
        {"wh": RootContext(settings)}, pool, writer, extract_fn_version=EXTRACTOR_VERSION,
        schema=stage,
    )  # fmt: skip
    backfill = Batcher(debounce_s=0, max_batch=500, max_latency_s=1)
    slots = asyncio.Semaphore(2)
    started = time.perf_counter()

    async def no_graph(_root: str) -> dict[str, Any]:
        return {}

    plan = await plan_root(RootMatcher(settings), no_graph)
    events = await asyncio.to_thread(order_events, plan.events) if with_schema else plan.events
    for ev in events:
        backfill.add(ev)
    backfill.close()
    tasks = []
    async for batch in backfill.batches():
        await slots.acquire()

        async def run(b: Any = batch) -> None:
            try:
                await pipe.process(b)
            finally:
                slots.release()

        tasks.append(asyncio.create_task(run()))
    await asyncio.gather(*tasks)
    assert len(writer.files) == len(plan.events)
    return time.perf_counter() - started


async def overhead(n: int) -> None:
    import os

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_extract import corpus

    from lineaged.pool import PriorityPool
    from lineaged.worker import extract_task, init_worker

    workers = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i, text in enumerate(corpus(n)):
            (root / f"f{i:05d}.sql").write_text(text)
        pool = PriorityPool(
            extract_task, workers=workers, initializer=init_worker, preload=("lineaged.worker",)
        )
        await pool.start()
        times: dict[bool, list[float]] = {False: [], True: []}
        for with_schema in (False, True) * 3:
            times[with_schema].append(await timed_pipeline(root, pool, with_schema))
        await pool.close()
    plain, staged = min(times[False]), min(times[True])
    print(f"{n} warehouse-style files, {workers} workers (best of 3 each)")
    print(f"pipeline              {plain:6.2f} s")
    print(f"pipeline + schema     {staged:6.2f} s  ({staged / plain:.2f}x)")


def real(root: Path, dialect: str) -> None:
    from lineaged.catalog.fixpoint import CorpusFile, settle

    files = [
        CorpusFile(str(p.relative_to(root)), "", p.read_bytes())
        for p in sorted(root.rglob("*.sql"))
        if p.is_file()
    ]
    started = time.process_time()
    alone = {f.id: extract(f.data, dialect) for f in files}
    t_alone = time.process_time() - started
    started = time.process_time()
    out = settle(files, lambda f, c: extract(f.data, dialect, catalog=c))
    t_together = time.process_time() - started

    def count(results: dict[str, Any]) -> str:
        stmts = [s for r in results.values() for s in r.statements]
        unresolved = sum(len(s.unresolved) for s in stmts)
        stars = sum(u.endswith(".*") for s in stmts for u in s.unresolved)
        edges = sum(len(e.sources) for s in stmts for e in s.columns)
        return f"unresolved {unresolved} (stars {stars}), column edges {edges}"

    tables = {d.table for r in out.results.values() for d in r.defines}
    print(f"{len(files)} files, {len(tables)} tables defined, {len(out.conflicts)} conflicts")
    print(f"each file alone    {count(alone)}; {t_alone:.1f} s CPU")
    print(
        f"resolved together  {count(out.results)}; {out.extractions} extractions "
        f"({out.extractions / len(files):.2f}x), {t_together:.1f} s CPU "
        f"({t_together / t_alone:.2f}x); {len(out.unsettled)} unsettled"
    )


async def main() -> None:
    if "--real" in sys.argv:
        where = sys.argv.index("--real")
        real(Path(sys.argv[where + 1]), sys.argv[where + 2])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--overhead", action="store_true")
    args = parser.parse_args()
    if args.overhead:
        await overhead(args.files)
        return
    tree = generate(args.files, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for path, sql in tree.files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(sql)
        paths = list(tree.files)
        stars = sum("*" in sql for sql in tree.files.values())
        print(f"tree: {len(paths)} files, {stars} with SELECT * / t.* ({stars / len(paths):.0%})")

        cold, (pipeline, queue, stage, writer) = await ingest(root, paths, args.batch, True)
        base_n, base_cpu = once_in_order(tree, stage)
        print(f"once      {base_n} extractions, {base_cpu:.2f} s CPU")
        print(
            f"cold      {cold.calls} extractions ({cold.calls / base_n:.2f}x), "
            f"{cold.cpu_s:.2f} s CPU ({cold.cpu_s / base_cpu:.2f}x)"
        )
        unordered, _ = await ingest(root, paths, args.batch, False)
        print(
            f"unordered {unordered.calls} extractions ({unordered.calls / base_n:.2f}x), "
            f"{unordered.cpu_s:.2f} s CPU ({unordered.cpu_s / base_cpu:.2f}x)"
        )
        unresolved = sum(
            1
            for u in writer.files.values()
            if u.lineage and any(s.unresolved for s in u.lineage.statements)
        )
        print(f"          files with unresolved references after the cold ingest: {unresolved}")

        # One base table with the most transitive readers gains a column.
        bases = [p for p in paths if not tree.reads[p]]
        base = max(bases, key=lambda p: len(dependants(tree, p)))
        expected = dependants(tree, base)
        (root / base).write_text(tree.files[base].replace("(id int,", "(id int, added int,"))
        before = cold.calls
        event = FileEvent(FileRef("r", base), str(root / base), Change.CHANGED, Priority.HIGH)
        await pipeline.process({event.ref: event})
        await drain(pipeline, queue)
        redone = cold.calls - before - 1
        path_of = {sql.encode(): p for p, sql in tree.files.items()}
        again = {path_of[t] for t in cold.texts[before:] if t in path_of}
        assert again == expected, (sorted(again - expected), sorted(expected - again))
        readers = len(transitive_readers(tree, base))
        print(
            f"change    {base} (+1 column): {redone} re-extractions of {len(again)} files, "
            f"exactly the {len(expected)} whose results depend on its columns ({readers} "
            f"transitive readers at table level); {len(paths)} files in the tree"
        )


if __name__ == "__main__":
    asyncio.run(main())
