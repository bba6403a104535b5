"""CLI latency (issue 14, target 5): wall time of whole `lineaged` processes, median of
--runs runs each, after two warm-up runs:

- `lineaged --help`
- `lineaged extract small.sql --dialect postgres` (a one-line INSERT ... SELECT)
- `lineaged lineage upstream <table> --depth 10` on a graph of --files files (100,000)
- the same `lineage` question by a unique suffix of the name (not exact: the Table
  names are scanned before the query)

The graph lives in a throw-away Neo4j (scripts/neo4j_local.py); with --keep NAME it is
kept under .neo4j/instances/NAME and reused by the next run (building it is the slow
part). How the graph is built, fast and from real code:

1. --distinct warehouse-style files of bench_extract.py (~7 KB, CTEs, joins, CASE,
   windows, ~40 columns) are extracted for real (process pool).
2. File i is real result (i mod --distinct) with its tables renamed: its written
   tables get a per-file suffix, and files form chains of --chain files: file i reads
   the table file i-1 wrote (in place of its first `raw.source_*` table), and every
   4th file also the table of file i-3 (diamonds), so upstream paths of depth >= 10
   exist and fan in. The shared `raw.*` tables stay shared, as in bench_writer.py.
3. Every update goes through the real GraphWriter (build_rows, the write queries, the
   schema of ensure_schema). The first --full-files files keep their whole column
   lineage; the rest are written with their statements and table edges only (the
   column lineage of 100k such files, ~180 rows each, would take this 2-core machine
   an hour, and the table-level `lineage` query does not read columns).

Each lineage run asks about the last table of a different chain (cycling over 5), so
every answer has edges down to depth 10. `--before DIR` runs the same commands with
another source tree first on PYTHONPATH (e.g. `git archive <commit> lineaged | tar -x
-C DIR`) in the same run, the two trees taking turns run by run, for before/after ratios.

    .venv/bin/python tests/bench/bench_cli.py [--files 100000] [--runs 15] [--keep cli100k]
        [--before /tmp/lineaged-before]

The machine is shared: figures are as measured in this one run (load average printed).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neo4j import AsyncGraphDatabase

sys.path.insert(0, str(Path(__file__).parent))
from bench_writer import load_neo4j_local, real_results

from lineaged.deadletters import DeadLetters
from lineaged.graph.schema import ensure_schema
from lineaged.graph.writer import GraphWriter
from lineaged.model import FileLineage, FileRef, FileUpdate

PROJECT = Path(__file__).resolve().parents[2]
# The console script, as a user runs it (PYTHONPATH still picks the tree for --before).
LINEAGED = [str(Path(sys.executable).parent / "lineaged")]
SMALL_SQL = "INSERT INTO dw.daily SELECT d, count(*) AS n FROM raw.events GROUP BY d;\n"
WRITE_BATCH = 1_000
ASKED_CHAINS = 5


def _rename(name: str, tables: dict[str, str]) -> str:
    """A table name or a column id (`table.column`) with its table renamed."""
    if name in tables:
        return tables[name]
    table, _, column = name.rpartition(".")
    return f"{tables[table]}.{column}" if table in tables else name


def renamed(lineage: FileLineage, tables: dict[str, str], *, columns: bool) -> FileLineage:
    """`lineage` with `tables` renamed everywhere; without `columns`, its column lineage
    is left out (statements and table edges only)."""

    def names(items: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_rename(n, tables) for n in items)

    statements = []
    for st in lineage.statements:
        if not columns:
            st = dataclasses.replace(st, columns=(), target_columns=(), indirect=())
        statements.append(
            dataclasses.replace(
                st,
                targets=names(st.targets),
                sources=tuple(sorted(names(st.sources))),
                columns=tuple(
                    dataclasses.replace(
                        c, target=_rename(c.target, tables), sources=names(c.sources)
                    )
                    for c in st.columns
                ),
                target_columns=names(st.target_columns),
                indirect=tuple(
                    dataclasses.replace(e, sources=names(e.sources)) for e in st.indirect
                ),
            )
        )
    return dataclasses.replace(lineage, statements=tuple(statements))


class BenchFiles:
    """The bench graph's files (see the module docstring): file i is real result
    (i mod len(results)), every table it writes suffixed `_p<i>`; in a chain, it reads
    the first table file i-1 wrote (and file i-3's, every 4th file) instead of its own
    first (second) `raw.source_*` table."""

    def __init__(self, results: list[FileLineage], chain: int, full_files: int) -> None:
        self.results = results
        self.chain = chain
        self.full_files = full_files

    def base(self, i: int) -> FileLineage:
        return self.results[i % len(self.results)]

    def link(self, i: int) -> str:
        """The table of file i that the next files of its chain read."""
        return f"{self.base(i).statements[0].targets[0]}_p{i}"

    def lineage(self, i: int) -> FileLineage:
        base = self.base(i)
        tables = {t: f"{t}_p{i}" for st in base.statements for t in st.targets}
        feeds = sorted(
            {s for st in base.statements for s in st.sources if s.startswith("raw.source_")}
        )
        pos = i % self.chain
        if pos >= 1 and feeds:
            tables[feeds[0]] = self.link(i - 1)
        if pos >= 3 and pos % 4 == 0 and len(feeds) > 1:
            tables[feeds[1]] = self.link(i - 3)
        return renamed(base, tables, columns=i < self.full_files)

    def update(self, i: int) -> FileUpdate:
        ref = FileRef("bench", f"c{i // self.chain}/f{i}.sql")
        return FileUpdate(ref, f"sha{i}", "postgres", self.lineage(i))

    def asked(self, n_files: int) -> list[str]:
        """The last table of each of the last ASKED_CHAINS whole chains."""
        chains = n_files // self.chain
        return [
            self.link(c * self.chain + self.chain - 1) for c in range(chains - ASKED_CHAINS, chains)
        ]


async def build_graph(
    uri: str, auth: tuple[str, str], files: BenchFiles, n: int, tmp: Path
) -> None:
    driver = AsyncGraphDatabase.driver(uri, auth=auth, notifications_min_severity="OFF")
    try:
        await ensure_schema(driver, "neo4j")
        have = (await driver.execute_query("MATCH (f:File) RETURN count(f) AS n")).records[0]["n"]
        if have >= n:
            print(f"graph: reusing {have} files")
            return
        writer = GraphWriter(driver, "neo4j", DeadLetters(tmp / "dead.jsonl"))
        started = time.perf_counter()
        for lo in range(have, n, WRITE_BATCH):
            await writer.write([files.update(i) for i in range(lo, min(n, lo + WRITE_BATCH))])
            if (lo // WRITE_BATCH) % 10 == 0:
                done = min(n, lo + WRITE_BATCH)
                print(f"  {done} files, {time.perf_counter() - started:.0f} s", flush=True)
        assert writer.stats.dead_letters == 0, "bench data was dead-lettered"
        print(f"graph: wrote {n - have} files in {time.perf_counter() - started:.0f} s")
    finally:
        await driver.close()


async def graph_size(uri: str, auth: tuple[str, str]) -> str:
    driver = AsyncGraphDatabase.driver(uri, auth=auth, notifications_min_severity="OFF")
    try:
        counts = []
        for label in ("File", "Statement", "Table", "Column"):
            r = await driver.execute_query(f"MATCH (n:{label}) RETURN count(n) AS n")
            counts.append(f"{r.records[0]['n']:,} {label}")
        r = await driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS n")
        counts.append(f"{r.records[0]['n']:,} relationships")
        return ", ".join(counts)
    finally:
        await driver.close()


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one whole `lineaged` process. Its CPU time
    (user + system) is what it costs by itself; under load the wall time also holds
    the time spent waiting for a core (and, for `lineage`, for the server's)."""
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=cwd)
    elapsed = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    return elapsed, cpu, done.stdout


