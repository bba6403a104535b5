"""Graph writer benchmark on a dedicated, throw-away Neo4j (scripts/neo4j_local.py),
fed with REAL extraction output: the warehouse-style files of bench_extract.py (CTEs,
joins, CASE, windows, ~40 columns), extracted once (in a process pool), so the row
shapes are those the daemon writes: a few dense shared source columns with thousands
of edges, many statement-wide JOIN/FILTER columns. (The synthetic rows this bench used
before went at 40k rows/s while a real batch went at ~1,200 rows/s under a scan.)

Both graph models are measured in the same run (model 1: the statement-wide edges
copied onto every target column, as before model 2), on the same server:

1. Throughput: rows/s and files/s of a large ingest through GraphWriter with its
   default settings. File i is real result (i mod --distinct) with its target table
   renamed per file, so every file writes its own table and reads shared ones.
2. Write time per file when the graph already holds a few hundred files vs --files
   files: the same probe (re-writing existing files, in batches of 50 files and as
   single-file transactions, like realtime edits) at both sizes. Every MATCH/MERGE is
   an index seek, so the ratio should stay near 1.

    .venv/bin/python tests/bench/bench_writer.py [--files 3000] [--distinct 300] [--heap 1g]

Figures are printed as measured in this one run; the machine is shared, so compare
the ratio, not the absolute numbers, across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.util
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from neo4j import AsyncGraphDatabase

sys.path.insert(0, str(Path(__file__).parent))
from bench_extract import corpus

from lineaged.deadletters import DeadLetters
from lineaged.extract import extract
from lineaged.graph.rows import build_rows
from lineaged.graph.schema import ensure_schema
from lineaged.graph.writer import GraphWriter
from lineaged.model import FileLineage, FileRef, FileUpdate

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.integration.crash import clear
from tests.integration.graphs import as_model_1

PROJECT = Path(__file__).resolve().parents[2]
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


def _extract(text: str) -> FileLineage:
    return extract(text, "postgres")


def real_results(n: int) -> list[FileLineage]:
    with ProcessPoolExecutor(len(os.sched_getaffinity(0))) as pool:
        return list(pool.map(_extract, corpus(n), chunksize=8))


def renamed(lineage: FileLineage, i: int) -> FileLineage:
    """`lineage` with each written table `dw.x` renamed `dw.x_f<i>` (names in targets
    and in the ids of target columns), so that file i writes tables of its own."""
    statements = []
    for st in lineage.statements:
        names = {t: f"{t}_f{i}" for t in st.targets}

        def rename(column_id: str, names: dict[str, str] = names) -> str:
            table, _, column = column_id.rpartition(".")
            return f"{names.get(table, table)}.{column}"

        statements.append(
            dataclasses.replace(
                st,
                targets=tuple(names.values()),
                columns=tuple(dataclasses.replace(c, target=rename(c.target)) for c in st.columns),
                target_columns=tuple(rename(c) for c in st.target_columns),
            )
        )
    return dataclasses.replace(lineage, statements=tuple(statements))


class Files:
    """FileUpdates built from real extraction results; `version` changes the hash.
    Model 1 is graph model 1's shape (statement-wide edges on every target column)."""

    def __init__(self, results: list[FileLineage], model: int) -> None:
        self.results = results
        self.model = model

    def update(self, i: int, version: int) -> FileUpdate:
        lineage = renamed(self.results[(i + version) % len(self.results)], i)
        update = FileUpdate(
            FileRef("bench", f"d{i % 100}/f{i}.sql"), f"sha{version}", "postgres", lineage
        )
        return as_model_1(update) if self.model == 1 else update


async def ingest(
    writer: GraphWriter, files: Files, start: int, stop: int, per_call: int = 500
) -> None:
    for lo in range(start, stop, per_call):
        hi = min(stop, lo + per_call)
        await writer.write([files.update(i, 1) for i in range(lo, hi)])


async def probe(
    writer: GraphWriter, files: Files, in_graph: int, version: int
) -> tuple[float, float]:
    """(ms per file in batches of PROBE_BATCH, ms per file written alone)."""
    rng = random.Random(version)
    ids = rng.sample(range(in_graph), PROBE_FILES + PROBE_SINGLES)
    batched, singles = ids[:PROBE_FILES], ids[PROBE_FILES:]
    await writer.write([files.update(i, version + 100) for i in batched[:PROBE_BATCH]])  # warm-up
    started = time.perf_counter()
    for lo in range(0, PROBE_FILES, PROBE_BATCH):
        await writer.write([files.update(i, version) for i in batched[lo : lo + PROBE_BATCH]])
    per_file_batched = (time.perf_counter() - started) / PROBE_FILES * 1000
    times = []
    for i in singles:
        t0 = time.perf_counter()
        await writer.write([files.update(i, version)])
        times.append(time.perf_counter() - t0)
    return per_file_batched, statistics.median(times) * 1000


