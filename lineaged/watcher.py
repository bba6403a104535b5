"""watchdog observer → FileEvents delivered on the event loop; lost events → rescans.

The observer thread never blocks: each event is handed to the loop with
`call_soon_threadsafe`, and the receiving side (the batcher) only updates a dict.

No change may be lost silently, so every way inotify can lose events asks for a rescan
of the affected root (`on_rescan(root, reason)`):
- the kernel queue overflowed (IN_Q_OVERFLOW). watchdog 7.1 sees it but only rebuilds
  its own watches and logs through stdlib logging; its event handlers never hear of it
  (watchdog issue #654). `_GuardedWatchGroup` hooks the callback inotify_c calls;
- a watch could not be added below a root (max_user_watches: ENOSPC, or EMFILE/ENOMEM).
  watchdog swallows these for sub-directories, so `_GuardedWatchGroup` reports them; a
  root that cannot be watched at all is logged and left to the periodic rescan;
- a directory moved, deleted or created: watchdog already synthesises events for the
  files below, the rescan is the safety net for what it cannot see (a directory moved
  out of the root only produces one event for the directory itself).
The daemon coalesces rescans and also runs one periodically, stat-only, as a backstop.

Only the event kinds lineaged acts on are requested from the kernel (create, close
after write, move, delete, attribute change): IN_OPEN / IN_MODIFY would multiply the
queue traffic (IN_MODIFY fires on every write()) and bring overflows closer, while
editors and tools close what they write and the periodic rescan covers the rest.
IN_ATTRIB (chmod, chown, ACLs, touch: metadata, never a write()) is what makes a
permission fix visible at once:
- a directory that could not be read when the watches were set up has no watch (the
  kernel refuses one without read access) and its files are missing from the graph.
  When its attributes change and it can be read, it is watched (with everything below
  it) and each of its files is reported as created, as for a new directory. Any
  directory's attribute change also asks for a rescan of its root (a lost or restored
  search permission changes what can be read below it);
- a file's attribute change is reported as a change: a file that becomes readable is
  read and ingested (an unchanged file costs a read and a hash, nothing is written).
"""

from __future__ import annotations

import asyncio
import errno
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from watchdog.events import (
    DirAttribEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver

from lineaged.model import Change, FileEvent, Priority
from lineaged.paths import RootMatcher

log = structlog.get_logger(__name__)

EventSink = Callable[[FileEvent], None]
RescanSink = Callable[[str, str], None]  # (root name, reason)
Trouble = Callable[[str, str], None]  # (watched path, reason), called from watchdog threads

EVENT_KINDS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileClosedEvent,
    FileAttribEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
    DirAttribEvent,
]
# Watch-table exhaustion: the kernel refused a watch for lack of room, not because the
# directory vanished or is unreadable (those have no files we could report anyway).
_NO_ROOM = (errno.ENOSPC, errno.EMFILE, errno.ENOMEM)


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
        if isinstance(event, DirMovedEvent | DirDeletedEvent | DirCreatedEvent | DirAttribEvent):
            self.rescan(f"directory {event.event_type}: {_decode(event.src_path)}")
            return
        if isinstance(event, FileMovedEvent):
            self._emit(_decode(event.src_path), Change.DELETED)
            # A rename is atomic: what arrives is the whole content (an editor's save).
            self._emit(_decode(event.dest_path), Change.CHANGED, complete=True)
        elif isinstance(event, FileDeletedEvent):
            self._emit(_decode(event.src_path), Change.DELETED)
        elif isinstance(event, FileCreatedEvent):
            self._emit(_decode(event.src_path), Change.CHANGED, created=True)
        elif isinstance(event, FileClosedEvent):  # IN_CLOSE_WRITE: the writer is done
            self._emit(_decode(event.src_path), Change.CHANGED, complete=True)
        elif isinstance(event, FileModifiedEvent | FileAttribEvent):
            self._emit(_decode(event.src_path), Change.CHANGED)

    def _emit(
        self, path: str, change: Change, *, created: bool = False, complete: bool = False
    ) -> None:
        ref = self._m.ref_for(path)
        if ref is None:
            return
        if change is Change.CHANGED and not self._m.link_allowed(path):
            # A link out of the root (maybe replacing a file we had): not ours.
            change, created = Change.DELETED, False
        priority = self._m.priority_for(ref.path, Priority.HIGH)
        ev = FileEvent(ref, path, change, priority, time.monotonic(), created, complete)
        self._loop.call_soon_threadsafe(self._on_event, ev)

    def rescan(self, reason: str) -> None:
        self._loop.call_soon_threadsafe(self._on_rescan, self._m.root.name, reason)


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
        self._observer: BaseObserver | None = None
        self._handlers: dict[str, _RootHandler] = {}
        self._trouble_logged: dict[tuple[str, str], float] = {}
        self.troubles = 0  # overflows and refused watches seen (for tests and metrics)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        observer = _new_observer(self._trouble)
        for m in self._matchers:
            handler = _RootHandler(m, loop, self._on_event, self._on_rescan)
            self._handlers[m.base] = handler
            observer.schedule(
                handler,
                m.base,
                recursive=True,
                event_filter=EVENT_KINDS,
                follow_symlink=m.follow_symlinks,
            )
        observer.daemon = True
        observer.start()
        self._observer = observer

    def watched_directories(self) -> int:
        """Directories under an inotify watch, over all roots."""
        if self._observer is None:
            return 0
        groups = [getattr(e, "_inotify", None) for e in self._observer.emitters]
        return sum(len(getattr(g, "_active_callbacks_by_path", ())) for g in groups)

    def stop(self) -> None:
        if self._observer is None:
            return
        self._observer.stop()
        self._observer.join(timeout=5)
        self._observer = None

    def _trouble(self, watched: str, reason: str) -> None:
        """From a watchdog thread: events under `watched` may have been lost."""
        handler = self._handlers.get(watched)
        if handler is None:
            return
        self._loop.call_soon_threadsafe(self._note_trouble, handler, reason)
        handler.rescan(reason)

    def _note_trouble(self, handler: _RootHandler, reason: str) -> None:
        # One WARNING per root and kind every 10 s: a watch limit hit on a big tree
        # would otherwise log once per directory.
        self.troubles += 1
        root = handler._m.root.name
        kind = reason.split(":", 1)[0]
        now = time.monotonic()
        if now - self._trouble_logged.get((root, kind), -1e9) >= 10.0:
            self._trouble_logged[(root, kind)] = now
            log.warning("watch_events_lost_rescanning", root=root, reason=reason)


