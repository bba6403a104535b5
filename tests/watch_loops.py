"""Run a Watcher on a root full of directory-link loops (for test_watcher's loop test,
in a child process with bounded memory): print the number of watched directories, the
loop warnings, and the paths of the events a new file produced, as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import structlog

from lineaged.config import RootSettings
from lineaged.paths import RootMatcher
from lineaged.watcher import Watcher


async def main(root: Path) -> None:
    events: list[str] = []
    watcher = Watcher(
        [RootMatcher(RootSettings("r", root, follow_symlinks=True))],
        lambda ev: events.append(ev.ref.path),
        lambda *_: None,
    )
    with structlog.testing.capture_logs() as logs:
        watcher.start()
        await asyncio.sleep(1.0)
        (root / "sub" / "new.sql").write_text("select 1")
        deadline = time.monotonic() + 20
        while not events and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        watches = watcher.watched_directories()
        watcher.stop()
    loops = [e for e in logs if e["event"] == "directory_loop_skipped"]
    print(json.dumps({"watches": watches, "loops": loops, "events": sorted(set(events))}))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
