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
import hashlib
import itertools
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson
import structlog

from lineaged.catalog.catalog import Catalog, FileRecord
from lineaged.catalog.fixpoint import MAX_HOPS
from lineaged.catalog.order import (
    Names,
    definition_order,
    definition_waves,
    recorded_names,
    written_and_read,
)
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


# Part of the saved catalog state's digest: bump it when what makes a record current
# changes meaning (lookup rules, fingerprints), so that a saved "all current" note
# written by an older lineaged is not believed.
STATE_VERSION = "1"


def state_digest(explicit: Mapping[str, TableColumns]) -> str:
    """What, besides the records, decides whether a record is current: the schema
    files' tables per root (and the rules, STATE_VERSION)."""
    layers = sorted(
        (root, [(table, list(cols.items())) for table, cols in tables.items()])
        for root, tables in explicit.items()
    )
    return hashlib.sha256(orjson.dumps([STATE_VERSION, layers])).hexdigest()


class SchemaStage:
    """With a store, `open()` finds either the saved note that every record was current
    at the last stop (then the records are not decoded until a file has to be
    extracted: `ensure_loaded()`; a warm restart with nothing changed never does), or
    no note, and loads the records at once. `save_state()` writes the note at a stop."""

    def __init__(self, store: CatalogStore | None = None, *, max_hops: int = MAX_HOPS) -> None:
        self.catalog = Catalog()
        self._store = store
        # Not loaded yet: the saved note's digest and file -> sha256 of its records.
        self._deferred: tuple[str, dict[str, str]] | None = None
        self._loading: asyncio.Future[None] | None = None
        self._explicit: Mapping[str, TableColumns] = {}
        # Files whose saved record turned out unreadable or different from the note:
        # handed out to be extracted again (see `take_unmatched`).
        self._unmatched: list[str] = []
        # The records may differ from what a saved note says (loaded without a note,
        # or changed since): a stop must look before saving one.
        self._changed = False
        self.max_hops = max_hops
        self._hops: dict[str, int] = {}
        self._seq = itertools.count()
        self._open: dict[int, _Ticket] = {}
        self._recorded = asyncio.Condition()
        self._known_conflicts: set[tuple[str, str, tuple[str, ...]]] = set()
        self.stats = SchemaStats()

    @property
    def loaded(self) -> bool:
        return self._deferred is None

    async def open(self) -> None:
        """Load the records persisted by earlier runs, or only the saved note that they
        were all current (see the class doc)."""
        if self._store is None:
            return
        with gc_paused():  # two strings per file: the collector would rescan them all
            state = await self._store.load_state()
        if state is not None:
            self._deferred = state
            log.info("schema_catalog_deferred", files=len(state[1]))
            return
        self._changed = True
        await self._load()

    async def ensure_loaded(self) -> None:
        """Decode the records if `open()` deferred that (once; callers share it)."""
        if self._deferred is None:
            return
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load_deferred())
        await asyncio.shield(self._loading)

    async def _load_deferred(self) -> None:
        assert self._deferred is not None
        _, shas = self._deferred
        await self._load()
        self.catalog.set_explicit(self._explicit)
        records = self.catalog.records
        # A row that cannot be read any more (or is not the one the note described):
        # that file is extracted again, as without the note.
        self._unmatched = sorted(
            f for f, sha in shas.items() if (r := records.get(f)) is None or r.sha256 != sha
        )
        if self._unmatched:
            self._changed = True
            log.warning("schema_catalog_records_unmatched", files=self._unmatched[:10])
        self._deferred = None

    def take_unmatched(self) -> list[str]:
        """Files to extract again because their saved record was lost (once)."""
        out, self._unmatched = self._unmatched, []
        return out

    async def _load(self) -> None:
        assert self._store is not None
        # Decoded and built in a thread: 100k records are seconds of CPU, and the event
        # loop has other work meanwhile (a deferred load runs next to a live daemon).
        # Nothing touches `self.catalog` until it is loaded (see `_require_loaded`).
        with gc_paused():
            records = await self._store.load()
            await asyncio.to_thread(self.catalog.load, records)
        self._report()
        log.info("schema_catalog_loaded", files=len(self.catalog.records), tables=self.stats.tables)

    async def configure(self, explicit: Mapping[str, TableColumns]) -> list[str]:
        """Schema files per root (start-up and reload). Returns the files whose results
        the change made stale."""
        self._explicit = dict(explicit)
        if self._deferred is not None and self._deferred[0] == state_digest(explicit):
            return []  # the schema files the note was saved with: nothing is stale
        await self.ensure_loaded()
        # A saved note's digest no longer matches: the next stop must save a new one
        # even when no record changes (`record` marks only records that differ).
        self._changed = True
        self.catalog.set_explicit(explicit)
        return self.stale_files()

    async def save_state(self) -> bool:
        """At a stop: save the note that every record is current, when it is true (no
        file waits for re-extraction). Returns whether a note was saved."""
        if self._store is None or self._deferred is not None or not self._changed:
            return False  # the note read at open() still holds (no record changed)
        if self.stale_files():
            return False
        shas = {f: r.sha256 for f, r in self.catalog.records.items()}
        saved = await self._store.save_state(state_digest(self._explicit), shas)
        self._changed = not saved
        return saved

    # -- before extraction -------------------------------------------------------------

    def is_current(self, file: str, sha256: str) -> bool:
        if self._deferred is not None:
            # Every record was current when the note was saved, and none changed since.
            return self._deferred[1].get(file) == sha256
        return self.catalog.is_current(file, sha256)

    def stale_files(self) -> list[str]:
        if self._deferred is not None:
            return []
        return sorted(f for f in self.catalog.records if not self.catalog.is_current(f))

    def expected_fingerprint(self, file: str) -> str:
        """The fingerprint `file`'s last result would have if extracted now (its
        lookups answered by the current catalog); "none" for a file not seen yet."""
        self._require_loaded()
        record = self.catalog.records.get(file)
        if record is None:
            return "none"
        return self.catalog.fingerprint(record.root, record.used, file)

    def accepts(self, file: str, root: str, lineage: FileLineage) -> bool:
        """A (cached or fresh) result for `file` agrees with what the catalog holds now."""
        self._require_loaded()
        return self.catalog.result_is_current(root, lineage, file)

    def slice_for(self, file: str, data: bytes) -> dict[str, dict[str, str]]:
        self._require_loaded()
        record = self.catalog.records.get(file)
        used = record.used if record is not None else ()
        return self.catalog.slice_for(data, used, reader=file)

    def enter(self) -> _Ticket:
        """A batch starts (call before its first await, so numbers follow the order
        in which batches left the batcher)."""
        ticket = _Ticket(next(self._seq))
        self._open[ticket.seq] = ticket
        return ticket

    async def announce(
        self, ticket: _Ticket, files: Sequence[tuple[str, str | None, bytes | None]]
    ) -> list[list[int]]:
        """What the batch seems to define, so that later batches wait for it. `files`:
        (file id, sha256, text) of each file of the batch; the text may be None for a
        file whose record is current (`names_known`). Returns the batch's extraction
        waves (definitions first). Extraction follows: the records are loaded first
        if `open()` deferred them."""
        if files:
            await self.ensure_loaded()
        names = [self._names(file, sha, text) for file, sha, text in files]
        ticket.writes = {_last(w) for writes, _ in names for w in writes}
        ticket.reads = [{_last(r) for r in reads} for _, reads in names]
        async with self._recorded:
            self._recorded.notify_all()
        return definition_waves((), names)

    def names_known(self, file: str, sha256: str | None) -> bool:
        """Whether `announce` needs no text of `file` with content `sha256`: its record
        is of that content and current, so its result (what it defines and looks up)
        is known."""
        self._require_loaded()
        return sha256 is not None and self.catalog.is_current(file, sha256)

    def _names(self, file: str, sha256: str | None, text: bytes | None) -> Names:
        """What `file` seems to write and read: from its record when that is current
        for this content (a rebuild: every file), else a scan of its text."""
        if self.names_known(file, sha256):
            record = self.catalog.records[file]
            return recorded_names([d.table for d in record.defines], record.used)
        if text is None:
            raise ValueError(f"announce: no text for {file}, whose record is not current")
        return written_and_read(text)

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
        await self.ensure_loaded()
        changed: set[str] = set()
        hops = 0
        puts: list[tuple[str, FileRecord]] = []
        gone: list[str] = []
        held = self.catalog.records
        for item in items:
            hops = max(hops, self._hops.pop(item.file, 0))
            if item.lineage is None or item.sha256 is None:
                changed |= self.catalog.update(item.file, None)
                gone.append(item.file)
                continue
            record = FileRecord.of(item.root, item.sha256, item.lineage)
            if held.get(item.file) == record:
                # The record held already (a rebuild: every file): `update` would change
                # nothing and return no table, and the row in the store is this one.
                # Skipping it also keeps the catalog's fingerprint memo (any update
                # clears it). Re-recording was 6.6% of a 20k-file rebuild's samples.
                continue
            changed |= self.catalog.update(item.file, record)
            puts.append((item.file, record))
        if puts or gone:
            self._changed = True
        stale = self.catalog.dependants(changed)
        # A result computed while the catalog moved on (or from a slice that missed a
        # name) is written, and its file goes round once more.
        stale |= {
            i.file for i in items if i.lineage is not None and not self.catalog.is_current(i.file)
        }
        stale |= set(self.take_unmatched())
        if self._store is not None:
            if puts:
                await self._store.put_many(puts)
            if gone:
                await self._store.delete_many(gone)
        if changed:
            self._report()
        return self._hop(sorted(stale), hops + 1, changed)

    def _require_loaded(self) -> None:
        if self._deferred is not None:
            raise RuntimeError("schema catalog used before ensure_loaded()")

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
        self._require_loaded()
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


def order_events(
    events: Sequence[FileEvent], settled: AbstractSet[str] = frozenset()
) -> list[FileEvent]:
    """A reconcile's events with definitions before their readers (deletions first).
    Reads the files (blocking: run it in a thread); unreadable ones keep their place.

    `settled` (file ids): files whose current content the catalog has taken in already
    (reconcile.settled), so the order cannot matter to what they define; they come
    right after the deletions, unread. After a lost graph every file is stale and
    nearly every one settled: reading and scanning 20k files cost ~0.5 CPU s (~1 s of
    wall time at load 3) before the first event reached the backfill."""
    deletions: list[FileEvent] = []
    known: list[FileEvent] = []
    changes: list[FileEvent] = []
    for e in events:
        if e.change is Change.DELETED:
            deletions.append(e)
        else:
            (known if e.ref.id in settled else changes).append(e)
    if len(changes) < 2:
        return [*deletions, *known, *changes]
    texts = []
    for e in changes:
        try:
            with open(e.abs_path, "rb") as fh:
                texts.append(fh.read(_ORDER_READ_LIMIT))
        except OSError:
            texts.append(b"")
    return [*deletions, *known, *(changes[i] for i in definition_order(texts))]
