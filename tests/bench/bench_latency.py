"""Edit → graph latency of a live edit, idle vs while a backfill runs (realtime mode).

    .venv/bin/python tests/bench/bench_latency.py [--backfill 20000] [--edits 400]
        [--before DIR [--rounds 2]] [--in-process] [--neo4j-dir /dev/shm]

Starts a throw-away Neo4j (scripts/neo4j_local.py) and the daemon with --realtime.
Phase 1 (idle): edits of one file, each timed from the write() to the moment its new
lineage is visible in Neo4j to another client (this bench, polling every 2 ms on one
session with an auto-commit read). Phase 2: the same while the start-up reconcile
backfills N files (LOW priority); only edits that landed while the backfill was still
unfinished count. Prints p50/p99 of both and their ratio, where the time went
(lineaged/stages.py): per stage p50/p99 over the edits, and the stages of the edit at
the p50 and of the slowest one, and how long the whole backfill took from READY (the
price of putting live edits first). `watch` is write() → the watcher's event, `visible`
is the commit → this bench seeing the edit.

The daemon runs in a CHILD process (as a user runs it: the editor, the daemon and the
client asking Neo4j are different processes). Until session 4 it ran in this process,
on the bench's own event loop, so the bench's 2 ms poll competed with the daemon it
measured for the loop and the GIL; `--in-process` keeps that old mode for comparison.
The child writes each batch's stage clock as a JSON line (monotonic times are
system-wide, so they compare with this process's).

`--before DIR` also runs the daemon from another source tree (e.g. a `git worktree add
--detach` of main) in the same run: the trees take turns (ABBA over `--rounds`), the
graph is emptied before each turn, and the after/before ratios are printed.

`--neo4j-dir` puts the throw-away Neo4j's store elsewhere, e.g. on tmpfs (/dev/shm)
where a commit's fsync of the transaction log costs nothing: a bench-only setting that
shows what the disk's log force adds to an edit (a user's Neo4j keeps its durability).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from neo4j import AsyncGraphDatabase

from lineaged.config import load_settings
from lineaged.daemon import Daemon
from lineaged.logging import configure_logging
from lineaged.stages import STAGES, StageClock

sys.path.insert(0, str(Path(__file__).parent))
from bench_rebuild import jvm_threads_cpu
from bench_warm_restart import make_tree, neo4j_local

HERE = Path(__file__).resolve().parent

POLL_S = 0.002
VISIBLE = (
    "MATCH (:File {id: $id})-[:CONTAINS]->()-[:READS]->(t:Table {name: $t}) RETURN count(t) AS n"
)


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def count_files(driver, root: str) -> int:
    r = await driver.execute_query("MATCH (f:File {root: $r}) RETURN count(f) AS n", r=root)
    return r.records[0]["n"]


Profile = dict[str, float]  # stage → seconds, for one edit


@dataclass
class Clocks:
    """Stage clocks of the daemon's batches: appended in-process, or read from the
    child's JSON lines."""

    path: Path | None = None
    live: list[StageClock] = field(default_factory=list)
    backfill: list[StageClock] = field(default_factory=list)
    _offset: int = 0

    def add(self, clock: StageClock) -> None:
        (self.live if clock.live else self.backfill).append(clock)

    def refresh(self) -> None:
        if self.path is None or not self.path.exists():
            return
        with self.path.open() as f:
            f.seek(self._offset)
            for line in f:
                if not line.endswith("\n"):
                    break  # a line being written: read it next time
                self._offset += len(line)
                d = json.loads(line)
                self.add(StageClock(d["start"], d["live"], d["marks"]))


def profile_of(clocks: Clocks, started: float, asked: float, seen: float) -> Profile:
    """The stages of the edit written at `started`: its live batch is the first one
    whose triggering event came after the write. `visible` (its commit → the bench
    seeing it) is split into `poll_start` (→ the poll that saw it was sent; it waits
    for the poll before it to return) and `poll_answer` (that poll's round trip: how
    fast a busy Neo4j answers another client's read)."""
    clocks.refresh()
    clock = next((c for c in clocks.live if c.start >= started), None)
    if clock is None:
        return {}
    out = {"watch": clock.start - started, **clock.durations()}
    out.pop("cache_put", None)  # after the commit (or overlapping the write)
    committed = clock.marks.get("tx_commit", seen)
    out["visible"] = max(0.0, seen - committed)
    out["poll_start"] = max(0.0, asked - committed)
    out["poll_answer"] = max(0.0, seen - max(asked, committed))
    return out


