"""A changed context file (a dbt macro, properties/sources YAML, dbt_project.yml)
re-reads its root's render set-up and re-queues exactly the files whose rendering it
can affect; the pipeline then re-extracts those whose render key really changed."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from lineaged.model import Change, FileEvent, FileRef

log = structlog.get_logger(__name__)


async def refresh_render_contexts(
    roots: Mapping[str, Any], events: Iterable[FileEvent]
) -> list[FileEvent]:
    """`roots` maps root name → RootContext (its `render` is replaced in place).
    Returns events for the affected files, at the priority of the change."""
    changed: dict[str, list[FileEvent]] = {}
    for ev in events:
        ctx = roots.get(ev.ref.root)
        if ctx is not None and ctx.render.is_context_file(ev.ref.path):
            changed.setdefault(ev.ref.root, []).append(ev)
    out: list[FileEvent] = []
    for root, evs in changed.items():
        ctx = roots[root]
        before = ctx.render
        ctx.render = await asyncio.to_thread(before.refreshed)
        seen: set[str] = {e.ref.path for e in evs}
        for ev in evs:
            for path in ctx.render.affected_by(before, ev.ref.path):
                if path in seen:
                    continue
                seen.add(path)
                abs_path = os.path.join(str(ctx.settings.path), path)
                ref = FileRef(root, path)
                out.append(FileEvent(ref, abs_path, Change.CHANGED, ev.priority, time.monotonic()))
        log.info(
            "render_context_changed",
            root=root,
            files=sorted(e.ref.path for e in evs),
            requeued=len(out),
            problem=ctx.render.problem,
        )
    return out
