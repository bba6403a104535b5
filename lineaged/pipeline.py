"""One batch of FileEvents → FileUpdates in the graph.

read + SHA-256 (in a thread) → skip files whose graph state already matches → parse
cache → worker pool for the misses → cache put → graph writer. A backfill batch does
not read a file whose stat the stat cache vouches for until its bytes are needed (a
cache miss), and then checks them against the vouched hash. A file is never in two
batches at once: an event for a file that is being processed waits for it, so an older
read can never overwrite a newer one in the graph.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import os
import stat
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from lineaged import stages
from lineaged.batcher import Batch
from lineaged.config import RootSettings
from lineaged.crash_counts import GIVE_UP_AFTER_STARTS, CrashCounts
from lineaged.last_written import LastWritten
from lineaged.model import (
    Change,
    FileEvent,
    FileLineage,
    FileRef,
    FileState,
    FileUpdate,
    Priority,
)
from lineaged.pool import PoolClosed, WorkerCrashed
from lineaged.reading import MAX_FILE_BYTES, NotRegularFile, read_file
from lineaged.render.propagate import refresh_render_contexts
from lineaged.render.root import RootRender
from lineaged.stages import StageClock

if TYPE_CHECKING:
    from lineaged.catalog.stage import SchemaStage

log = structlog.get_logger(__name__)

# Cache writes a batch leaves until its lineage is in the graph.
AfterWrite = list[Callable[[], Awaitable[None]]]

# How a File's error starts when its worker died (what `replay` looks for).
CRASH_ERROR = "extraction failed: worker crashed"


class Extractor(Protocol):
    async def submit(self, priority: Priority, *args: Any) -> Any: ...


class Writer(Protocol):
    async def write(self, updates: Sequence[FileUpdate], *, urgent: bool = False) -> None: ...
    async def file_states(self, ids: Sequence[str]) -> dict[str, FileState]: ...


class LineageCache(Protocol):
    async def get_many(self, keys: Sequence[str]) -> dict[str, FileLineage]: ...
    async def put_many(self, items: Sequence[tuple[str, FileLineage]]) -> None: ...


class HashCache(Protocol):
    """The stat cache: (root, path) → (size, mtime_ns, inode, sha256)."""

    async def vouching(
        self, root: str, paths: Sequence[str]
    ) -> dict[str, tuple[tuple[int, int, int], str]]: ...
    async def put_many(self, root: str, entries: Iterable[tuple[str, Any]]) -> None: ...
    async def delete_many(self, root: str, paths: Iterable[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class ReadResult:
    event: FileEvent
    data: bytes | None  # None: the file is gone (vanished between event and read)
    sha256: str | None
    error: str | None = None
    # Taken from the open descriptor before reading, so that a write racing the read
    # makes the stat look changed next time rather than vouching for stale content.
    stat: os.stat_result | None = None
    in_graph: bool = True  # the graph has a File node for it (set by the graph-state read)
    # Not read: `stat` (taken now) is the one the stat cache recorded with `sha256`, so
    # that is the content; `data` is None until something needs the bytes
    # (Pipeline._read_unread). Only in a backfill batch.
    unread: bool = False

    @property
    def gone(self) -> bool:
        """The file vanished between event and read."""
        return self.data is None and not self.unread


# Vouched contents of a batch's files (Pipeline._vouched): abs_path -> (the stat key the
# stat cache recorded, the sha256 it recorded with it).
Vouched = dict[str, tuple[tuple[int, int, int], str]]


@dataclass
class RootContext:
    """What extraction needs to know about a root, prepared once per config load."""

    settings: RootSettings
    schema: dict[str, dict[str, str]] | None = None
    schema_fingerprint: str = ""
    render: RootRender = field(init=False)

    def __post_init__(self) -> None:
        self.render = RootRender.build(self.settings)


@dataclass
class PipelineStats:
    batches: int = 0
    files_seen: int = 0
    unchanged: int = 0
    parsed: int = 0
    cache_hits: int = 0
    written: int = 0
    deleted: int = 0
    errors: int = 0


def read_and_hash(events: Sequence[FileEvent], vouched: Vouched | None = None) -> list[ReadResult]:
    """Read and hash each file; one whose stat is still the one `vouched` records is
    left unread (its content is the sha256 recorded with that stat)."""
    out = []
    for ev in events:
        if vouched:
            known = vouched.get(ev.abs_path)
            if known is not None and (r := _unread(ev, *known)) is not None:
                out.append(r)
                continue
        try:
            content = read_file(ev.abs_path)
        except (FileNotFoundError, NotADirectoryError):
            out.append(ReadResult(ev, None, None))
            continue
        except NotRegularFile as exc:
            # Not ours, exactly as the walk decides: no File node (a file it replaced
            # is deleted from the graph).
            log.warning("not_a_regular_file", file=ev.ref.id, error=str(exc))
            out.append(ReadResult(ev, None, None))
            continue
        if content.error is not None:
            out.append(ReadResult(ev, b"", None, content.error))
            continue
        sha = hashlib.sha256(content.data).hexdigest()
        out.append(ReadResult(ev, content.data, sha, None, content.stat))
    return out


def _unread(ev: FileEvent, key: tuple[int, int, int], sha256: str) -> ReadResult | None:
    """`ev`'s file, not read, when its stat is still `key` and `read_file` would read it
    (a regular file, within the size limit, readable); else None: read it."""
    try:
        st = os.stat(ev.abs_path)
    except OSError:
        return None
    if (
        (st.st_size, st.st_mtime_ns, st.st_ino) != key
        or not stat.S_ISREG(st.st_mode)
        or st.st_size > MAX_FILE_BYTES
        or not os.access(ev.abs_path, os.R_OK)
    ):
        return None
    return ReadResult(ev, None, sha256, None, st, unread=True)


class Pipeline:
    def __init__(
        self,
        roots: dict[str, RootContext],
        pool: Extractor,
        writer: Writer,
        *,
        extract_fn_version: str,
        cache: LineageCache | None = None,
        cache_key: Callable[[str, str, str, str], str] | None = None,
        stat_cache: HashCache | None = None,
        requeue: Callable[[FileEvent], None] | None = None,
        on_written: Callable[[Sequence[float]], None] | None = None,
        on_stages: Callable[[StageClock], None] | None = None,
        reserve_worker: Callable[[], AbstractContextManager[None]] | None = None,
        hold_backfill_writes: Callable[[], AbstractContextManager[None]] | None = None,
        schema: SchemaStage | None = None,
        crash_counts: CrashCounts | None = None,
    ) -> None:
        self.roots = roots
        self._pool = pool
        self._writer = writer
        self._version = extract_fn_version
        self._cache = cache
        self._cache_key = cache_key
        self._stat_cache = stat_cache
        self._requeue = requeue
        self._on_written = on_written
        self._on_stages = on_stages
        self._reserve_worker = reserve_worker
        self._hold_backfill_writes = hold_backfill_writes
        self._schema = schema
        self._busy: set[FileRef] = set()
        self._deferred: dict[FileRef, FileEvent] = {}
        # Contents whose worker died twice in this run. A crash is not a property of
        # the content (memory pressure, a kill, a bug in one sqlglot build): the graph
        # gets the error but not the hash, so the next start retries the file once;
        # within this run the verdict stands, so rescans do not kill workers again.
        self._crashed: set[tuple[FileRef, str]] = set()
        # Across runs: a content that crashed workers on several starts is given up.
        self._crash_counts = crash_counts if crash_counts is not None else CrashCounts(None)
        # Lets a live batch skip the graph-state read for files it knows changed.
        self._last_written = LastWritten()
        self.stats = PipelineStats()

    async def process(self, batch: Batch) -> None:
        events = self._claim(batch)
        if not events:
            return
        started = time.monotonic()
        live = min(e.priority for e in events) < Priority.LOW
        clock = StageClock(max(e.at for e in events) or started, live)
        clock.mark("debounce", getattr(batch, "released_at", None) or started)
        clock.mark("lane_wait", started)
        token = stages.timing(clock)
        try:
            # A changed macro/YAML re-reads the render set-up before this batch renders
            # anything; the files it affects outside the batch are queued after it.
            dependants = await refresh_render_contexts(self.roots, events)
            # Cache writes (SQLite commits) wait until the lineage is in the graph: they
            # are for the next start, not for this edit.
            after_write: AfterWrite = []
            with self._holding(live, self._hold_backfill_writes):
                with self._holding(live, self._reserve_worker):
                    updates = await self._updates_for(events, after_write)
                if updates:
                    # A batch holding a live edit (or a CRITICAL file) goes before the
                    # backfill's transactions.
                    await self._write(updates, live)
            for step in after_write:
                await step()
            self._account(events, updates, started)
        finally:
            stages.untime(token)
            self._release(events)
        if self._on_stages is not None:
            self._on_stages(clock)
        batch_refs = {e.ref for e in events}
        for ev in dependants:
            if ev.ref not in batch_refs and self._requeue is not None:
                self._requeue(ev)

    async def _write(self, updates: list[FileUpdate], live: bool) -> None:
        try:
            await self._writer.write(updates, urgent=live)
        except BaseException:
            self._last_written.forget(u.ref for u in updates)
            raise
        self._last_written.written(updates, live=live)

    @staticmethod
    def _holding(
        live: bool, hold: Callable[[], AbstractContextManager[None]] | None
    ) -> AbstractContextManager[None]:
        """For a live batch: a worker kept free of backfill until its files are
        extracted (PriorityPool.reserve_worker), and no backfill transaction begins
        until it is written (GraphWriter.hold_backfill)."""
        if live and hold is not None:
            return hold()
        return contextlib.nullcontext()

    # -- per-file exclusivity ------------------------------------------------------------

    def _claim(self, batch: Batch) -> list[FileEvent]:
        events = []
        for ref, ev in batch.items():
            if ref in self._busy:
                self._deferred[ref] = ev
            else:
                self._busy.add(ref)
                events.append(ev)
        return events

    def _release(self, events: list[FileEvent]) -> None:
        for ev in events:
            self._busy.discard(ev.ref)
            later = self._deferred.pop(ev.ref, None)
            if later is not None and self._requeue is not None:
                self._requeue(later)

    # -- the stages --------------------------------------------------------------------

    async def _updates_for(self, events: list[FileEvent], later: AfterWrite) -> list[FileUpdate]:
        if self._schema is None:
            return await self._updates(events, None, later)
        ticket = self._schema.enter()
        try:
            return await self._updates(events, ticket, later)
        finally:
            await self._schema.release(ticket)

    async def _updates(
        self, events: list[FileEvent], ticket: Any, later: AfterWrite
    ) -> list[FileUpdate]:
        # The disk at processing time decides: a deletion planned earlier (by a rescan,
        # or an event older than a re-creation) is stale if the file is back.
        deletes = [e for e in events if e.change is Change.DELETED and not _is_file(e.abs_path)]
        gone = {id(e) for e in deletes}
        changes = [e for e in events if id(e) not in gone]
        reads = await self._read(changes) if changes else []
        later.append(functools.partial(self._remember_hashes, deletes, reads))
        stages.mark("read")
        updates = [self._deletion(e) for e in deletes]
        present = []
        for r in reads:
            if r.gone:
                updates.append(self._deletion(r.event))
            else:
                present.append(r)
        if updates:
            await self._record_schema(updates, min(e.priority for e in events))
        present = await self._drop_unchanged(present)
        if self._schema is None:
            updates.extend(await self._extract_all(present, later))
        else:
            updates.extend(await self._extract_in_waves(present, ticket, later))
        return updates

    # -- reading -------------------------------------------------------------------------

    async def _read(self, events: list[FileEvent]) -> list[ReadResult]:
        vouched = await self._vouched(events)
        return await asyncio.to_thread(read_and_hash, events, vouched)

    async def _vouched(self, events: list[FileEvent]) -> Vouched:
        """For a backfill batch: the files' contents the stat cache vouches for, so that
        a file whose stat is unchanged need not be read unless its bytes are needed (a
        cache miss, a text scan). A rebuild after the graph was lost reads nothing then:
        reading and hashing 20k files was ~7% of its daemon's samples. A live batch
        reads as always; so does a pipeline that cannot re-queue a file found changed
        after its stat (`_read_unread`) or has no parse cache to hit."""
        if (
            self._stat_cache is None
            or self._cache is None
            or self._requeue is None
            or min(e.priority for e in events) < Priority.LOW
        ):
            return {}
        by_root: dict[str, list[FileEvent]] = {}
        for e in events:
            by_root.setdefault(e.ref.root, []).append(e)
        out: Vouched = {}
        for root, group in by_root.items():
            rows = await self._stat_cache.vouching(root, [e.ref.path for e in group])
            if rows:
                for e in group:
                    row = rows.get(e.ref.path)
                    if row is not None:
                        out[e.abs_path] = row
        return out

    async def _read_unread(
        self, reads: list[ReadResult], need: list[int]
    ) -> list[ReadResult | None]:
        """`reads` with the files at positions `need`, left unread, read now that their
        bytes are needed. One whose content is no longer the vouched one (changed since
        its stat, gone, unreadable) is not processed in this batch (None in its place):
        it is re-queued, after its stat-cache entry is dropped so that it is read then,
        and never written with the vouched lineage."""
        fresh = await asyncio.to_thread(read_and_hash, [reads[i].event for i in need])
        out: list[ReadResult | None] = list(reads)
        changed: list[ReadResult] = []
        for i, f in zip(need, fresh, strict=True):
            r = reads[i]
            if f.data is not None and f.error is None and f.sha256 == r.sha256:
                out[i] = dataclasses.replace(f, in_graph=r.in_graph)
            else:
                changed.append(r)
                out[i] = None
        if changed:
            log.info("vouched_content_changed", files=[r.event.ref.id for r in changed][:10])
            assert self._stat_cache is not None and self._requeue is not None
            by_root: dict[str, list[str]] = {}
            for r in changed:
                by_root.setdefault(r.event.ref.root, []).append(r.event.ref.path)
            for root, paths in by_root.items():
                await self._stat_cache.delete_many(root, paths)
            for r in changed:
                self._requeue(r.event)
        return out

    # -- corpus schema (lineaged/catalog) ----------------------------------------------

    async def _extract_in_waves(
        self, reads: list[ReadResult], ticket: Any, later: AfterWrite
    ) -> list[FileUpdate]:
        """Extract definitions before their readers: in waves within the batch, after
        earlier batches that define what it reads; each wave's results go into the
        catalog before the next wave is extracted."""
        assert self._schema is not None
        schema = self._schema
        if any(r.unread for r in reads):
            await schema.ensure_loaded()  # for names_known
        # A file left unread is scanned for what it writes and reads unless its record
        # says (announce). No await between the last check and announce's use of it.
        while need := [
            i
            for i, r in enumerate(reads)
            if r.unread and not schema.names_known(r.event.ref.id, r.sha256)
        ]:
            reads = [r for r in await self._read_unread(reads, need) if r is not None]
        waves = await schema.announce(ticket, [(r.event.ref.id, r.sha256, r.data) for r in reads])
        updates: list[FileUpdate] = []
        # A live edit never waits for a backfill batch: if that batch changes what
        # the edit read, the edit's file is simply re-queued afterwards.
        backfill = min((r.event.priority for r in reads), default=Priority.LOW) >= Priority.LOW
        for wave in waves:
            part = [reads[i] for i in wave]
            if backfill:
                await self._schema.upstream_recorded(ticket, wave)
            done = await self._extract_all(part, later)
            await self._record_schema(done, min(r.event.priority for r in part))
            updates.extend(done)
        return updates

    async def _record_schema(self, updates: list[FileUpdate], priority: Priority) -> None:
        """Feed results to the catalog; files whose results it made stale go round
        again, at the priority of the change that caused it."""
        from lineaged.catalog.stage import Recorded

        if self._schema is None:
            return
        stale = await self._schema.record(
            [Recorded(u.ref.id, u.ref.root, u.sha256, u.lineage) for u in updates]
        )
        for file in stale:
            event = self._event_for(file, priority)
            if event is not None and self._requeue is not None:
                self._requeue(event)

    def _event_for(self, file: str, priority: Priority) -> FileEvent | None:
        assert self._schema is not None
        root = self._schema.root_of(file)
        ctx = self.roots.get(root or "")
        if root is None or ctx is None:
            return None
        ref = FileRef(root, file[len(root) + 1 :])
        return file_event(ref, str(ctx.settings.path / ref.path), Change.CHANGED, priority)

    def requeue_files(self, files: Iterable[str], priority: Priority = Priority.LOW) -> int:
        """Queue files by id (start-up: results the catalog says are stale)."""
        n = 0
        for file in files:
            event = self._event_for(file, priority)
            if event is not None and self._requeue is not None:
                self._requeue(event)
                n += 1
        return n

    async def _remember_hashes(self, deletes: list[FileEvent], reads: list[ReadResult]) -> None:
        """Feed the stat cache so that the next reconcile can skip reading these files."""
        if self._stat_cache is None:
            return
        from lineaged.cache import StatEntry

        by_root: dict[str, list[tuple[str, Any]]] = {}
        gone: dict[str, list[str]] = {}
        for r in reads:
            if r.unread:
                continue  # the entry that vouched for it is this stat and hash
            if r.stat is not None and r.sha256 is not None:
                entry = StatEntry.from_stat(r.stat, r.sha256)
                by_root.setdefault(r.event.ref.root, []).append((r.event.ref.path, entry))
            elif r.gone:
                gone.setdefault(r.event.ref.root, []).append(r.event.ref.path)
        for ev in deletes:
            gone.setdefault(ev.ref.root, []).append(ev.ref.path)
        for root, entries in by_root.items():
            await self._stat_cache.put_many(root, entries)
        for root, paths in gone.items():
            await self._stat_cache.delete_many(root, paths)

    def _deletion(self, ev: FileEvent) -> FileUpdate:
        root = self.roots[ev.ref.root].settings
        return FileUpdate(ev.ref, None, root.dialect, None, ev.at)

    async def _drop_unchanged(self, reads: list[ReadResult]) -> list[ReadResult]:
        if not reads:
            return reads
        # A live edit of a file whose last content this process wrote is a change
        # without asking the graph (lineaged/last_written.py): one round trip less.
        live = min(r.event.priority for r in reads) < Priority.LOW
        ask = {
            r.event.ref.id
            for r in reads
            if not (live and self._last_written.proves_change(r.event.ref, r.sha256))
        }
        states = {}
        if ask:
            states = await self._writer.file_states(list(ask))
            stages.mark("graph_state")
        keep = []
        for r in reads:
            if (r.event.ref, r.sha256) in self._crashed or self._given_up(r):
                self.stats.unchanged += 1
                continue
            state = states.get(r.event.ref.id)
            if state is None:
                if r.event.ref.id in ask:  # not asked: this process wrote it
                    r = dataclasses.replace(r, in_graph=False)
            elif r.sha256 is not None:
                # ... and computed with the columns the catalog holds now.
                schema_current = (
                    None
                    if self._schema is None
                    else functools.partial(self._schema.is_current, r.event.ref.id, r.sha256)
                )
                if state.is_current(r.sha256, self._version_for(r), schema_current=schema_current):
                    self.stats.unchanged += 1
                    continue
            keep.append(r)
        return keep

    async def _extract_all(self, reads: list[ReadResult], later: AfterWrite) -> list[FileUpdate]:
        if not reads:
            return []
        keys = [self._key(r) for r in reads]
        cached: dict[str, FileLineage] = {}
        if self._cache is not None and self._cache_key is not None:
            cached = await self._cache.get_many([k for k in keys if k])
            stages.mark("cache_get")
        hits = [
            self._hit(r, cached.get(k) if k else None) for r, k in zip(reads, keys, strict=True)
        ]
        need = [
            i
            for i, (r, hit) in enumerate(zip(reads, hits, strict=True))
            if r.unread and hit is None
        ]
        if need:
            # Extracted after all: the bytes are needed (and checked against the hash).
            loaded = await self._read_unread(reads, need)
            keep = [i for i, r in enumerate(loaded) if r is not None]
            reads = [r for r in loaded if r is not None]
            keys, hits = [keys[i] for i in keep], [hits[i] for i in keep]
        results = await asyncio.gather(
            *(self._lineage_for(r, hit) for r, hit in zip(reads, hits, strict=True))
        )
        fresh = [
            (self._key(r, lin), lin)
            for k, (lin, was_cached), r in zip(keys, results, reads, strict=True)
            if k and not was_cached and r.error is None and lin.error is None
        ]
        if fresh and self._cache is not None:
            later.append(functools.partial(self._put_cached, fresh))
        return [
            FileUpdate(
                r.event.ref, self._vouched_sha(r), self._dialect(r), lin, r.event.at, r.in_graph
            )
            for r, (lin, _) in zip(reads, results, strict=True)
        ]

    async def _put_cached(self, items: list[tuple[str, FileLineage]]) -> None:
        assert self._cache is not None
        await self._cache.put_many(items)
        stages.mark("cache_put")

    def _given_up(self, r: ReadResult) -> bool:
        return r.sha256 is not None and self._crash_counts.given_up(
            r.event.ref.id, r.sha256, self._version_for(r)
        )

    def _vouched_sha(self, r: ReadResult) -> str | None:
        """The hash the graph may record as this lineage's source (None: retry later)."""
        return None if (r.event.ref, r.sha256) in self._crashed else r.sha256

    def _key(self, r: ReadResult, result: FileLineage | None = None) -> str:
        """Cache key of `r`'s content. With the schema catalog, the key also holds the
        fingerprint of the catalog columns the result was computed with: a stored
        `result`'s own, or for a lookup the one the file's last result would have
        now (its lookups answered by the current catalog)."""
        if self._cache_key is None or r.sha256 is None:
            return ""
        ctx = self.roots[r.event.ref.root]
        schema = ctx.schema_fingerprint
        if self._schema is not None:
            used = (
                result.schema_fingerprint
                if result is not None
                else self._schema.expected_fingerprint(r.event.ref.id)
            )
            schema = f"{schema}/{used}"
        schema += ctx.render.cache_key_part(r.event.ref.path)
        return self._cache_key(r.sha256, ctx.settings.dialect, schema, self._version)

    def _version_for(self, r: ReadResult) -> str:
        """The extractor version plus the file's render context (see RootRender)."""
        render = self.roots[r.event.ref.root].render
        return self._version + render.version_suffix(r.event.ref.path)

    def _dialect(self, r: ReadResult) -> str:
        return self.roots[r.event.ref.root].settings.dialect

    def _hit(self, r: ReadResult, cached: FileLineage | None) -> FileLineage | None:
        """`cached` if it may stand for `r`'s result: a cached result counts only if the
        catalog still answers its lookups the same way (its fingerprint is part of what
        the result is keyed by)."""
        schema = self._schema
        ref = r.event.ref
        if cached is not None and (schema is None or schema.accepts(ref.id, ref.root, cached)):
            return cached
        return None

    async def _lineage_for(
        self, r: ReadResult, hit: FileLineage | None
    ) -> tuple[FileLineage, bool]:
        """`hit` (see `_hit`), or `r` extracted now."""
        schema = self._schema
        ref = r.event.ref
        if hit is not None:
            self.stats.cache_hits += 1
            return hit, True
        assert not r.unread, "extracting a file that was not read"
        dialect = self._dialect(r)
        if r.error is not None:
            return FileLineage(dialect, self._version, (), r.error), False
        root = self.roots[r.event.ref.root]
        corpus = schema.slice_for(r.event.ref.id, r.data or b"") if schema is not None else None
        try:
            lineage = await self._pool.submit(
                r.event.priority,
                r.data,
                dialect,
                root.schema,
                root.settings.default_catalog or None,
                root.settings.default_schema or None,
                corpus or None,
                root.render.job_for(r.event.ref.path),
            )
            self._crash_counts.forget(ref.id)
        except PoolClosed:
            raise
        except WorkerCrashed as exc:
            starts = 0
            if r.sha256 is not None:
                self._crashed.add((r.event.ref, r.sha256))
                starts = self._crash_counts.record(ref.id, r.sha256, self._version_for(r))
            lineage = FileLineage(dialect, self._version, (), _crash_error(exc, starts))
        except TimeoutError as exc:
            lineage = FileLineage(dialect, self._version, (), f"extraction failed: {exc}")
        except Exception as exc:  # a bug in extraction must not take the daemon down
            log.exception("extraction_error", file=r.event.ref.id)
            lineage = FileLineage(
                dialect, self._version, (), f"extraction failed: {type(exc).__name__}: {exc}"
            )
        self.stats.parsed += 1
        version = self._version_for(r)
        if lineage.extractor_version != version:
            lineage = dataclasses.replace(lineage, extractor_version=version)
        return lineage, False

    def _account(self, events: list[FileEvent], updates: list[FileUpdate], started: float) -> None:
        now = time.monotonic()
        self.stats.batches += 1
        self.stats.files_seen += len(events)
        latencies = [now - u.enqueued_at for u in updates if u.enqueued_at]
        for u in updates:
            if u.lineage is None:
                self.stats.deleted += 1
            else:
                self.stats.written += 1
                if _log_file_errors(u):
                    self.stats.errors += 1
        if self._on_written is not None and latencies:
            self._on_written(latencies)
        log.info(
            "batch_written",
            files=len(events),
            updates=len(updates),
            duration_ms=round((now - started) * 1000, 1),
        )


def _crash_error(exc: WorkerCrashed, starts: int) -> str:
    if starts >= GIVE_UP_AFTER_STARTS:
        then = (
            f"given up after {starts} starts with this content: retried when the file "
            "is edited, the extractor changes, or by lineaged replay"
        )
    else:
        then = "retried at the next start or by lineaged replay"
    return f"{CRASH_ERROR} ({exc}); {then}"


def _log_file_errors(u: FileUpdate) -> bool:
    """One event per file that carries errors, with what an operator needs to find it;
    repeats of the same error are rate-limited by the logging set-up. True if any."""
    assert u.lineage is not None
    failed = [s for s in u.lineage.statements if s.error]
    if not (u.lineage.error or failed):
        return False
    log.warning(
        "file_has_errors",
        file=u.ref.id,
        sha256=u.sha256,
        error=u.lineage.error or failed[0].error,
        failed_statements=len(failed),
        statements=len(u.lineage.statements),
    )
    return True


def _is_file(path: str) -> bool:
    """A regular file (not a symlink: the watcher's link policy already decided those)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def file_event(ref: FileRef, abs_path: str, change: Change, priority: Priority) -> FileEvent:
    return FileEvent(ref, abs_path, change, priority, time.monotonic())