async def edit_latencies(
    driver, live: Path, edits: int, tag: str, until_n: int | None, clocks: Clocks
) -> tuple[list[float], list[Profile]]:
    """Edit `live` `edits` times; return latencies (s) and stage profiles of edits that
    landed while the graph held fewer than `until_n` files (None: all)."""
    out, profiles = [], []
    # One session, auto-commit reads: one round trip per poll (execute_query would add
    # a COMMIT round trip to each), the lightest load a watching client can put on Neo4j.
    async with driver.session() as session:
        for i in range(edits):
            table = f"raw.{tag}{i}"
            started = time.monotonic()
            live.write_text(f"INSERT INTO mart.live SELECT x FROM {table}")
            while True:
                asked = time.monotonic()
                result = await session.run(VISIBLE, t=table, id=f"{tag}:live.sql")
                record = await result.single()
                if record["n"]:
                    break
                await asyncio.sleep(POLL_S)
            seen = time.monotonic()
            if until_n is not None and await count_files(driver, tag) >= until_n:
                break  # the backfill is over: later edits would measure an idle daemon
            out.append(seen - started)
            # Its batch reports its stages once its cache writes are done, after the commit.
            for _ in range(200):
                await asyncio.sleep(0.01)
                profile = profile_of(clocks, started, asked, seen)
                if profile and len(profile) > 2:
                    break
            profiles.append(profile)
    return out, profiles


class VmPauses:
    """Neo4j's own record of JVM stop-the-world pauses (debug.log, its pause monitor
    logs each one over 100 ms): what every client of a busy Neo4j waits through; and
    the JVM's CPU seconds by thread group over the same span (a fresh Neo4j's JIT
    compilers take a share of the 2 cores while the first edits run)."""

    def __init__(self, log: Path, pid: int) -> None:
        self._log = log
        self._offset = self._size()
        self._pid = pid
        self._cpu = jvm_threads_cpu(pid)

    def cpu_since_last(self) -> str:
        now = jvm_threads_cpu(self._pid)
        spent = {g: secs - self._cpu.get(g, 0.0) for g, secs in sorted(now.items())}
        self._cpu = now
        return "Neo4j CPU s " + ", ".join(f"{g} {secs:.1f}" for g, secs in spent.items())

    def _size(self) -> int:
        return self._log.stat().st_size if self._log.exists() else 0

    def since_last(self) -> str:
        if not self._log.exists():
            return "no debug.log"
        with self._log.open("rb") as f:
            f.seek(self._offset)
            text = f.read().decode(errors="replace")
        self._offset += len(text.encode())
        pauses = [int(m) for m in re.findall(r"stop-the-world pause: \{pauseTime=(\d+)", text)]
        if not pauses:
            return "no VM pause over 100 ms"
        return (
            f"{len(pauses)} VM pauses over 100 ms, longest {max(pauses)} ms, "
            f"{sum(pauses)} ms in all"
        )


@dataclass
class Turn:
    """One daemon run: its edits, and what its backfill did."""

    lat: list[float]
    profiles: list[Profile]
    backfill_s: float = 0.0  # READY → every backfill file in the graph
    lines: list[str] = field(default_factory=list)


class InProcess:
    """The daemon on this process's event loop (the old mode)."""

    def __init__(self, settings, clocks: Clocks) -> None:
        self.daemon = Daemon(settings)
        observe = self.daemon.metrics.observe_stages

        def record(clock: StageClock) -> None:
            clocks.add(clock)
            observe(clock)

        self.daemon.metrics.observe_stages = record  # type: ignore[method-assign]

    async def start(self) -> None:
        self._task = asyncio.create_task(self.daemon.run())
        await self.daemon.ready.wait()

    async def stop(self) -> None:
        self.daemon.request_stop("bench")
        await self._task


