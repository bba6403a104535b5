"""The crash test's body, shared by tests/integration/test_crash.py (small, in CI) and
tests/bench/bench_crash.py (longer): SIGKILL a real daemon process at random moments
while its files change, restart it, and compare the graph with a clean ingest of the
final tree (canonical dump) plus the integrity queries, which must find nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from prometheus_client.parser import text_string_to_metric_families

from lineaged.graph.dump import dump_lines, integrity_problems

from .configs import process_env
from .test_daemon_process import (
    DaemonProcess,
    disk_shas,
    file_shas,
    free_port,
    http_get,
    write_config,
)

LINEAGED = Path(sys.executable).with_name("lineaged")


@dataclass
class CrashReport:
    seed: int = 0
    kills: int = 0
    killed_behind: int = 0  # kills that landed with the graph not yet equal to the disk
    operations: int = 0
    files: int = 0
    dump_lines: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)
    equal: bool = False
    rounds: list[str] = field(default_factory=list)  # one line per daemon start
    descendants: int = 0  # workers and helpers the killed daemons had
    leftovers: list[str] = field(default_factory=list)  # those alive 30 s after a kill

    def __str__(self) -> str:
        return (
            f"seed {self.seed}: {self.kills} kills ({self.killed_behind} with the graph "
            f"behind the disk), {self.operations} file operations, {self.files} files "
            f"compared, dump of {self.dump_lines} lines equal to a clean ingest: "
            f"{self.equal}, integrity problems: {self.problems or 'none'}, leftover "
            f"processes after the kills: {len(self.leftovers)} of {self.descendants}"
        )


class CrashTestFailed(AssertionError):
    """A failure that carries everything needed to explain it without a re-run: the
    seed, what each daemon start did, the last daemon's exit code and own output, and
    how the graph differed from the disk."""


class _Start:
    """One daemon start: the process, its own metrics port, and where its own output
    begins in the log that every start of the run appends to.

    Every wait below reads THIS start's output and checks that the process still
    lives: a wait that a state left by an earlier round could satisfy would send the
    final SIGTERM before the daemon had even installed its signal handler (it died of
    the signal with no output at all, exit -15: the CI failure this was written for).
    Each start gets a fresh port: a killed daemon's port is not reused."""

    def __init__(self, work: Path, root: Path, server: Any, log: Path) -> None:
        self.port = free_port()
        config = work / "config.toml"
        write_config(config, root, work / "state", self.port, max_batch=10)
        self.offset = log.stat().st_size if log.exists() else 0
        self.log = log
        self.began = time.monotonic()
        self.daemon = DaemonProcess(config, server, None, log, own_group=True)

    @property
    def pid(self) -> int:
        return self.daemon.proc.pid

    def output(self) -> str:
        with self.log.open("rb") as fh:
            fh.seek(self.offset)
            return fh.read().decode(errors="replace")

    def age(self) -> float:
        return time.monotonic() - self.began

    def alive(self) -> None:
        code = self.daemon.proc.poll()
        assert code is None, f"daemon pid {self.pid} exited {code}"

    async def logged(self, event: str, timeout: float) -> None:
        """Until this start's own output holds `event` (a JSON log line's event)."""
        deadline = time.monotonic() + timeout
        while f'"event": "{event}"' not in self.output():
            self.alive()
            assert time.monotonic() < deadline, f"no {event} within {timeout:.0f} s"
            await asyncio.sleep(0.05)

    async def idle(self, timeout: float) -> None:
        """Until /metrics shows nothing pending, queued, parsing or being written, twice
        in a row half a second apart (a plan's events reach the batcher a moment after
        the plan is logged)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:
            self.alive()
            assert time.monotonic() < deadline, f"not idle within {timeout:.0f} s"
            quiet = quiet + 1 if await asyncio.to_thread(self._idle_now) else 0
            await asyncio.sleep(0.5)

    def _idle_now(self) -> bool:
        code, text = http_get(f"http://127.0.0.1:{self.port}/metrics")
        if code != 200:
            return False
        busy = {"lineaged_pending_files", "lineaged_batches_open", "lineaged_queue_depth"}
        busy |= {"lineaged_parse_in_flight", "lineaged_write_tx_in_flight"}
        return all(
            sample.value == 0
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name in busy
        )

    def describe(self, lines: int = 40) -> str:
        own = self.output().splitlines()
        tail = "\n".join(own[-lines:]) or "(nothing)"
        code = self.daemon.proc.poll()
        state = "still running" if code is None else f"exit code {code}"
        return (
            f"daemon pid {self.pid}, started {self.age():.1f} s ago, {state}, "
            f"{len(own)} lines of its own output, the last {min(lines, len(own))}:\n{tail}"
        )


def _text(rng: random.Random, i: int) -> str:
    cols = ", ".join(f"s.c{k}" for k in range(rng.randint(3, 12)))
    return (
        f"INSERT INTO mart.t{i} SELECT {cols}, d.name FROM raw.s{rng.randint(0, 9)} s "
        f"JOIN raw.dim{rng.randint(0, 3)} d ON s.k = d.k WHERE s.ok = {rng.randint(0, 3)};\n"
    )


def make_tree(root: Path, n: int, rng: random.Random) -> None:
    for i in range(n):
        path = root / f"d{i % 7}" / f"f{i}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_text(rng, i))


def mutate(root: Path, rng: random.Random, count: int) -> int:
    """`count` random edits: create, modify, delete, rename (within the root)."""
    done = 0
    for _ in range(count):
        files = sorted(root.rglob("*.sql"))
        op = rng.choice(["create", "modify", "modify", "delete", "rename"])
        if op == "create" or not files:
            i = rng.randint(10_000, 99_999)
            path = root / f"d{i % 7}" / f"n{i}.sql"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_text(rng, i))
        else:
            victim = rng.choice(files)
            if op == "modify":
                victim.write_text(_text(rng, rng.randint(0, 999)))
            elif op == "delete":
                victim.unlink()
            else:
                victim.rename(victim.with_name(f"r{rng.randint(0, 99_999)}.sql"))
        done += 1
    return done


def _kill_tree(daemon: DaemonProcess) -> tuple[int, list[str]]:
    """SIGKILL the daemon itself (the crash); its workers, forkserver and resource
    tracker must then exit by themselves (issue 13 item 5: lifeline.py). Returns how
    many descendants it had and which of them were still running 30 s later; those
    are reaped here by process group, so a run leaves nothing behind either way."""
    pgid = os.getpgid(daemon.proc.pid)
    try:
        children = psutil.Process(daemon.proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(10)
    _gone, alive = psutil.wait_procs(children, timeout=30)
    leftovers = []
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            leftovers.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    daemon.kill()
    return len(children), leftovers


def _sha_differences(graph: dict[str, str | None], disk: dict[str, str], limit: int = 10) -> str:
    missing = sorted(set(disk) - set(graph))
    extra = sorted(set(graph) - set(disk))
    stale = sorted(p for p in set(disk) & set(graph) if graph[p] != disk[p])
    if not (missing or extra or stale):
        return "graph files and hashes equal the disk"
    return "; ".join(
        f"{what} ({len(paths)}): {paths[:limit]}"
        for what, paths in (("not in the graph", missing), ("not on disk", extra), ("stale", stale))
        if paths
    )


async def crash_rounds(
    graph: Any, server: Any, work: Path, *, files: int, kills: int, seed: int
) -> CrashReport:
    report = CrashReport(seed=seed)
    last: list[_Start] = []
    root = work / "sql"
    try:
        return await _crash_rounds(graph, server, work, root, files, kills, report, last)
    except Exception as exc:
        parts = [
            f"crash test failed (LINEAGED_CRASH_SEED={seed} to repeat): "
            f"{type(exc).__name__}: {exc}",
            f"so far: {report}",
            "daemon starts:",
            *(f"  {line}" for line in report.rounds),
        ]
        if last:
            parts.append(f"last {last[-1].describe()}")
        with contextlib.suppress(Exception):
            parts.append(
                f"graph vs disk now: {_sha_differences(await file_shas(graph), disk_shas(root))}"
            )
        raise CrashTestFailed("\n".join(parts)) from exc


async def _crash_rounds(
    graph: Any,
    server: Any,
    work: Path,
    root: Path,
    files: int,
    kills: int,
    report: CrashReport,
    last: list[_Start],
) -> CrashReport:
    rng = random.Random(report.seed)
    make_tree(root, files, rng)
    log = work / "daemon.log"

    for n in range(1, kills + 1):
        run = _Start(work, root, server, log)
        last.append(run)
        note = f"round {n}: pid {run.pid}"
        try:
            # Edits land while the daemon starts and reconciles, then while it writes;
            # the kill comes at a random moment after it is ready.
            report.operations += mutate(root, rng, rng.randint(1, 10))
            await run.logged("daemon_ready", timeout=240)
            note += f", ready after {run.age():.1f} s"
            if rng.random() < 0.5:
                # Half the kills come once this daemon writes: on a loaded machine the
                # moments after `ready` fall mostly before its first transaction.
                await run.logged("batch_written", timeout=240)
                note += f", writing at {run.age():.1f} s"
            for _step in range(rng.randint(0, 3)):
                await asyncio.sleep(rng.uniform(0.0, 0.8))
                report.operations += mutate(root, rng, rng.randint(1, 15))
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            if behind := await file_shas(graph) != disk_shas(root):
                report.killed_behind += 1
            state = "behind" if behind else "equal to"
            note += f", killed at {run.age():.1f} s with the graph {state} the disk"
        finally:
            descendants, leftovers = _kill_tree(run.daemon)
        report.kills += 1
        report.descendants += descendants
        report.leftovers += leftovers
        down = mutate(root, rng, rng.randint(0, 10))  # while it is down
        report.operations += down
        report.rounds.append(f"{note}; {down} file operations while it was down")

    on_disk = disk_shas(root)
    report.files = len(on_disk)
    run = _Start(work, root, server, log)
    last.append(run)
    report.rounds.append(
        f"final: pid {run.pid}, at its start: {_sha_differences(await file_shas(graph), on_disk)}"
    )
    try:
        # This daemon's own start-up reconcile, whatever the graph already holds (the
        # killed one may have caught up, and nothing changed while it was down).
        await run.logged("reconcile_planned", timeout=240)
        deadline = time.monotonic() + 240
        while await file_shas(graph) != on_disk:
            run.alive()
            assert time.monotonic() < deadline, "the graph did not catch up within 240 s"
            await asyncio.sleep(0.2)
        await run.idle(timeout=120)
        run.daemon.signal(signal.SIGTERM)
        code = run.daemon.wait(120)
        assert code == 0, f"the final daemon exited {code} on SIGTERM"
    finally:
        run.daemon.kill()
    resumed = await dump_lines(graph)
    report.problems = await integrity_problems(graph)

    # A clean ingest of the final tree, with fresh state, for comparison.
    await clear(graph)
    env = process_env(server)
    cfg = work / "config.toml"
    write_config(cfg, root, work / "clean-state", free_port())
    scan = await asyncio.to_thread(
        subprocess.run,
        [str(LINEAGED), "scan", "-c", str(cfg), "--log-format", "json", "--progress", "never"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert scan.returncode == 0, f"the clean scan exited {scan.returncode}: {scan.stderr[-3000:]}"
    clean = await dump_lines(graph)
    report.dump_lines = len(clean)
    report.equal = clean == resumed
    if not report.equal:
        only_clean = sorted(set(clean) - set(resumed))
        only_resumed = sorted(set(resumed) - set(clean))
        raise AssertionError(
            f"dump after crashes differs from a clean ingest: {len(only_clean)} lines only "
            f"in the clean ingest, e.g. {_cut(only_clean)}; {len(only_resumed)} only after "
            f"the crashes, e.g. {_cut(only_resumed)}"
        )
    assert not report.problems, f"integrity problems: {report.problems}"
    assert not report.leftovers, f"processes outlived their killed daemon: {report.leftovers}"
    return report


def _cut(lines: list[str], n: int = 8, width: int = 300) -> list[str]:
    return [line[:width] for line in lines[:n]]


async def clear(graph: Any) -> None:
    """Empty the graph in bounded transactions (a dense node's DETACH DELETE in one
    transaction can exceed the transaction memory limit)."""
    for cypher in (
        "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
        "MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS",
    ):
        async with graph.session(database="neo4j") as session:
            result = await session.run(cypher)
            await result.consume()