def _new_observer(on_trouble: Trouble) -> BaseObserver:
    if not sys.platform.startswith("linux"):
        # Other platforms' observers have no overflow to detect here; the periodic
        # rescan is their backstop.
        return Observer()
    return _GuardedObserver(on_trouble)


# -- the inotify layer ------------------------------------------------------------------

if sys.platform.startswith("linux"):
    from watchdog.observers.inotify import InotifyEmitter, InotifyWatchGroup
    from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent, InotifyFD, Mask
    from watchdog.observers.inotify_move_event_grouper import PathedInotifyEvent

    def _dir_key(path: bytes) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _inside(path: bytes, real_root: bytes) -> bool:
        real = os.path.realpath(path)
        return real == real_root or real.startswith(real_root + os.sep.encode())

    @dataclass
    class _GuardedWatchGroup(InotifyWatchGroup):
        """watchdog's watch group, telling us when it lost or could not watch events."""

        on_trouble: Callable[[str], None] = field(default=lambda _reason: None)

        def on_queue_overflow(self) -> None:
            super().on_queue_overflow()
            self.on_trouble("inotify queue overflow: events were lost")

        # Each directory is watched once, by (device, inode), under one path: with
        # follow_symlinks, `ln -s . sub/link` makes os.walk (which watchdog uses) see
        # sub/link/link/... without end, a watch and a log line per path, until
        # MemoryError. In-root directory links are never descended: their target is
        # watched under its real path (the walk in paths.py follows the same rule).
        _wd_by_dir: dict[tuple[int, int], int] = field(default_factory=dict, init=False)
        _dir_by_wd: dict[int, tuple[int, int]] = field(default_factory=dict, init=False)
        _loops_logged: set[tuple[int, int]] = field(default_factory=set, init=False)

        def _add_all_callbacks(self, path: bytes) -> None:
            is_dir = os.path.isdir(path)
            self._add_callback(path)
            if not (is_dir and self.is_recursive):
                return
            for top, dirnames, _ in os.walk(path, followlinks=self.follow_symlink):
                dirnames[:] = [d for d in dirnames if self._descend(os.path.join(top, d))]

        def _descend(self, path: bytes) -> bool:
            if os.path.islink(path) and (
                not self.follow_symlink or _inside(path, self._real_root())
            ):
                return False
            return self._add_callback(path)

        def _real_root(self) -> bytes:
            return os.path.realpath(self.path)

        def _add_callback(self, path: bytes) -> bool:  # type: ignore[override]
            """watchdog's version, except that a directory already watched under
            another path is skipped (False), and a refused sub-directory watch is
            reported instead of swallowed: files below it would change unseen."""
            key = _dir_key(path)
            known = self._wd_by_dir.get(key) if key is not None else None
            if known is not None and known in self._active_callbacks_by_watch:
                self._note_loop(path, key, self._active_callbacks_by_watch[known])
                return False
            try:
                wd = self._inotify_fd.add_callback(path, self.event_mask, self._callback, self._id)
                if wd < 0:
                    # watchdog 7.1 does not raise for EACCES (a directory we may not
                    # read): it files the watch under descriptor -1, which no event
                    # ever names, and the directory would pass for watched.
                    self._inotify_fd.remove_callbacks([(wd, self._id)])
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
            except OSError as exc:
                if path == self.path:
                    raise
                if exc.errno in _NO_ROOM:
                    self.on_trouble(f"cannot add watch: {os.fsdecode(path)}: {exc.strerror}")
                return False
            self._active_callbacks_by_path[path] = wd
            self._active_callbacks_by_watch[wd] = path
            if key is not None:
                self._wd_by_dir[key] = wd
                self._dir_by_wd[wd] = key
            return True

        def _remove_watch_internally(self, wd: Any) -> None:
            super()._remove_watch_internally(wd)
            key = self._dir_by_wd.pop(wd, None)
            if key is not None and self._wd_by_dir.get(key) == wd:
                del self._wd_by_dir[key]

        def _recursive_simulate(self, src_path: bytes) -> list[Any]:
            # watchdog's version descends with os.walk(followlinks=...) into every
            # path, loops included; here only into directories watched under that path.
            events = []
            for top, dirnames, filenames in os.walk(src_path, followlinks=self.follow_symlink):
                watched = self._active_callbacks_by_path
                dirnames[:] = [d for d in dirnames if os.path.join(top, d) in watched]
                wd_top = watched.get(top)
                if wd_top is None:
                    continue
                for name in dirnames:
                    mask = InotifyConstants.IN_CREATE | InotifyConstants.IN_ISDIR
                    events.append(InotifyEvent(wd_top, mask, 0, name))
                for name in filenames:
                    events.append(InotifyEvent(wd_top, InotifyConstants.IN_CREATE, 0, name))
            return events

        def on_event(self, event: InotifyEvent) -> None:
            super().on_event(event)
            if event.is_attrib and event.is_directory and self.is_recursive:
                with self._lock:
                    if self.is_active:
                        self._watch_if_opened(event)

        def _watch_if_opened(self, event: InotifyEvent) -> None:
            """A directory without a watch (unreadable when the watches were set up, or
            since) whose attributes changed: if it can be read now, watch it and what
            is below it, and report its files as created. A watched directory's files
            were seen all along, so nothing is reported for it."""
            path = self._build_event_source_path(event)
            if path is None or path in self._active_callbacks_by_path:
                return
            if not self._descend(path):
                return  # still unreadable (or a link we do not follow): nothing new
            for top, dirnames, _ in os.walk(path, followlinks=self.follow_symlink):
                dirnames[:] = [d for d in dirnames if self._descend(os.path.join(top, d))]
            files = [e for e in self._recursive_simulate(path) if not e.is_directory]
            for sub_event in files:
                sub_path = self._build_event_source_path(sub_event)
                if sub_path is not None:
                    self._move_event_grouper.put_event(PathedInotifyEvent(sub_event, sub_path))
            log.info("directory_now_readable", path=os.fsdecode(path), files=len(files))

        def _note_loop(self, path: bytes, key: tuple[int, int], watched_as: bytes) -> None:
            if key in self._loops_logged:
                return
            self._loops_logged.add(key)
            log.warning(
                "directory_loop_skipped",
                path=os.fsdecode(path),
                same_as=os.fsdecode(watched_as),
                error="directory already watched under another path (a link loop?)",
            )

    class _GuardedEmitter(InotifyEmitter):
        def __init__(self, *args: Any, on_trouble: Trouble, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._on_trouble = on_trouble
            self._unwatched = False

        def on_thread_start(self) -> None:
            watched = os.fsdecode(self.watch.path)
            try:
                self._inotify = _GuardedWatchGroup(
                    self._inotify_fd,
                    os.fsencode(self.watch.path),
                    is_recursive=self.watch.is_recursive,
                    event_mask=self.get_event_mask_from_filter(),
                    follow_symlink=self.watch.follow_symlink,
                    on_trouble=lambda reason: self._on_trouble(watched, reason),
                )
            except OSError as exc:
                # The daemon keeps running on the other roots; this one is covered by
                # the start-up reconcile and the periodic rescan only.
                self._unwatched = True
                log.error("root_not_watched", path=watched, error=str(exc))
                self._on_trouble(watched, f"cannot watch root: {exc.strerror}")

        def get_event_mask_from_filter(self) -> Mask:
            # watchdog asks for IN_ATTRIB only together with IN_MODIFY (one per write()).
            return Mask(super().get_event_mask_from_filter() | InotifyConstants.IN_ATTRIB)

        def queue_events(self, timeout: float, *, full_events: bool = False) -> None:
            if self._unwatched:
                time.sleep(timeout)
                return
            super().queue_events(timeout, full_events=full_events)

    class _GuardedObserver(BaseObserver):
        """watchdog's InotifyObserver with `_GuardedEmitter`s on a private inotify fd."""

        def __init__(self, on_trouble: Trouble) -> None:
            self.inotify_fd = InotifyFD()
            self.inotify_fd.start()
            super().__init__(
                _GuardedEmitter,
                timeout=DEFAULT_OBSERVER_TIMEOUT,
                inotify_fd=self.inotify_fd,
                on_trouble=on_trouble,
            )

        def on_thread_stop(self) -> None:
            super().on_thread_stop()
            self.inotify_fd.stop()
            self.inotify_fd.join()