def deepest(out: str) -> int:
    """The largest DEPTH of a `lineage` table answer (first line is the header)."""
    return max((int(line.split()[0]) for line in out.splitlines()[1:] if line.strip()), default=0)


def measure(
    trees: dict[str, Path | None],
    inst_env: dict[str, str],
    asked: list[str],
    small: Path,
    runs: int,
) -> dict[str, dict[str, float]]:
    """Median wall seconds per tree and command. The trees take turns run by run (and
    two warm-up rounds are not counted), so a change of machine load hits all alike."""
    envs = {}
    for label, src in trees.items():
        env = {**os.environ, **inst_env}
        env.pop("LINEAGED_CONFIG", None)
        # An installed package has its bytecode; without this, a tree whose
        # __pycache__ was never written compiles its modules on every run.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if src is not None:
            env["PYTHONPATH"] = str(src)
        envs[label] = env
    kinds = ("help", "extract", "lineage", "by_suffix")
    times: dict[str, dict[str, list[float]]] = {label: {c: [] for c in kinds} for label in trees}
    cpus: dict[str, dict[str, list[float]]] = {label: {c: [] for c in kinds} for label in trees}
    edges = {}
    for k in range(runs + 2):
        table = asked[k % len(asked)]
        commands = {
            "help": [*LINEAGED, "--help"],
            "extract": [*LINEAGED, "extract", str(small), "--dialect", "postgres"],
            "lineage": [*LINEAGED, "lineage", "upstream", table, "--depth", "10"],
            # The same question by a unique suffix (`fact_11_p99999`): not an exact
            # name, so the Table names are scanned first.
            "by_suffix": [*LINEAGED, "lineage", "upstream", table.partition(".")[2]],
        }
        for label, env in envs.items():
            for command, argv in commands.items():
                elapsed, cpu, out = run_once(argv, env, small.parent)
                if k >= 2:
                    times[label][command].append(elapsed)
                    cpus[label][command].append(cpu)
                if command in ("lineage", "by_suffix"):
                    if deepest(out) < 10:
                        raise SystemExit(f"{label}: {table}: deepest edge {deepest(out)}, not 10")
                    edges[table] = len(out.splitlines()) - 1
    print(f"lineage answers: {', '.join(f'{t} {n} edges' for t, n in edges.items())}")
    for label, per in cpus.items():
        print(
            f"{label:>7} CPU (user + sys, median): "
            + ", ".join(f"{c} {statistics.median(ts) * 1000:.0f} ms" for c, ts in per.items())
        )
    return {
        label: {command: statistics.median(ts) for command, ts in per.items()}
        for label, per in times.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=300, help="distinct files extracted")
    parser.add_argument("--chain", type=int, default=25, help="files per chain")
    parser.add_argument("--full-files", type=int, default=1_000, help="files with columns")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", metavar="NAME", help="keep (and reuse) the graph's instance")
    parser.add_argument("--before", metavar="DIR", help="also time this source tree")
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--pagecache", default="1g")
    args = parser.parse_args()

    started = time.perf_counter()
    results = real_results(args.distinct)
    print(
        f"extracted {args.distinct} warehouse-style files in {time.perf_counter() - started:.1f} s"
    )
    files = BenchFiles(results, args.chain, args.full_files)
    nl = load_neo4j_local()
    tmp = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    root = None if args.keep else tmp
    name = args.keep or f"bench-cli-{os.getpid()}"
    small = tmp / "small.sql"
    small.write_text(SMALL_SQL)
    try:
        inst = nl.start(
            name,
            root,
            args.heap,
            pagecache=args.pagecache,
            owner_pid=None if args.keep else os.getpid(),
        )
        auth = (inst.user, inst.password)
        asyncio.run(build_graph(inst.uri, auth, files, args.files, tmp))
        print(f"graph: {asyncio.run(graph_size(inst.uri, auth))}")
        inst_env = {
            "NEO4J_URI": inst.uri,
            "NEO4J_USER": inst.user,
            "NEO4J_PASSWORD": inst.password,
        }
        asked = files.asked(args.files)
        print(f"load average before timing: {os.getloadavg()[0]:.1f} (2-core machine)")
        trees = {"before": Path(args.before)} if args.before else {}
        trees["after"] = None  # this tree
        figures = measure(trees, inst_env, asked, small, args.runs)
        for label, f in figures.items():
            print(
                f"{label:>7}: --help {f['help'] * 1000:5.0f} ms   "
                f"extract small.sql {f['extract'] * 1000:5.0f} ms   "
                f"lineage upstream --depth 10 {f['lineage'] * 1000:5.0f} ms "
                f"(by unique suffix {f['by_suffix'] * 1000:5.0f} ms)   (median of {args.runs})"
            )
        if args.before:
            print(
                "after/before: "
                + ", ".join(
                    f"{k} {figures['after'][k] / figures['before'][k]:.2f}x"
                    for k in ("help", "extract", "lineage", "by_suffix")
                )
            )
        print(f"load average after timing: {os.getloadavg()[0]:.1f}")
    finally:
        if not args.keep:
            nl.stop(name, root)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