async def bench_model(
    driver: Any, model: int, files: int, results: list[FileLineage], tmp: Path
) -> dict[str, float]:
    source = Files(results, model)
    await clear(driver)
    writer = GraphWriter(driver, "neo4j", DeadLetters(tmp / f"dead{model}.jsonl"))
    small = min(PROBE_FILES + PROBE_SINGLES, files)
    await ingest(writer, source, 0, small)
    # The first pass warms the JVM and the query plans; only the second is reported,
    # so the small-graph figure is not inflated by a cold start.
    await probe(writer, source, small, 1)
    b_small, s_small = await probe(writer, source, small, 2)

    rows_before, retries_before = writer.stats.rows, writer.stats.retries
    started = time.perf_counter()
    await ingest(writer, source, small, files)
    elapsed = time.perf_counter() - started
    rows = writer.stats.rows - rows_before
    retries = writer.stats.retries - retries_before
    b_big, s_big = await probe(writer, source, files, 3)
    assert writer.stats.dead_letters == 0, "benchmark data was dead-lettered"
    counts = await driver.execute_query(
        "MATCH (f:File) WITH count(f) AS files MATCH (n) RETURN files, count(n) AS nodes",
        database_="neo4j",
    )
    c = counts.records[0]
    sample = [build_rows([source.update(i, 1)]) for i in range(100)]
    avg_rows = sum(r.row_count for r in sample) / len(sample)
    avg_elements = sum(r.element_count for r in sample) / len(sample)
    n = files - small
    print(f"-- graph model {model}")
    print(
        f"graph after ingest: {c['files']} files, {c['nodes']} nodes; per file "
        f"~{avg_rows:.0f} UNWIND rows, ~{avg_elements:.0f} nodes + relationships"
    )
    print(
        f"ingest of {n} files: {rows} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s "
        f"({n / elapsed:,.1f} files/s), {retries} transient (deadlock) retries"
    )
    print(
        f"per file, batches of {PROBE_BATCH}: {b_small:.2f} ms at {small} files, "
        f"{b_big:.2f} ms at {files} files, ratio {b_big / b_small:.2f}"
    )
    print(
        f"per file, alone (median of {PROBE_SINGLES}): {s_small:.2f} ms at {small} files, "
        f"{s_big:.2f} ms at {files} files, ratio {s_big / s_small:.2f}"
    )
    return {"files_s": n / elapsed, "rows": avg_rows, "elements": avg_elements, "alone": s_big}


async def bench(
    uri: str, auth: tuple[str, str], files: int, results: list[FileLineage], tmp: Path
) -> None:
    driver = AsyncGraphDatabase.driver(uri, auth=auth, notifications_min_severity="OFF")
    try:
        await ensure_schema(driver, "neo4j")
        one = await bench_model(driver, 1, files, results, tmp)
        two = await bench_model(driver, 2, files, results, tmp)
    finally:
        await driver.close()
    print(
        f"model 2 vs model 1: {two['files_s'] / one['files_s']:.2f}x files/s, "
        f"{one['rows'] / two['rows']:.2f}x fewer rows, "
        f"{one['elements'] / two['elements']:.2f}x fewer nodes + relationships per file, "
        f"single-file write {one['alone'] / two['alone']:.2f}x faster"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--distinct", type=int, default=300, help="distinct files extracted")
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--pagecache", default="512m")
    args = parser.parse_args()
    started = time.perf_counter()
    results = real_results(args.distinct)
    print(
        f"extracted {args.distinct} warehouse-style files in {time.perf_counter() - started:.1f} s"
    )
    nl = load_neo4j_local()
    tmp = Path(tempfile.mkdtemp(prefix="bench-writer-"))
    name = f"bench-writer-{os.getpid()}"
    try:
        inst = nl.start(name, tmp, args.heap, pagecache=args.pagecache, owner_pid=os.getpid())
        print(f"neo4j {nl.neo4j_version()} at {inst.uri}, heap {args.heap}")
        asyncio.run(bench(inst.uri, (inst.user, inst.password), args.files, results, tmp))
    finally:
        nl.stop(name, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