class Child:
    """The daemon in a child process (`--child`), from `tree` (None: this tree)."""

    def __init__(self, cfg: Path, env: dict[str, str], clocks_path: Path, tree: Path | None):
        self._args = [sys.executable, str(HERE / "bench_latency.py"), "--child", str(cfg)]
        self._args.append(str(clocks_path))
        self._env = dict(os.environ) | env
        # The tree is the child's cwd too: the pool's forkserver runs `python -c`, whose
        # sys.path starts with the cwd, so its workers import the lineaged found there.
        self._cwd = tree or HERE.parents[1]
        if tree is not None:
            # Before this tree's editable install (a meta path finder, after sys.path).
            self._env["PYTHONPATH"] = str(tree)

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self._args, env=self._env, cwd=self._cwd, stdout=asyncio.subprocess.PIPE
        )
        assert self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"daemon child did not start (exit {await self._proc.wait()})")

    async def stop(self) -> None:
        self._proc.send_signal(signal.SIGTERM)
        code = await self._proc.wait()
        if code != 0:
            raise RuntimeError(f"daemon child exited {code}")


async def child_main(cfg: str, clocks_path: str) -> int:
    """`--child`: run the daemon, append each batch's stage clock to `clocks_path`,
    print `ready` once it is READY, stop on SIGTERM."""
    configure_logging("warning", "console")
    env = {k: v for k, v in os.environ.items() if k.startswith(("LINEAGED_", "NEO4J_"))}
    settings = load_settings(Path(cfg), env=env, overrides={"realtime": True})
    daemon = Daemon(settings, handle_signals=True)
    observe = daemon.metrics.observe_stages
    out = open(clocks_path, "a", buffering=1)  # noqa: SIM115 - open while the daemon runs

    def record(clock: StageClock) -> None:
        out.write(json.dumps({"start": clock.start, "live": clock.live, "marks": clock.marks}))
        out.write("\n")
        observe(clock)

    daemon.metrics.observe_stages = record  # type: ignore[method-assign]
    task = asyncio.create_task(daemon.run())
    await daemon.ready.wait()
    print("ready", flush=True)
    try:
        return await task
    finally:
        out.close()


async def empty_graph(driver) -> None:
    """Every turn starts from an empty graph (the schema stays)."""
    async with driver.session() as session:  # IN TRANSACTIONS needs an auto-commit run
        result = await session.run(
            "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 20000 ROWS"
        )
        await result.consume()


