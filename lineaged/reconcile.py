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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import anyio
import structlog
from anyio.abc import TaskGroup

from lineaged.cache.stat_cache import stat_key
from lineaged.gcpause import gc_paused
from lineaged.model import (
    GRAPH_FAILED,
    GRAPH_SHA,
    GRAPH_VERSION,
    Change,
    FileEvent,
    FileRef,
    GraphFile,
    Priority,
)
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
    # The walk's stat of each file offered as CHANGED (see `settled`).
    stale_stats: dict[str, StatKey] = field(default_factory=dict)

    @property
    def deleted(self) -> int:
        return sum(1 for e in self.events if e.change is Change.DELETED)


# A file's (size, mtime_ns, inode): the stat the stat cache vouches for.
StatKey = tuple[int, int, int]
# The stat cache's trusted (not racily clean) rows of a root:
# (path, size, mtime_ns, inode, sha256).
TrustedRow = tuple[str, int, int, int, str]
# Given the graph's files of a root, the files that need no reading when their stat
# still is the vouched one: path -> (size, mtime_ns, inode).
Vouch = Callable[[dict[str, GraphFile]], Awaitable[dict[str, StatKey]]]


def vouched(
    graph: dict[str, GraphFile],
    trusted: Iterable[TrustedRow],
    version_of: Callable[[str], str] | str,
    schema_current: Callable[[str, str], bool] | None = None,
) -> dict[str, StatKey]:
    """path -> the stat under which the file needs nothing: the stat cache recorded
    that stat with hash H, and the graph holds H's lineage from `version_of(path)`
    (computed with the schema catalog's current columns when `schema_current` is given),
    or refused exactly H (FileState.is_current, one rule). One pass, no objects.
    `version_of` is a plain string when every file of the root has the same version
    (no rendering): no call per file."""
    out: dict[str, StatKey] = {}
    get = graph.get
    same = version_of if isinstance(version_of, str) else None
    for path, size, mtime_ns, inode, sha256 in trusted:
        state = get(path)
        if state is None:
            continue
        if sha256 == state[GRAPH_FAILED] or (
            sha256 == state[GRAPH_SHA]
            and state[GRAPH_VERSION] == (same if same is not None else version_of(path))
            and (schema_current is None or schema_current(path, sha256))
        ):
            out[path] = (size, mtime_ns, inode)
    return out


def settled(
    stale_stats: dict[str, StatKey],
    trusted: Iterable[TrustedRow],
    recorded: Callable[[str, str], bool],
) -> set[str]:
    """The stale paths whose content the schema catalog has already taken in: the stat
    cache recorded the walk's stat with hash H, and `recorded(path, H)` (the catalog's
    record of the file is current for H). The graph may lack them (a rebuild after the
    graph was lost: every file is stale), but what they define is known already, so
    the definitions-first ordering need not read them (stage.order_events)."""
    out: set[str] = set()
    get = stale_stats.get
    for path, size, mtime_ns, inode, sha256 in trusted:
        key = get(path)
        if key is not None and key == (size, mtime_ns, inode) and recorded(path, sha256):
            out.add(path)
    return out


def walk(matcher: RootMatcher) -> list[tuple[str, StatKey]]:
    """Every matching path of the root with its stat key (blocking: run in a thread)."""
    return [(rel, stat_key(st)) for rel, st in matcher.walk()]


def compare(
    walked: list[tuple[str, StatKey]], current: dict[str, StatKey]
) -> tuple[set[str], list[str]]:
    """The paths on disk, and those whose stat is not the one `current` vouches for
    (new, changed, or not vouched for)."""
    get = current.get
    return {rel for rel, _ in walked}, [rel for rel, key in walked if get(rel) != key]


async def plan_root(
    matcher: RootMatcher,
    graph_files: Callable[[str], Awaitable[dict[str, GraphFile]]],
    vouch: Vouch | None = None,
) -> ReconcilePlan:
    name = matcher.root.name
    # The walk (stat syscalls, in a thread) runs while the graph and the stat cache are
    # read. A file created and ingested while both run may look deleted: harmless, the
    # pipeline checks the disk again before it deletes anything (pipeline._updates).
    with gc_paused():  # one tuple or string per file of the root, several times over
        walked: list[tuple[str, StatKey]] = []

        async def walk_root() -> None:
            walked.extend(await asyncio.to_thread(walk, matcher))

        async with anyio.create_task_group() as tg:
            tg.start_soon(walk_root)
            known = await graph_files(name)
            current = await vouch(known) if vouch is not None and known else {}
        on_disk, stale = compare(walked, current)
        stale_set = set(stale)
        stale_stats = {rel: key for rel, key in walked if rel in stale_set} if stale else {}
    stale.sort()
    events = [_event(matcher, rel, Change.CHANGED) for rel in stale]
    events.extend(_event(matcher, rel, Change.DELETED) for rel in sorted(known.keys() - on_disk))
    plan = ReconcilePlan(
        name, len(on_disk), len(known), events, len(on_disk) - len(stale), stale_stats
    )
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
