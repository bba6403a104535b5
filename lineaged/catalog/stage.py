"""The catalog as a daemon stage: what the pipeline asks before and after extraction.

Before: is a file's stored result still current (same content, and the catalog
answers its lookups as it did)? What slice of the catalog does a worker need? In
which waves should a batch be extracted so that definitions come before readers,
and has every earlier batch that seems to define what this one reads been recorded?
After: `record()` feeds the results in, persists them with the parse cache, and
returns the files whose results a changed table made stale, to be extracted again.

Propagation is bounded: a re-extraction caused by a change is one hop further from
it than the file whose result changed the table, and nothing is re-queued past
`max_hops` (`schema_propagation_stopped` is logged), so results that never agree
(a cycle) cannot loop.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from lineaged.catalog.catalog import Catalog, FileRecord
from lineaged.catalog.fixpoint import MAX_HOPS
from lineaged.catalog.order import definition_order, definition_waves, written_and_read
from lineaged.gcpause import gc_paused
from lineaged.model import Change, FileEvent, FileLineage

if TYPE_CHECKING:
    from lineaged.cache.catalog_store import CatalogStore
    from lineaged.extract.schema import TableColumns
    from lineaged.pipeline import RootContext

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Recorded:
    """One file's outcome for `SchemaStage.record`: `lineage` None means deleted."""

    file: str
    root: str
    sha256: str | None
    lineage: FileLineage | None


@dataclass(slots=True)
class SchemaStats:
    tables: int = 0
    conflicts: int = 0
    # Files queued again because a table they read changed (or their slice missed one).
    requeued: int = 0
    propagation_stopped: int = 0


@dataclass(slots=True)
class _Ticket:
    """A batch in flight, numbered in the order batches start."""

    seq: int
    writes: set[bytes] | None = None  # None until its files are read
    reads: list[set[bytes]] = field(default_factory=list)  # per file, last name parts


