"""kill -9 of the real daemon process: nothing it started keeps running (workers, the
forkserver, the resource tracker), and a restart completes the graph."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from pathlib import Path
from typing import Any

import psutil

from .graphs import wait_for
from .test_daemon_process import (
    DaemonProcess,
    disk_shas,
    file_shas,
    free_port,
    make_corpus,
    run_until_graph_matches,
    write_config,
)


async def test_kill_9_leaves_no_process_behind_and_a_restart_completes_the_graph(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    cfg = tmp_path / "config.toml"
    write_config(cfg, root, tmp_path / "state", free_port(), max_batch=20)
    log = tmp_path / "daemon.log"
    rng = random.Random(13)
    kills = 0
    for round_ in range(3):
        # Every round changes every file, so the graph holds none of this round's content
        # when the daemon starts: a file written with it proves this daemon is ingesting
        # (files left by an earlier round must not satisfy the wait before its pool exists).
        make_corpus(root, 150, salt=round_)
        on_disk = disk_shas(root)
        daemon = DaemonProcess(cfg, neo4j_server, None, log)
        children: list[psutil.Process] = []
        try:
            await wait_for(
                lambda: file_shas(graph),
                lambda f, disk=on_disk: any(disk.get(p) == sha for p, sha in f.items()),
                90,
            )
            # Somewhere in the middle of parsing and writing, not at a quiet moment.
            await asyncio.sleep(rng.uniform(0, 0.5))
            children = psutil.Process(daemon.proc.pid).children(recursive=True)
            assert len(children) >= 3  # resource tracker, forkserver, worker(s)
            daemon.signal(signal.SIGKILL)
            assert daemon.wait(10) == -signal.SIGKILL
            kills += 1
            _gone, alive = psutil.wait_procs(children, timeout=30)
            assert alive == [], [(p.pid, p.cmdline()[:4]) for p in alive]
        finally:
            daemon.kill()
            for p in children:
                with contextlib.suppress(psutil.Error):
                    p.kill()
    assert kills == 3
    await run_until_graph_matches(cfg, neo4j_server, graph, on_disk, log)
