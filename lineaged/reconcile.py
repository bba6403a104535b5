"""Start-up (and rescan) reconcile: compare a root on disk with its File nodes in the
graph, and enqueue the difference at low priority.

The graph is the ledger: what it holds is what was committed, so a crash at any moment
is repaired here. Files present on disk are all offered to the pipeline, which skips
those whose content hash already matches the graph; files the graph knows but the disk
no longer has are deleted.

The same plan serves every later rescan (a directory event, an inotify overflow, a
refused watch, the periodic backstop): with the stat cache it costs one walk with
`stat` and one graph query per root, and reads only files whose stat changed.
`RescanScheduler` coalesces requests so that a storm of them costs one or two scans.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import structlog
from anyio.abc import TaskGroup

from lineaged.model import Change, FileEvent, FileRef, FileState, Priority
from lineaged.paths import RootMatcher
from lineaged.pipeline import file_event

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReconcilePlan:
    root: str
    on_disk: int
    in_graph: int
    events: list[FileEvent]
    current: int = 0  # skipped without reading: stat unchanged and hash matches the graph

    @property
    def deleted(self) -> int:
        return sum(1 for e in self.events if e.change is Change.DELETED)


# (relative path, its stat, the graph's state of it or None) -> True when the file is
# known to be current without reading it (the stat cache vouches for its hash).
CurrentCheck = Callable[[str, os.stat_result, FileState | None], bool]


async def plan_root(
    matcher: RootMatcher,
    graph_paths: Callable[[str], Awaitable[dict[str, FileState]]],
    is_current: CurrentCheck | None = None,
) -> ReconcilePlan:
    name = matcher.root.name
    # The graph first, then the disk: a file created and ingested between the two looks
    # new (harmless, its hash matches) instead of deleted (wrong).
    known = await graph_paths(name)
    disk = await asyncio.to_thread(lambda: list(matcher.walk()))
    disk_paths = [rel for rel, _st in disk]
    stale = sorted(
        rel for rel, st in disk if is_current is None or not is_current(rel, st, known.get(rel))
    )
    events = [_event(matcher, rel, Change.CHANGED) for rel in stale]
    on_disk = set(disk_paths)
    events.extend(_event(matcher, rel, Change.DELETED) for rel in sorted(set(known) - on_disk))
    plan = ReconcilePlan(name, len(disk_paths), len(known), events, len(disk_paths) - len(stale))
    log.info(
        "reconcile_planned",
        root=name,
        on_disk=plan.on_disk,
        in_graph=plan.in_graph,
        current=plan.current,
        deleted=plan.deleted,
    )
    return plan


def _event(matcher: RootMatcher, rel: str, change: Change) -> FileEvent:
    ref = FileRef(matcher.root.name, rel)
    priority = matcher.priority_for(rel, Priority.LOW)
    return file_event(ref, matcher.abs_path(ref), change, priority)


class RescanScheduler:
    """Runs `scan(root)` on request, at most one per root at a time: requests that
    arrive while a scan runs collapse into a single follow-up scan (which will see
    everything they could have seen). The scans are tasks of the task group given to
    `attach()`; its owner waits for or cancels them."""

    def __init__(self, scan: Callable[[str], Awaitable[None]]) -> None:
        self._scan = scan
        self._tg: TaskGroup | None = None
        self._running: set[str] = set()
        self._again: set[str] = set()
        self.requested = 0
        self.scans = 0

    def attach(self, tg: TaskGroup) -> None:
        self._tg = tg

    @property
    def busy(self) -> bool:
        """A scan is running or due."""
        return bool(self._running)

    def request(self, root: str, reason: str = "requested") -> None:
        if self._tg is None:
            raise RuntimeError("RescanScheduler.request() before attach()")
        self.requested += 1
        if root in self._running:
            self._again.add(root)
            return
        self._running.add(root)
        log.debug("rescan_scheduled", root=root, reason=reason)
        self._tg.start_soon(self._loop, root, name=f"reconcile-{root}")

    async def _loop(self, root: str) -> None:
        try:
            while True:
                self._again.discard(root)
                self.scans += 1
                try:
                    await self._scan(root)
                except Exception:
                    # The next request or the periodic rescan tries again.
                    log.exception("rescan_failed", root=root)
                if root not in self._again:
                    return
        finally:
            self._running.discard(root)
            self._again.discard(root)

    async def periodic(
        self, interval_s: Callable[[], float], roots: Callable[[], list[str]]
    ) -> None:
        """The backstop for anything the watcher could not see (a root it could not
        watch, a link target outside the root, a kernel that lost events silently)."""
        while True:
            every = interval_s()
            await anyio.sleep(every if every > 0 else 60.0)
            if interval_s() <= 0:
                continue  # switched off (possibly by a reload); look again later
            for root in roots():
                self.request(root, "periodic rescan")
