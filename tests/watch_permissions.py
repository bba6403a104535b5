"""Run a Watcher where file modes apply (for test_watcher's permission test, in a child
started through tests/unprivileged.py): report whether the closed directory really is
closed to it, then, each time the test says so on stdin, the events and rescan
requests seen so far and the watched directories, as one JSON line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import structlog

from lineaged.config import RootSettings
from lineaged.paths import RootMatcher
from lineaged.watcher import Watcher


def _closed(path: Path) -> bool:
    try:
        os.listdir(path)
    except PermissionError:
        return True
    return False


async def main(root: Path) -> None:
    events: list[list[object]] = []
    rescans: list[str] = []
    watcher = Watcher(
        [RootMatcher(RootSettings("r", root))],
        lambda ev: events.append([ev.ref.path, ev.change.name, ev.created]),
        lambda _root, why: rescans.append(why),
    )
    loop = asyncio.get_running_loop()
    with structlog.testing.capture_logs() as logs:
        watcher.start()
        # The emitter thread sets the watches up: the test changes nothing before.
        for _ in range(600):
            if watcher.watched_directories():
                break
            await asyncio.sleep(0.1)
        print(json.dumps({"closed": _closed(root / "closed")}), flush=True)
        while await loop.run_in_executor(None, sys.stdin.readline):
            await asyncio.sleep(0.5)  # what the test just did arrives (asked again if not)
            report = {
                "events": events,
                "rescans": rescans,
                "watches": watcher.watched_directories(),
                "logs": [e["event"] for e in logs],
            }
            print(json.dumps(report), flush=True)
        watcher.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