async def run(
    work: Path,
    inst,
    backfill: int,
    edits: int,
    tag: str,
    tree: Path | None,
    in_process: bool,
    pauses: VmPauses,
) -> Turn:
    root = work / f"sql-{tag}"
    root.mkdir()
    if backfill:
        make_tree(root, backfill)
    cfg = work / f"{tag}.toml"
    cfg.write_text(
        f'[[roots]]\nname = "{tag}"\npath = "{root}"\n[service]\nmetrics_address = ""\n'
        f'[state]\ndir = "{work / ("state-" + tag)}"\n[log]\nlevel = "warning"\n'
    )
    # LINEAGED_* settings from the caller's environment apply (e.g. writer.rows_per_tx).
    env = {k: v for k, v in os.environ.items() if k.startswith("LINEAGED_")}
    env |= {"NEO4J_URI": inst.uri, "NEO4J_USER": inst.user, "NEO4J_PASSWORD": inst.password}
    clocks = Clocks(None if in_process else work / f"clocks-{tag}.jsonl")
    if in_process:
        daemon: InProcess | Child = InProcess(
            load_settings(cfg, env=env, overrides={"realtime": True}), clocks
        )
    else:
        assert clocks.path is not None
        daemon = Child(cfg, env, clocks.path, tree)
    async with AsyncGraphDatabase.driver(
        inst.uri, auth=(inst.user, inst.password), notifications_min_severity="OFF"
    ) as driver:
        await empty_graph(driver)
        await daemon.start()
        ready = time.monotonic()
        if backfill:
            while await count_files(driver, tag) < 100:  # backfill under way
                await asyncio.sleep(0.05)
        written_before, started = await count_files(driver, tag), time.monotonic()
        pauses.since_last()
        pauses.cpu_since_last()
        lat, profiles = await edit_latencies(
            driver, root / "live.sql", edits, tag, backfill + 1 if backfill else None, clocks
        )
        paused = f"{pauses.since_last()}; {pauses.cpu_since_last()}"
        written = await count_files(driver, tag) - written_before
        took = time.monotonic() - started
        left = backfill + 1 - await count_files(driver, tag) if backfill else 0
        while backfill and await count_files(driver, tag) < backfill + 1:
            await asyncio.sleep(0.1)
        turn = Turn(lat, profiles, backfill_s=time.monotonic() - ready)
        turn.lines.append(f"  Neo4j while editing ({tag}): {paused}")
        await daemon.stop()
    clocks.refresh()
    if backfill:
        during = [c for c in clocks.backfill if c.end >= started]
        turn.lines.append(
            f"  backfill of {backfill} files: {turn.backfill_s:.1f} s from READY "
            f"({backfill / turn.backfill_s:.0f} files/s); while editing {written} files in "
            f"{took:.1f} s ({written / took:.0f} files/s); pending after the last counted "
            f"edit: {left}"
        )
        # Where the backfill's batches spent their time meanwhile (seconds summed).
        totals: dict[str, float] = {}
        for c in during:
            for stage, seconds in c.durations().items():
                totals[stage] = totals.get(stage, 0.0) + seconds
        turn.lines.append(
            f"  backfill batches finished while editing: {len(during)}; stage seconds: "
            + ", ".join(f"{k} {v:.1f}" for k, v in sorted(totals.items(), key=lambda kv: -kv[1]))
        )
    return turn


def top_stage(profile: Profile) -> str:
    if not profile:
        return "no stages"
    stages = {k: v for k, v in profile.items() if not k.startswith("poll_")}
    stage = max(stages, key=stages.__getitem__)
    return f"{stage} {profile[stage] * 1000:.0f} ms"


