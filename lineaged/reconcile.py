"""Start-up (and rescan) reconcile: compare a root on disk with its File nodes in the
graph, and enqueue the difference at low priority.

The graph is the ledger: what it holds is what was committed, so a crash at any moment
is repaired here. Files present on disk are all offered to the pipeline, which skips
those whose content hash already matches the graph; files the graph knows but the disk
no longer has are deleted.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from lineaged.model import Change, FileEvent, FileRef, Priority
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
CurrentCheck = Callable[[str, os.stat_result, Any], bool]


async def plan_root(
    matcher: RootMatcher,
    graph_paths: Callable[[str], Awaitable[dict[str, Any]]],
    is_current: CurrentCheck | None = None,
) -> ReconcilePlan:
    name = matcher.root.name
    disk = await asyncio.to_thread(lambda: list(matcher.walk()))
    disk_paths = [rel for rel, _st in disk]
    known = await graph_paths(name)
    stale = sorted(
        rel for rel, st in disk if is_current is None or not is_current(rel, st, known.get(rel))
    )
    events = [
        file_event(
            FileRef(name, rel), matcher.abs_path(FileRef(name, rel)), Change.CHANGED, Priority.LOW
        )
        for rel in stale
    ]
    on_disk = set(disk_paths)
    for rel in sorted(set(known) - on_disk):
        ref = FileRef(name, rel)
        events.append(file_event(ref, matcher.abs_path(ref), Change.DELETED, Priority.LOW))
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
