"""Graph writer benchmark on a dedicated, throw-away Neo4j (scripts/neo4j_local.py).

1. Throughput: rows/s of a large ingest (default 100,000 synthetic files, each with an
   INSERT ... SELECT reading 3 of 2,000 shared tables, 4 target columns derived from
   2 source columns each, and a SELECT) through GraphWriter with its default settings.
2. Write time per file when the graph already holds 1k files vs 100k files: the same
   probe (re-writing existing files with new lineage, in batches of 50 files and as
   single-file transactions, like realtime edits) run at both sizes. It must not grow
   with the graph: every MATCH/MERGE is an index seek, so the ratio should stay near 1.

    .venv/bin/python tests/bench/bench_writer.py [--files 100000] [--heap 1g]

Figures are printed as measured in this one run; the machine is shared, so compare
the ratio, not the absolute numbers, across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from neo4j import AsyncGraphDatabase

from lineaged.deadletters import DeadLetters
from lineaged.graph.rows import update_rows
from lineaged.graph.schema import ensure_schema
from lineaged.graph.writer import GraphWriter
from lineaged.model import ColumnEdge, FileLineage, FileRef, FileUpdate, StatementLineage

PROJECT = Path(__file__).resolve().parents[2]
SHARED_TABLES = 2000
PROBE_FILES = 300
PROBE_BATCH = 50
PROBE_SINGLES = 60


def load_neo4j_local() -> ModuleType:
    """scripts/neo4j_local.py by path, as tests/integration/conftest.py does."""
    name = "lineaged_scripts_neo4j_local"
    spec = importlib.util.spec_from_file_location(name, PROJECT / "scripts" / "neo4j_local.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def synthetic(i: int, version: int) -> FileUpdate:
    target = f"mart.t{i}"
    sources = tuple(f"raw.s{(i * 7 + k * 131 + version) % SHARED_TABLES}" for k in range(3))
    cols = tuple(
        ColumnEdge(f"{target}.c{c}", (f"{sources[c % 3]}.a{c}", f"{sources[0]}.id"), "DIRECT")
        for c in range(4)
    )
    statements = (
        StatementLineage(0, 1, "insert", (target,), sources, cols),
        StatementLineage(1, 9, "select", (), (target,)),
    )
    lineage = FileLineage("postgres", "bench", statements)
    return FileUpdate(
        FileRef("bench", f"d{i % 100}/f{i}.sql"), f"sha{version}", "postgres", lineage
    )


async def ingest(writer: GraphWriter, start: int, stop: int, per_call: int = 2000) -> None:
    for lo in range(start, stop, per_call):
        hi = min(stop, lo + per_call)
        await writer.write([synthetic(i, 1) for i in range(lo, hi)])


async def probe(writer: GraphWriter, in_graph: int, version: int) -> tuple[float, float]:
    """(ms per file in batches of PROBE_BATCH, ms per file written alone)."""
    rng = random.Random(version)
    ids = rng.sample(range(in_graph), PROBE_FILES + PROBE_SINGLES)
    batched, singles = ids[:PROBE_FILES], ids[PROBE_FILES:]
    await writer.write([synthetic(i, version + 100) for i in batched[:PROBE_BATCH]])  # warm-up
    started = time.perf_counter()
    for lo in range(0, PROBE_FILES, PROBE_BATCH):
        await writer.write([synthetic(i, version) for i in batched[lo : lo + PROBE_BATCH]])
    per_file_batched = (time.perf_counter() - started) / PROBE_FILES * 1000
    times = []
    for i in singles:
        t0 = time.perf_counter()
        await writer.write([synthetic(i, version)])
        times.append(time.perf_counter() - t0)
    return per_file_batched, statistics.median(times) * 1000


async def bench(uri: str, auth: tuple[str, str], files: int, tmp: Path) -> None:
    driver = AsyncGraphDatabase.driver(uri, auth=auth, notifications_min_severity="OFF")
    try:
        await ensure_schema(driver, "neo4j")
        writer = GraphWriter(driver, "neo4j", DeadLetters(tmp / "dead.jsonl"))
        small = min(1000, files)
        await ingest(writer, 0, small)
        # The first pass warms the JVM and the query plans; only the second is reported,
        # so the small-graph figure is not inflated by a cold start.
        await probe(writer, small, 1)
        b_small, s_small = await probe(writer, small, 2)

        rows_before, started = writer.stats.rows, time.perf_counter()
        await ingest(writer, small, files)
        elapsed = time.perf_counter() - started
        rows = writer.stats.rows - rows_before
        b_big, s_big = await probe(writer, files, 3)
        assert writer.stats.dead_letters == 0, "benchmark data was dead-lettered"
        counts = await driver.execute_query(
            "MATCH (f:File) WITH count(f) AS files MATCH (n) RETURN files, count(n) AS nodes",
            database_="neo4j",
        )
        c = counts.records[0]
    finally:
        await driver.close()

    avg_rows = sum(update_rows(synthetic(i, 1)) for i in range(100)) / 100
    print(f"graph after ingest: {c['files']} files, {c['nodes']} nodes; ~{avg_rows:.0f} rows/file")
    print(
        f"ingest of {files - small} files: {rows} rows in {elapsed:.1f} s = "
        f"{rows / elapsed:,.0f} rows/s ({(files - small) / elapsed:,.0f} files/s), "
        f"{writer.stats.retries} retries"
    )
    print(
        f"per file, batches of {PROBE_BATCH}: {b_small:.2f} ms at {small} files, "
        f"{b_big:.2f} ms at {files} files, ratio {b_big / b_small:.2f}"
    )
    print(
        f"per file, alone (median of {PROBE_SINGLES}): {s_small:.2f} ms at {small} files, "
        f"{s_big:.2f} ms at {files} files, ratio {s_big / s_small:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--pagecache", default="512m")
    args = parser.parse_args()
    nl = load_neo4j_local()
    tmp = Path(tempfile.mkdtemp(prefix="bench-writer-"))
    name = f"bench-writer-{os.getpid()}"
    try:
        inst = nl.start(name, tmp, args.heap, pagecache=args.pagecache, owner_pid=os.getpid())
        print(f"neo4j {nl.neo4j_version()} at {inst.uri}, heap {args.heap}")
        asyncio.run(bench(inst.uri, (inst.user, inst.password), args.files, tmp))
    finally:
        nl.stop(name, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