class SchemaStage:
    def __init__(self, store: CatalogStore | None = None, *, max_hops: int = MAX_HOPS) -> None:
        self.catalog = Catalog()
        self._store = store
        self.max_hops = max_hops
        self._hops: dict[str, int] = {}
        self._seq = itertools.count()
        self._open: dict[int, _Ticket] = {}
        self._recorded = asyncio.Condition()
        self._known_conflicts: set[tuple[str, str, tuple[str, ...]]] = set()
        self.stats = SchemaStats()

    async def open(self) -> None:
        """Load the records persisted by earlier runs."""
        if self._store is None:
            return
        # Decoded and built in a thread: 100k records are seconds of CPU, and start-up
        # runs this next to Neo4j's warm-up, whose replies the event loop must take.
        # Nothing else touches the catalog before start-up is over.
        with gc_paused():
            records = await self._store.load()
            await asyncio.to_thread(self.catalog.load, records)
        self._report()
        log.info("schema_catalog_loaded", files=len(self.catalog.records), tables=self.stats.tables)

    def configure(self, explicit: Mapping[str, TableColumns]) -> list[str]:
        """Schema files per root (start-up and reload). Returns the files whose results
        the change made stale."""
        self.catalog.set_explicit(explicit)
        return self.stale_files()

    # -- before extraction -------------------------------------------------------------

    def is_current(self, file: str, sha256: str) -> bool:
        return self.catalog.is_current(file, sha256)

    def stale_files(self) -> list[str]:
        return sorted(f for f in self.catalog.records if not self.catalog.is_current(f))

    def expected_fingerprint(self, file: str) -> str:
        """The fingerprint `file`'s last result would have if extracted now (its
        lookups answered by the current catalog); "none" for a file not seen yet."""
        record = self.catalog.records.get(file)
        if record is None:
            return "none"
        return self.catalog.fingerprint(record.root, record.used, file)

    def accepts(self, file: str, root: str, lineage: FileLineage) -> bool:
        """A (cached or fresh) result for `file` agrees with what the catalog holds now."""
        return self.catalog.result_is_current(root, lineage, file)

    def slice_for(self, file: str, data: bytes) -> dict[str, dict[str, str]]:
        record = self.catalog.records.get(file)
        used = record.used if record is not None else ()
        return self.catalog.slice_for(data, used, reader=file)

    def enter(self) -> _Ticket:
        """A batch starts (call before its first await, so numbers follow the order
        in which batches left the batcher)."""
        ticket = _Ticket(next(self._seq))
        self._open[ticket.seq] = ticket
        return ticket

    async def announce(self, ticket: _Ticket, texts: Sequence[bytes]) -> list[list[int]]:
        """What the batch seems to define, so that later batches wait for it. Returns
        the batch's extraction waves (definitions first)."""
        names = [written_and_read(t) for t in texts]
        ticket.writes = {_last(w) for writes, _ in names for w in writes}
        ticket.reads = [{_last(r) for r in reads} for _, reads in names]
        async with self._recorded:
            self._recorded.notify_all()
        return definition_waves(texts, names)

    async def upstream_recorded(self, ticket: _Ticket, files: Sequence[int]) -> None:
        """Wait until no earlier batch still in flight seems to define a table these
        files of the batch read (or has not said yet what it defines). Only earlier
        batches are waited for, and they never wait for later ones: no deadlock."""
        reads: set[bytes] = set()
        for i in files:
            reads |= ticket.reads[i]

        def clear() -> bool:
            return not any(
                t.seq < ticket.seq and (t.writes is None or t.writes & reads)
                for t in self._open.values()
            )

        if reads and not clear():
            async with self._recorded:
                await self._recorded.wait_for(clear)

    async def release(self, ticket: _Ticket) -> None:
        self._open.pop(ticket.seq, None)
        async with self._recorded:
            self._recorded.notify_all()

    # -- after extraction --------------------------------------------------------------

    async def record(self, items: Sequence[Recorded]) -> list[str]:
        """Feed results in; returns the files to extract again (hop-bounded)."""
        changed: set[str] = set()
        hops = 0
        puts: list[tuple[str, FileRecord]] = []
        gone: list[str] = []
        for item in items:
            hops = max(hops, self._hops.pop(item.file, 0))
            if item.lineage is None or item.sha256 is None:
                changed |= self.catalog.update(item.file, None)
                gone.append(item.file)
                continue
            record = FileRecord.of(item.root, item.sha256, item.lineage)
            changed |= self.catalog.update(item.file, record)
            puts.append((item.file, record))
        stale = self.catalog.dependants(changed)
        # A result computed while the catalog moved on (or from a slice that missed a
        # name) is written, and its file goes round once more.
        stale |= {
            i.file for i in items if i.lineage is not None and not self.catalog.is_current(i.file)
        }
        if self._store is not None:
            await self._store.put_many(puts)
            await self._store.delete_many(gone)
        if changed:
            self._report()
        return self._hop(sorted(stale), hops + 1, changed)

    def _hop(self, files: list[str], hops: int, changed: set[str]) -> list[str]:
        if not files:
            return []
        if hops > self.max_hops:
            self.stats.propagation_stopped += len(files)
            log.warning(
                "schema_propagation_stopped",
                files=files[:10],
                tables=sorted(changed)[:10],
                hops=hops,
                reason="columns did not settle (a cycle?)",
            )
            return []
        for f in files:
            self._hops[f] = max(self._hops.get(f, 0), hops)
        self.stats.requeued += len(files)
        log.info("schema_changed_requeue", tables=sorted(changed)[:10], files=len(files))
        return files

    def root_of(self, file: str) -> str | None:
        record = self.catalog.records.get(file)
        return None if record is None else record.root

    def _report(self) -> None:
        conflicts = self.catalog.conflicts()
        self.stats.tables = self.catalog.table_count()
        self.stats.conflicts = len(conflicts)
        for c in conflicts:
            key = (c.table, c.chosen, c.others)
            if key not in self._known_conflicts:
                self._known_conflicts.add(key)
                log.warning(
                    "schema_conflict", table=c.table, chosen=c.chosen, others=list(c.others)
                )


def _last(name: bytes) -> bytes:
    return name.rsplit(b".", 1)[-1]


def explicit_layers(contexts: Mapping[str, RootContext]) -> dict[str, TableColumns]:
    """Each root's schema file in the extractor's spelling for that root."""
    from lineaged.extract import schema_layer

    return {
        name: schema_layer(
            ctx.schema,
            ctx.settings.dialect,
            default_catalog=ctx.settings.default_catalog or None,
            default_schema=ctx.settings.default_schema or None,
        )
        for name, ctx in contexts.items()
        if ctx.schema
    }


# Only the head of a huge file is looked at for ordering (a guess either way).
_ORDER_READ_LIMIT = 1 << 20


def order_events(events: Sequence[FileEvent]) -> list[FileEvent]:
    """A reconcile's events with definitions before their readers (deletions first).
    Reads the files (blocking: run it in a thread); unreadable ones keep their place."""
    deletions = [e for e in events if e.change is Change.DELETED]
    changes = [e for e in events if e.change is not Change.DELETED]
    if len(changes) < 2:
        return [*deletions, *changes]
    texts = []
    for e in changes:
        try:
            with open(e.abs_path, "rb") as fh:
                texts.append(fh.read(_ORDER_READ_LIMIT))
        except OSError:
            texts.append(b"")
    return [*deletions, *(changes[i] for i in definition_order(texts))]
