"""watchdog observer → FileEvents delivered on the event loop.

The observer thread never blocks: each event is handed to the loop with
`call_soon_threadsafe`, and the receiving side (the batcher) only updates a dict.
Directory-level events (a directory moved, deleted or created wholesale) ask for a
rescan of the root instead of trusting watchdog to enumerate everything below it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import structlog
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from lineaged.model import Change, FileEvent, Priority
from lineaged.paths import RootMatcher

log = structlog.get_logger(__name__)

EventSink = Callable[[FileEvent], None]
RescanSink = Callable[[str], None]


class _RootHandler(FileSystemEventHandler):
    def __init__(
        self,
        matcher: RootMatcher,
        loop: asyncio.AbstractEventLoop,
        on_event: EventSink,
        on_rescan: RescanSink,
    ) -> None:
        self._m = matcher
        self._loop = loop
        self._on_event = on_event
        self._on_rescan = on_rescan

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileOpenedEvent | FileClosedNoWriteEvent):
            return
        if isinstance(event, DirMovedEvent | DirDeletedEvent | DirCreatedEvent):
            self._rescan(f"directory {event.event_type}: {event.src_path}")
            return
        if isinstance(event, FileMovedEvent):
            self._emit(_decode(event.src_path), Change.DELETED)
            self._emit(_decode(event.dest_path), Change.CHANGED)
        elif isinstance(event, FileDeletedEvent):
            self._emit(_decode(event.src_path), Change.DELETED)
        elif isinstance(event, FileCreatedEvent):
            self._emit(_decode(event.src_path), Change.CHANGED, created=True)
        elif isinstance(event, FileModifiedEvent | FileClosedEvent):
            self._emit(_decode(event.src_path), Change.CHANGED)

    def _emit(self, path: str, change: Change, *, created: bool = False) -> None:
        ref = self._m.ref_for(path)
        if ref is None:
            return
        ev = FileEvent(ref, path, change, Priority.HIGH, time.monotonic(), created)
        self._loop.call_soon_threadsafe(self._on_event, ev)

    def _rescan(self, reason: str) -> None:
        self._loop.call_soon_threadsafe(self._on_rescan, self._m.root.name)
        log.debug("rescan_requested", root=self._m.root.name, reason=reason)


def _decode(path: str | bytes) -> str:
    return os.fsdecode(path)


class Watcher:
    """Recursive watches on every root; start()/stop() from the event loop's thread."""

    def __init__(
        self,
        matchers: list[RootMatcher],
        on_event: EventSink,
        on_rescan: RescanSink,
    ) -> None:
        self._matchers = matchers
        self._on_event = on_event
        self._on_rescan = on_rescan
        self._observer: Observer | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        observer = Observer()
        for m in self._matchers:
            handler = _RootHandler(m, loop, self._on_event, self._on_rescan)
            observer.schedule(handler, m.base, recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is None:
            return
        self._observer.stop()
        self._observer.join(timeout=5)
        self._observer = None
