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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineaged.graph.dump import dump_lines, integrity_problems

from .test_daemon_process import DaemonProcess, disk_shas, file_shas, free_port, write_config

LINEAGED = Path(sys.executable).with_name("lineaged")


@dataclass
class CrashReport:
    kills: int = 0
    killed_behind: int = 0  # kills that landed with the graph not yet equal to the disk
    operations: int = 0
    files: int = 0
    dump_lines: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)
    equal: bool = False


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


def _kill_tree(daemon: DaemonProcess) -> None:
    """SIGKILL the daemon itself (the crash), then its leftover workers, which a killed
    parent does not take down (issue 13 item 5; reaped here so tests leave nothing)."""
    pgid = os.getpgid(daemon.proc.pid)
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    daemon.kill()


def _daemon(config: Path, server: Any, log: Path) -> DaemonProcess:
    return DaemonProcess(config, server, None, log, own_group=True)


async def crash_rounds(
    graph: Any, server: Any, work: Path, *, files: int, kills: int, seed: int
) -> CrashReport:
    rng = random.Random(seed)
    report = CrashReport()
    root = work / "sql"
    make_tree(root, files, rng)
    cfg = work / "config.toml"
    write_config(cfg, root, work / "state", free_port(), max_batch=10)
    log = work / "daemon.log"

    for _ in range(kills):
        started = log.read_text().count("daemon_ready") if log.exists() else 0
        daemon = _daemon(cfg, server, log)
        try:
            # Edits land while the daemon starts and reconciles, then while it writes;
            # the kill comes at a random moment after it is ready.
            report.operations += mutate(root, rng, rng.randint(1, 10))
            while daemon.logs().count("daemon_ready") == started:
                assert daemon.proc.poll() is None, daemon.logs()[-3000:]
                await asyncio.sleep(0.05)
            for _step in range(rng.randint(0, 3)):
                await asyncio.sleep(rng.uniform(0.0, 0.8))
                report.operations += mutate(root, rng, rng.randint(1, 15))
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            if await file_shas(graph) != disk_shas(root):
                report.killed_behind += 1
        finally:
            _kill_tree(daemon)
        report.kills += 1
        report.operations += mutate(root, rng, rng.randint(0, 10))  # while it is down

    on_disk = disk_shas(root)
    report.files = len(on_disk)
    daemon = _daemon(cfg, server, log)
    try:
        deadline = asyncio.get_running_loop().time() + 240
        while await file_shas(graph) != on_disk:
            assert asyncio.get_running_loop().time() < deadline, daemon.logs()[-3000:]
            await asyncio.sleep(0.2)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(60) == 0, daemon.logs()[-3000:]
    finally:
        daemon.kill()
    resumed = await dump_lines(graph)
    report.problems = await integrity_problems(graph)

    # A clean ingest of the final tree, with fresh state, for comparison.
    await clear(graph)
    env = {
        **os.environ,
        "NEO4J_URI": server.uri,
        "NEO4J_USER": server.user,
        "NEO4J_PASSWORD": server.password,
    }
    env.pop("NOTIFY_SOCKET", None)
    write_config(cfg, root, work / "clean-state", free_port())
    scan = await asyncio.to_thread(
        subprocess.run,
        [str(LINEAGED), "scan", "-c", str(cfg), "--log-format", "json", "--progress", "never"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert scan.returncode == 0, scan.stderr[-3000:]
    clean = await dump_lines(graph)
    report.dump_lines = len(clean)
    report.equal = clean == resumed
    if not report.equal:
        diff = sorted(set(clean) ^ set(resumed))[:20]
        raise AssertionError(f"dump after crashes differs from a clean ingest: {diff}")
    return report


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
