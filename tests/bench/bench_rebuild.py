"""Rebuild from the parse cache (issue 14 target 3) alone, several source trees in one run.

    .venv/bin/python tests/bench/bench_rebuild.py [--files 20000] [--rounds 2]
        [--before DIR ...] [--profile]

Starts a throw-away Neo4j, generates bench_warm_restart's tree (`make_tree`) once, and
for each source tree (this checkout, plus every `--before DIR`, e.g. a
`git worktree add /tmp/before <commit>`) runs one cold `scan` into its own state
directory, which fills that tree's parse cache. Then, for each round, the trees take
turns (the order rotates each round) at the phase being measured: the graph and its
schema are dropped (each tree makes its own at start-up), and the tree's daemon scans
with its cache kept. Every rebuild must parse nothing, hit the cache for every file and
leave a complete graph (one File with its sha256 and one Statement per file), or the
bench fails.

Each scan runs in a child process with the tree on PYTHONPATH (the venv's packages are
shared), through bench_warm_restart's TimedDaemon and settings; the child reports in
one JSON line. Prints per tree: the scan's wall time, its start-up, files/s, write
transactions and rows, the writer's summed time per query where the tree records it,
Python's cyclic collections in the daemon (per generation: how many, their seconds),
the CPU seconds of the scan's processes (daemon + workers) and of the Neo4j JVM split by
thread group (Bolt workers = Cypher + commit, GC/VM, JIT compilers, other) -- on 2 cores
the wall time cannot fall below their sum / 2 -- and the ratios of the trees' medians.
`--profile` samples this checkout's last rebuild
with py-spy.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]


# -- child: one scan with the tree that PYTHONPATH names --------------------------------


async def child_scan(work: Path, root: Path, uri: str, user: str, password: str) -> None:
    from types import SimpleNamespace

    from bench_warm_restart import scan, settings_for

    import lineaged
    from lineaged.logging import configure_logging

    configure_logging("warning", "console")
    collections = CollectorClock()
    inst = SimpleNamespace(uri=uri, user=user, password=password)
    with collections:
        seconds, daemon = await scan(settings_for(work, root, inst))
    stats, writer = daemon.pipeline.stats, daemon.writer.stats
    report = {
        "package": str(Path(lineaged.__file__).parent),
        "seconds": seconds,
        "startup_s": daemon.startup_s,
        "read": stats.files_seen,
        "parsed": stats.parsed,
        "cache_hits": stats.cache_hits,
        "transactions": writer.transactions,
        "rows": writer.rows,
        "write_seconds": writer.write_seconds,
        "retries": writer.retries,
        "query_seconds": getattr(writer, "query_seconds", {}),
        "collections": collections.report(),
    }
    print("RESULT " + json.dumps(report))


class CollectorClock:
    """Python's cyclic collections in this process while inside: per generation, how
    many and their seconds (gc.callbacks)."""

    def __init__(self) -> None:
        self._runs = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        run = self._runs[info["generation"]]
        run[0] += 1
        run[1] += time.perf_counter() - self._started

    def __enter__(self) -> CollectorClock:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def report(self) -> str:
        return ", ".join(f"gen{g} {n} in {s:.2f} s" for g, (n, s) in self._runs.items())


# -- parent ------------------------------------------------------------------------------


class Tree:
    def __init__(self, label: str, source: Path, work: Path) -> None:
        self.label = label
        self.source = source
        self.work = work  # config.toml + state/ (its parse cache)
        self.runs: list[dict[str, Any]] = []

    def scan(self, root: Path, inst: Any, profile: bool = False) -> dict[str, Any]:
        from sampling import sampled

        env = dict(os.environ, PYTHONPATH=str(self.source))
        cmd = [sys.executable, str(HERE), "--child", str(self.work), "--root", str(root)]
        # `--x=value`: a generated password may begin with "-", which argparse would
        # take for an option.
        cmd += [f"--uri={inst.uri}", f"--user={inst.user}", f"--password={inst.password}"]
        cpu = CpuSplit(inst.pid)
        # cwd = the tree: the pool's forkserver runs `python -c ...`, whose sys.path
        # starts with the cwd, ahead of PYTHONPATH; started from another checkout, the
        # workers imported THAT checkout's lineaged (an older tree's workers then died
        # at start-up on a changed initializer, and a newer one's parsed with foreign code).
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, cwd=self.source)
        cpu.watch(proc.pid)
        with sampled(f"rebuild, {self.label}", enabled=profile, pid=proc.pid):
            out, _ = proc.communicate()
        split = cpu.done()
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            raise SystemExit(f"{self.label}: scan failed (exit {proc.returncode})\n{out[-2000:]}")
        result = json.loads(lines[-1][len("RESULT ") :])
        if Path(result["package"]).resolve() != (self.source / "lineaged").resolve():
            raise SystemExit(f"{self.label}: ran {result['package']}, not {self.source}")
        result["cpu"] = split
        return result


_CLK_TCK = os.sysconf("SC_CLK_TCK")
# JVM thread names (/proc/<pid>/task/*/comm, 15 characters at most) -> group.
_THREAD_GROUPS = [
    (re.compile(r"^(GC Thread|G1 |VM Thread|GC |Parallel|ZWorker|ZDriver)"), "gc+vm"),
    (re.compile(r"^(C1 |C2 )"), "jit"),
    (re.compile(r"^neo4j\.Bolt|^bolt-|^BoltNetwork|^neo4j\.BoltW"), "bolt"),
]


def jvm_threads_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread group of a running JVM (threads alive at the call; the
    Bolt worker and GC threads are pooled, so deltas between two calls hold)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        group = next((g for rx, g in _THREAD_GROUPS if rx.search(comm)), "other")
        out[group] = out.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / _CLK_TCK
    return out


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


class CpuSplit:
    """CPU seconds over one scan: the scan's process with its workers, and the Neo4j JVM
    by thread group. With 2 cores, wall >= total / 2.

    The workers are the forkserver's children: the scan's RUSAGE_CHILDREN holds them
    only if the forkserver was reaped before the scan exited, so they are also sampled
    (psutil, every 0.25 s) and the larger of the two figures counts."""

    def __init__(self, neo4j_pid: int) -> None:
        self.pid = neo4j_pid
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.client0 = ru.ru_utime + ru.ru_stime
        self.jvm0 = process_cpu(neo4j_pid)
        self.threads0 = jvm_threads_cpu(neo4j_pid)
        self._sampled: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, pid: int) -> None:
        """Sample `pid` and its descendants until `done()`."""
        import psutil

        def sample() -> None:
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                return
            for proc in procs:
                try:
                    t = proc.cpu_times()
                except psutil.Error:
                    continue
                self._sampled[proc.pid] = t.user + t.system

        def loop() -> None:
            while not self._stop.wait(0.25):
                sample()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def done(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        threads = jvm_threads_cpu(self.pid)
        reaped = ru.ru_utime + ru.ru_stime - self.client0
        split = {"client": max(reaped, sum(self._sampled.values()))}
        split["neo4j"] = process_cpu(self.pid) - self.jvm0
        for group, secs in sorted(threads.items()):
            split[f"neo4j.{group}"] = secs - self.threads0.get(group, 0.0)
        return split


def reset_graph(inst: Any) -> None:
    """No nodes, no constraints, no indexes: each tree makes its own schema."""
    from bench_warm_restart import empty_graph
    from neo4j import GraphDatabase

    asyncio.run(empty_graph(inst))
    with GraphDatabase.driver(inst.uri, auth=(inst.user, inst.password)) as d:
        for record in d.execute_query("SHOW CONSTRAINTS YIELD name").records:
            d.execute_query(f"DROP CONSTRAINT `{record['name']}`")
        indexes = d.execute_query("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP'")
        for record in indexes.records:
            d.execute_query(f"DROP INDEX `{record['name']}`")


def graph_counts(inst: Any) -> tuple[int, int]:
    """(File nodes with a sha256, Statement nodes)."""
    from neo4j import GraphDatabase

    with GraphDatabase.driver(inst.uri, auth=(inst.user, inst.password)) as d:
        files = d.execute_query("MATCH (f:File) WHERE f.sha256 IS NOT NULL RETURN count(f)")
        statements = d.execute_query("MATCH (s:Statement) RETURN count(s)")
    return files.records[0][0], statements.records[0][0]


def describe(r: dict[str, Any], n: int) -> str:
    text = (
        f"{r['seconds']:7.2f} s (start-up {r['startup_s']:5.2f} s)  {n / r['seconds']:6.0f} files/s"
        f"  tx {r['transactions']}  rows {r['rows']}  tx time {r['write_seconds']:.1f} s"
    )
    if r["retries"]:
        text += f"  retries {r['retries']}"
    if "cpu" in r:
        cpu = r["cpu"]
        groups = ", ".join(f"{k[6:]} {v:.1f}" for k, v in cpu.items() if k.startswith("neo4j."))
        text += (
            f"\n      CPU s: lineaged+workers {cpu['client']:.1f}, Neo4j {cpu['neo4j']:.1f}"
            f" ({groups}); (total)/2 = {(cpu['client'] + cpu['neo4j']) / 2:.1f} s"
        )
    if r["query_seconds"]:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["query_seconds"].items()))
        text += f"  [{parts}]"
    text += f"\n      daemon's cyclic collections: {r['collections']}"
    return text


def main(n: int, rounds: int, before: list[Path], profile: bool) -> None:
    from bench_warm_restart import make_tree, neo4j_local

    nl = neo4j_local()
    base = Path(tempfile.mkdtemp(prefix="lineaged-bench-rebuild-"))
    inst = nl.start("bench-rebuild", root=base / "neo4j", heap="2g", pagecache="1g")
    try:
        root = base / "sql"
        size = make_tree(root, n)
        trees = [Tree("this tree", REPO, base / "this")]
        for i, src in enumerate(before):
            trees.append(Tree(f"before {i + 1} ({src.name})", src.resolve(), base / f"b{i}"))
        print(
            f"corpus: {n} files, {size / 1e6:.1f} MB, {os.cpu_count()} cores, "
            f"load {os.getloadavg()[0]:.1f}"
        )
        for tree in trees:
            tree.work.mkdir()
            reset_graph(inst)
            cold = tree.scan(root, inst)
            print(f"cold fill, {tree.label:<28} {describe(cold, n)}  parsed {cold['parsed']}")
        failed = False
        for r in range(rounds):
            order = trees[r % len(trees) :] + trees[: r % len(trees)]
            for tree in order:
                reset_graph(inst)
                last = profile and r == rounds - 1 and tree is trees[0]
                result = tree.scan(root, inst, profile=last)
                files, statements = graph_counts(inst)
                complete = files == n and statements == n
                honest = result["parsed"] == 0 and result["cache_hits"] == n and complete
                failed |= not honest
                tree.runs.append(result)
                print(
                    f"round {r + 1}, {tree.label:<28} {describe(result, n)}  "
                    f"load {os.getloadavg()[0]:.1f}"
                    + (
                        ""
                        if honest
                        else f"  NOT A CLEAN REBUILD: parsed {result['parsed']}, "
                        f"hits {result['cache_hits']}, files {files}, statements {statements}"
                    )
                )
        print(f"medians over {rounds} round(s), rebuild scan wall time:")
        mine = statistics.median(x["seconds"] for x in trees[0].runs)
        for tree in trees:
            med = statistics.median(x["seconds"] for x in tree.runs)
            print(
                f"  {tree.label:<28} {med:7.2f} s  {n / med:6.0f} files/s  "
                f"this tree is {med / mine:.2f}x faster"
            )
        print(f"load at the end {os.getloadavg()[0]:.1f}")
        if failed:
            sys.exit(1)
    finally:
        nl.stop("bench-rebuild", root=base / "neo4j")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--before", type=Path, action="append", default=[], help="another source tree to time"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy this tree's last rebuild")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--user", help=argparse.SUPPRESS)
    parser.add_argument("--password", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child_scan(args.child, args.root, args.uri, args.user, args.password))
    else:
        main(args.files, args.rounds, args.before, args.profile)