def print_profile(name: str, lat: list[float], profiles: list[Profile]) -> None:
    """Per stage p50/p99 (ms) over the edits, then the stages of the edit at the p50
    and of the slowest edit."""
    order = ["watch", *(s for s in STAGES if s != "cache_put"), "visible"]
    parts = ["poll_start", "poll_answer"]  # of `visible`: not added to the total
    seen = [s for s in order if any(s in p for p in profiles)]
    print(f"  {name}: stage        p50 ms   p99 ms   p50-edit   slowest-edit")
    by_latency = sorted(range(len(lat)), key=lat.__getitem__)
    mid, worst = profiles[by_latency[len(by_latency) // 2]], profiles[by_latency[-1]]
    for stage in seen + parts:
        values = [p.get(stage, 0.0) for p in profiles if p]
        label = "  " + stage if stage in parts else stage
        print(
            f"    {label:18s} {pct(values, 0.5) * 1000:7.1f}  {pct(values, 0.99) * 1000:7.1f}"
            f"   {mid.get(stage, 0.0) * 1000:8.1f}   {worst.get(stage, 0.0) * 1000:12.1f}"
        )
    print(
        f"    {'total':18s} {pct(lat, 0.5) * 1000:7.1f}  {pct(lat, 0.99) * 1000:7.1f}"
        f"   {total(mid) * 1000:8.1f}   {total(worst) * 1000:12.1f}"
    )


def total(profile: Profile) -> float:
    return sum(v for k, v in profile.items() if not k.startswith("poll_"))


def report(label: str, backfill: int, idle: Turn, busy: Turn) -> dict[str, float]:
    print(f"== {label}")
    for line in idle.lines + busy.lines:
        print(line)
    for name, lat in (("idle", idle.lat), (f"during {backfill}-file backfill", busy.lat)):
        print(
            f"{name:32s} n={len(lat):3d}  p50={pct(lat, 0.5) * 1000:7.1f} ms  "
            f"p99={pct(lat, 0.99) * 1000:7.1f} ms  mean={statistics.mean(lat) * 1000:7.1f} ms"
        )
    for name, turn in (("idle", idle), ("backfill", busy)):
        worst = sorted(range(len(turn.lat)), key=turn.lat.__getitem__)[-3:][::-1]
        print(
            f"  {name}: slowest edits "
            + ", ".join(
                f"#{i + 1} {turn.lat[i] * 1000:.0f} ms ({top_stage(turn.profiles[i])})"
                for i in worst
            )
        )
    print(
        f"backfill / idle: p50 {pct(busy.lat, 0.5) / pct(idle.lat, 0.5):.2f}x  "
        f"p99 {pct(busy.lat, 0.99) / pct(idle.lat, 0.99):.2f}x"
    )
    print_profile("idle", idle.lat, idle.profiles)
    print_profile("backfill", busy.lat, busy.profiles)
    return {
        "idle p50": pct(idle.lat, 0.5),
        "idle p99": pct(idle.lat, 0.99),
        "busy p50": pct(busy.lat, 0.5),
        "busy p99": pct(busy.lat, 0.99),
        **({"backfill s": busy.backfill_s} if backfill else {}),
    }


async def main(args: argparse.Namespace) -> None:
    configure_logging("warning", "console")
    nl = neo4j_local()
    work = Path(tempfile.mkdtemp(prefix="lineaged-bench-"))
    store = Path(tempfile.mkdtemp(prefix="lineaged-bench-neo4j-", dir=args.neo4j_dir)) / "neo4j"
    inst = nl.start("bench-latency", root=store, heap="1g")
    pauses = VmPauses(nl.instance_dir("bench-latency", store) / "logs" / "debug.log", inst.pid)
    trees: list[tuple[str, Path | None]] = [("after", None)]
    if args.before:
        after_before = [("after", None), ("before", Path(args.before).resolve())]
        trees = [t for r in range(args.rounds) for t in after_before[:: 1 if r % 2 else -1]]
    mode = "in-process" if args.in_process else "child process"
    try:
        print(
            f"{os.cpu_count()} cores; edit -> graph latency, realtime mode, daemon in a "
            f"{mode}; {load()}; Neo4j store in {store.parent.parent}"
        )
        figures: dict[str, list[dict[str, float]]] = {}
        for n, (label, tree) in enumerate(trees):
            tag = f"t{n}"
            idle = await run(work, inst, 0, args.edits, f"{tag}idle", tree, args.in_process, pauses)
            busy = await run(
                work, inst, args.backfill, args.edits, f"{tag}busy", tree, args.in_process, pauses
            )
            print(f"  after turn {n + 1} ({label}): {load()}")
            figures.setdefault(label, []).append(report(label, args.backfill, idle, busy))
        if args.before:
            print("after / before (per figure, median over the turns):")
            for key in figures["after"][0]:
                a = statistics.median(f[key] for f in figures["after"])
                b = statistics.median(f[key] for f in figures["before"])
                unit, scale = ("s", 1) if key == "backfill s" else ("ms", 1000)
                print(
                    f"  {key:12s} after {a * scale:9.1f} {unit}  before {b * scale:9.1f} {unit}"
                    f"  {a / b:.2f}x"
                )
    finally:
        nl.stop("bench-latency", root=store)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(store.parent, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        sys.exit(asyncio.run(child_main(sys.argv[2], sys.argv[3])))
    parser = argparse.ArgumentParser()
    parser.add_argument("--backfill", type=int, default=20000)
    # 400: the p99 is then the 4th-slowest edit, not the 2nd of 150 (too noisy to
    # compare trees); at ~15-40 ms an edit they still land within a 20k backfill.
    parser.add_argument("--edits", type=int, default=400)
    parser.add_argument("--before", metavar="DIR", help="also run the daemon from this tree")
    parser.add_argument("--rounds", type=int, default=1, help="with --before: turns per tree")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="the daemon on the bench's own event loop (the pre-session-4 mode)",
    )
    parser.add_argument(
        "--neo4j-dir", help="where Neo4j's store goes (default: the temp dir); bench only"
    )
    asyncio.run(main(parser.parse_args()))
