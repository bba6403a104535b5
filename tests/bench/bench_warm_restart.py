"""Cold ingest vs warm restart vs rebuild from the cache, through the real daemon and Neo4j.

    .venv/bin/python tests/bench/bench_warm_restart.py [--files 20000] [--profile]
        [--before DIR ... [--rounds 3]]

Starts a throw-away Neo4j (scripts/neo4j_local.py), generates a tree of small
warehouse-style SQL files (`make_tree`, also used by bench_scale.py) with old mtimes,
and runs `scan` three times:
  cold     empty graph and cache: every file read, parsed and written;
  warm     nothing changed (issue 14 target 2): must read no file contents, parse
           nothing and write nothing; its start-up and reconcile are timed apart, and
           it says whether it decoded the catalog's records, started worker processes
           or swept orphans (none is needed when nothing changed);
  rebuild  the graph emptied, the parse cache kept (issue 14 target 3): every file read
           and written again, none parsed.
Prints times, files/s and ratios of the one run. `--profile` samples the warm and the
rebuild phase with py-spy (a test extra) and prints where the time went.

`--before DIR` (repeatable; e.g. `git worktree add --detach /tmp/before <commit>`):
instead of the rebuild, after the warm restart every tree (this checkout and each DIR)
gets a copy of the state dir and the trees take turns, `--rounds` times (the order
rotates each round), at a warm restart of the same graph and tree, each in a child
process with the tree on PYTHONPATH (timed from `Daemon.run()`, imports excluded).
Prints each tree's runs, medians and the ratio to this checkout's median.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from sampling import sampled

from lineaged.config import load_settings
from lineaged.daemon import Daemon
from lineaged.logging import configure_logging

REPO = Path(__file__).resolve().parents[2]


def neo4j_local():
    spec = importlib.util.spec_from_file_location(
        "neo4j_local", REPO / "scripts" / "neo4j_local.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["neo4j_local"] = module
    spec.loader.exec_module(module)
    return module


def model_text(i: int) -> str:
    """One CTAS over a filtered source joined to a shared dimension: 9 target columns,
    ~300 bytes; `raw.src*` and `raw.dim*` are shared by many files, like a warehouse's
    staging tables."""
    cols = ",\n    ".join(f"s.c{j} AS c{j}" for j in range(8))
    return (
        f"-- model {i}\nCREATE TABLE mart.m{i} AS\n"
        f"WITH s AS (SELECT * FROM raw.src{i % 50} WHERE ds >= '2024-01-01')\n"
        f"SELECT\n    {cols},\n    d.name\nFROM s\nJOIN raw.dim{i % 10} AS d ON d.id = s.c0;\n"
    )


def make_tree(root: Path, n: int, *, start: int = 0) -> int:
    """Files `model_<i>.sql` for i in [start, start + n), 20 domains x 10 sub-directories,
    mtimes an hour old (a restart long after the last edit). Returns the bytes written."""
    old = time.time() - 3600
    total = 0
    for d in range(200):
        (root / f"domain{d % 20}" / f"sub{d // 20}").mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        path = os.path.join(root, f"domain{i % 20}", f"sub{i // 20 % 10}", f"model_{i}.sql")
        data = model_text(i).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.utime(path, (old, old))
        total += len(data)
    return total


class TimedDaemon(Daemon):
    """The daemon with its start-up and each reconcile plan timed (bench only)."""

    startup_s = 0.0
    reconcile_s = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps: dict[str, float] = {}

    async def _step(self, name: str, work: Any) -> None:
        started = time.perf_counter()
        await super()._step(name, work)
        self.steps[name] = time.perf_counter() - started

    def slowest_steps(self, n: int = 4) -> str:
        top = sorted(self.steps.items(), key=lambda kv: -kv[1])[:n]
        return ", ".join(f"{name} {secs:.2f}" for name, secs in top)

    async def startup(self) -> None:
        started = time.perf_counter()
        await super().startup()
        self.startup_s = time.perf_counter() - started

    async def _reconcile(self, matcher: Any) -> None:
        started = time.perf_counter()
        await super()._reconcile(matcher)
        self.reconcile_s += time.perf_counter() - started


async def scan(settings) -> tuple[float, TimedDaemon]:
    daemon = TimedDaemon(settings, oneshot=True)
    started = time.perf_counter()
    assert await daemon.run() == 0
    return time.perf_counter() - started, daemon


def settings_for(work: Path, root: Path, inst: Any):
    cfg = work / "config.toml"
    cfg.write_text(
        f'[[roots]]\nname = "wh"\npath = "{root}"\ndialect = "postgres"\n'
        f'[state]\ndir = "{work / "state"}"\n[log]\nlevel = "warning"\n'
    )
    env = {"NEO4J_URI": inst.uri, "NEO4J_USER": inst.user, "NEO4J_PASSWORD": inst.password}
    return load_settings(cfg, env=env)


async def empty_graph(inst: Any) -> None:
    from neo4j import AsyncGraphDatabase

    async with (
        AsyncGraphDatabase.driver(inst.uri, auth=(inst.user, inst.password)) as d,
        d.session() as session,
    ):
        # CALL ... IN TRANSACTIONS needs an auto-commit transaction: session.run.
        for cypher in (
            "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
            "MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS",
        ):
            result = await session.run(cypher)
            await result.consume()


async def child(work: Path, root: Path, uri: str, user: str, password: str) -> None:
    """One warm `scan` with the lineaged that PYTHONPATH names; one JSON line out."""
    from types import SimpleNamespace

    configure_logging("warning", "console")
    inst = SimpleNamespace(uri=uri, user=user, password=password)
    seconds, d = await scan(settings_for(work, root, inst))
    assert d.pipeline is not None and d.writer is not None
    orphans = getattr(d, "orphans", None)  # trees before the sweep policy always sweep
    report = {
        "seconds": seconds,
        "startup_s": d.startup_s,
        "reconcile_s": d.reconcile_s,
        "read": d.pipeline.stats.files_seen,
        "parsed": d.pipeline.stats.parsed,
        "tx": d.writer.stats.transactions,
        "steps": d.slowest_steps(),
        "sweep": orphans.outcome if orphans is not None else "swept",
    }
    print(json.dumps(report))


def take_turns(n: int, work: Path, root: Path, inst: Any, before: list[Path], rounds: int) -> None:
    trees = [("this", REPO)] + [(f"before {p}", p.resolve()) for p in before]
    homes = {}
    for k, (label, _) in enumerate(trees):
        homes[label] = work / f"tree{k}"
        shutil.copytree(work / "state", homes[label] / "state")
    runs: dict[str, list[float]] = {label: [] for label, _ in trees}
    for r in range(rounds):
        turn = trees[r % len(trees) :] + trees[: r % len(trees)]
        for label, source in turn:
            load = os.getloadavg()[0]
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(homes[label])]
            cmd += ["--root", str(root), "--uri", inst.uri, "--user", inst.user]
            cmd += [f"--password={inst.password}"]  # may begin with "-"
            out = subprocess.run(
                cmd,
                env=dict(os.environ, PYTHONPATH=str(source)),
                # A forkserver's `python -c` puts the cwd ahead of PYTHONPATH: workers
                # would import the checkout the bench was started from.
                cwd=source,
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            ).stdout
            rep = json.loads(out.strip().splitlines()[-1])
            assert rep["read"] == rep["parsed"] == rep["tx"] == 0, rep
            runs[label].append(rep["seconds"])
            print(
                f"  round {r + 1} {label} (load {load:.1f}): {rep['seconds']:.2f} s "
                f"{n / rep['seconds']:.0f} files/s; start-up {rep['startup_s']:.2f} s, "
                f"reconcile plan {rep['reconcile_s']:.2f} s, sweep {rep['sweep']}; "
                f"slowest steps (s): {rep['steps']}"
            )
    mine = statistics.median(runs["this"])
    for label, seconds in runs.items():
        med = statistics.median(seconds)
        print(f"{label}: median {med:.2f} s ({n / med:.0f} files/s), this / it {mine / med:.3f}")


async def main(n: int, profile: bool, before: list[Path], rounds: int) -> None:
    configure_logging("warning", "console")
    nl = neo4j_local()
    work = Path(tempfile.mkdtemp(prefix="lineaged-bench-"))
    inst = nl.start("bench-warm", root=work / "neo4j", heap="2g", pagecache="1g")
    try:
        root = work / "sql"
        made = time.perf_counter()
        size = make_tree(root, n)
        made_s = time.perf_counter() - made
        settings = settings_for(work, root, inst)
        print(
            f"corpus: {n} files, {size / 1e6:.1f} MB (generated in {made_s:.1f} s), "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        )

        cold_s, cold = await scan(settings)
        with sampled("warm restart", enabled=profile):
            warm_s, warm = await scan(settings)
        assert cold.pipeline and warm.pipeline and warm.writer
        ws = warm.pipeline.stats
        print(
            f"cold ingest : {cold_s:8.2f} s  {n / cold_s:9.0f} files/s  "
            f"parsed={cold.pipeline.stats.parsed}"
        )
        print(
            f"warm restart: {warm_s:8.2f} s  {n / warm_s:9.0f} files/s  "
            f"read={ws.files_seen} parsed={ws.parsed} write_tx={warm.writer.stats.transactions}"
        )
        print(
            f"  of which start-up {warm.startup_s:.2f} s, reconcile plan {warm.reconcile_s:.2f} s "
            f"({n / warm.reconcile_s:.0f} files/s), rest (idle wait, drain, shutdown) "
            f"{warm_s - warm.startup_s - warm.reconcile_s:.2f} s"
        )
        print(f"  slowest lifecycle steps (s): {warm.slowest_steps()}")
        why = warm.orphans.reason or "graph unchanged since the cold ingest's clean stop"
        print(f"  orphan sweep: {warm.orphans.outcome} ({why})")
        assert warm.pool is not None
        print(
            f"  schema catalog records decoded: {'yes' if warm.schema.loaded else 'no'}, "
            f"worker pools started: {warm.pool.stats.executors_started}"
        )
        print(f"warm / cold : {warm_s / cold_s:.4f}")
        ok = ws.files_seen == 0 and ws.parsed == 0 and warm.writer.stats.transactions == 0
        print("warm restart read, parsed and wrote nothing:", "YES" if ok else "NO")
        if before:
            take_turns(n, work, root, inst, before, rounds)
            print(f"load at the end {os.getloadavg()[0]:.1f}")
            if not ok:
                sys.exit(1)
            return

        # The graph lost, the cache kept: rebuilt without parsing.
        await empty_graph(inst)
        with sampled("rebuild from cache", enabled=profile):
            rebuild_s, rebuild = await scan(settings)
        assert rebuild.pipeline and rebuild.writer
        rs = rebuild.pipeline.stats
        print(
            f"graph lost, cache kept: {rebuild_s:8.2f} s  {n / rebuild_s:7.0f} files/s  "
            f"parsed={rs.parsed} cache_hits={rs.cache_hits} "
            f"write_tx={rebuild.writer.stats.transactions} rows={rebuild.writer.stats.rows}  "
            f"({rebuild_s / cold_s:.2f} x cold)"
        )
        print(f"load at the end {os.getloadavg()[0]:.1f}")
        if not ok or rs.parsed:
            sys.exit(1)
    finally:
        nl.stop("bench-warm", root=work / "neo4j")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="py-spy the warm and rebuild runs")
    parser.add_argument(
        "--before", type=Path, action="append", default=[], help="another source tree"
    )
    parser.add_argument("--rounds", type=int, default=3, help="warm restarts per tree")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--user", help=argparse.SUPPRESS)
    parser.add_argument("--password", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        asyncio.run(child(args.child, args.root, args.uri, args.user, args.password))
    else:
        asyncio.run(main(args.files, args.profile, args.before, args.rounds))
