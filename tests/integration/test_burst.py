"""10,000 files created as fast as possible under a watched root: every one reaches the
graph exactly once (one File node each, parsed once, written once), with the kernel
queue intact and with a real IN_Q_OVERFLOW forced by holding watchdog's inotify reader
while the burst runs (no sysctl needed: the kernel queue simply fills up)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from .graphs import query, wait_for
from .test_watcher_editing import make_settings, running

FILES = 10_000
DIRS = 10


def burst(root: Path) -> dict[str, str]:
    """Create FILES files over DIRS directories (made here unless they exist), each with
    its own content (so the parse cache cannot hide a second parse). Returns path ->
    sha256."""
    shas = {}
    for d in range(DIRS):
        (root / f"d{d}").mkdir(exist_ok=True)
        for i in range(FILES // DIRS):
            rel = f"d{d}/f{i:04}.sql"
            data = f"INSERT INTO t.d{d}_{i} SELECT id FROM s.src{i % 50}".encode()
            (root / rel).write_bytes(data)
            shas[rel] = hashlib.sha256(data).hexdigest()
    return shas


async def file_shas(graph: Any) -> dict[str, str]:
    rows = await query(graph, "MATCH (f:File) RETURN f.path AS p, f.sha256 AS s")
    return {r["p"]: r["s"] for r in rows}


@pytest.mark.parametrize("overflow", [False, True], ids=["intact", "overflow"])
async def test_burst_of_10000_files_is_ingested_exactly_once(
    graph: Any, neo4j_server: Any, tmp_path: Path, overflow: bool
) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    if overflow:
        # Files in new directories raise no event until the directory's own IN_CREATE is
        # read: the directories must be watched already for the queue to fill.
        for d in range(DIRS):
            (root / f"d{d}").mkdir()
    # Default (non-realtime) debounce, as a service would run.
    settings = make_settings(root, neo4j_server, tmp_path, realtime=False)
    async with running(settings) as daemon:
        assert daemon.watcher is not None and daemon.pipeline is not None
        hold: Any = contextlib.nullcontext()
        if overflow:
            hold = daemon.watcher._observer.inotify_fd._lock  # type: ignore[union-attr]
        started = time.monotonic()
        with hold:
            shas = burst(root)
        created = time.monotonic() - started
        got = await wait_for(
            lambda: file_shas(graph), lambda f: len(f) >= FILES, timeout=150, interval=1.0
        )
        await asyncio.sleep(2.0)  # anything still queued would show up as a second parse
        assert await file_shas(graph) == shas == got
        stats = daemon.pipeline.stats
        print(
            f"\n{FILES} files created in {created:.1f} s, in the graph after "
            f"{time.monotonic() - started:.1f} s; troubles={daemon.watcher.troubles} "
            f"rescans={daemon.rescans.scans} parsed={stats.parsed} written={stats.written}"
        )
        if overflow:
            assert daemon.watcher.troubles >= 1, "the overflow was not detected"
        assert stats.parsed == FILES, "a file was parsed twice (or not at all)"
        assert stats.written == FILES, "a file was written twice"
        assert stats.errors == 0
