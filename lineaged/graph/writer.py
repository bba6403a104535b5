"""Async Neo4j writer: per-file atomic replace in row-budgeted batches, retry, split,
dead letters.

A batch of files is one transaction; a file is never split across transactions, so the
graph holds each file fully old or fully new. Transient errors wait and retry the same
transaction forever (the pipeline behind stalls, nothing is dropped); any other error
splits the batch in halves until the one file that cannot be written is isolated and
dead-lettered, and the rest are written. What counts as transient is decided in
`graph/errors.py` only.

Transactions are explicit (`begin_transaction` / `commit`) rather than the driver's
managed `execute_write`: the managed retry gives up after `max_transaction_retry_time`
(30 s) and, while it retries, nothing outside can see that Neo4j is away. Here every
attempt is counted, `stats.state` says `waiting_for_neo4j` from the first failure, and
the retry never gives up. Deadlocks between concurrent writers are rare because rows
take Table/Column locks in one global (sorted) order, and are retried like any other
transient error when they happen. A live edit's transaction (`urgent`) is the same
replace as one auto-commit statement: one round trip, retried and split the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from neo4j import AsyncDriver, AsyncSession, AsyncTransaction

from lineaged import stages
from lineaged.deadletters import DeadLetter, DeadLetters
from lineaged.graph import queries as q
from lineaged.graph.errors import ErrorKind, classify, describe, is_unreachable
from lineaged.graph.ledger import CountDelta, WriteLedger
from lineaged.graph.params import p_param
from lineaged.graph.rows import WriteRows, build_rows, update_rows
from lineaged.graph.scheduling import TxBudget, TxSlots
from lineaged.graph.schema import GRAPH_MODEL
from lineaged.graph.stats import WriterStats, driver_pool_stats
from lineaged.model import (
    ColumnEdge,
    FileLineage,
    FileRef,
    FileState,
    FileUpdate,
    GraphFile,
    IndirectEdge,
    StatementLineage,
)

__all__ = ["FileState", "GraphWriter", "WriterFatalError", "WriterStats"]

log = structlog.get_logger(__name__)


# Every query of the writer plans as index seeks whatever the statistics (the EXPLAIN
# test); re-planning one because the graph grew (Neo4j's statistics divergence check,
# at most every 10 s while a backfill grows the graph) stalls the transaction that
# meets it for up to seconds on a loaded machine. Keep the plan the warm-up made.
REUSE_PLAN = "CYPHER replan=skip "
# A transaction that met a node deleted under it (errors.ErrorKind.CONFLICT) runs again
# this many times; the race needs a concurrent orphan removal each time, so more
# than a few in a row means the rows themselves name a node nothing creates.
CONFLICT_RETRIES = 5


class WriterFatalError(RuntimeError):
    """The database refuses us for a reason retrying cannot fix (auth, no database)."""


class _Backoff:
    """Capped exponential backoff with jitter (0.5-1.0 of the step), per operation."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self._delay = initial_s
        self._max = max_s

    async def sleep(self) -> None:
        await asyncio.sleep(self._delay * random.uniform(0.5, 1.0))
        self._delay = min(self._delay * 2, self._max)


class GraphWriter:
    def __init__(
        self,
        driver: AsyncDriver,
        database: str,
        dead_letters: DeadLetters,
        *,
        rows_per_tx: int = 5_000,
        backfill_tx_s: float = 0.0,
        max_concurrency: int = 2,
        slow_tx_s: float = 5.0,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._driver = driver
        self._clock = clock  # times transactions (tests give their own)
        self._database = database
        self._dead = dead_letters
        self.max_concurrency = max_concurrency
        self._budget = TxBudget(backfill_tx_s, max_rows=rows_per_tx)
        # Bounds concurrent write transactions across every caller of this writer, with
        # one more reserved for live edits, which also go first (graph/scheduling.py).
        self._slots = TxSlots(max_concurrency, reserved=1, max_yield_s=backfill_tx_s)
        self.configure(
            rows_per_tx=rows_per_tx,
            backfill_tx_s=backfill_tx_s,
            slow_tx_s=slow_tx_s,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
        )
        self.stats = WriterStats()
        # What our committed transactions changed in the graph's counts (orphan_policy).
        self.ledger = WriteLedger()

    def configure(
        self,
        *,
        rows_per_tx: int,
        backfill_tx_s: float,
        slow_tx_s: float,
        backoff_initial_s: float,
        backoff_max_s: float,
    ) -> None:
        """What can change while running (start-up and SIGHUP); the next transaction
        uses it. `max_concurrency` sizes the slots and needs a restart."""
        self.rows_per_tx = rows_per_tx
        self._budget.max_rows = rows_per_tx
        self._budget.target_s = backfill_tx_s
        self._slots.max_yield_s = backfill_tx_s
        self.slow_tx_s = slow_tx_s
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        # Set while warm_up() runs, until the live write's query (REPLACE_FILES) is planned.
        self._live_query_planned: asyncio.Event | None = None

    @property
    def dead_letters(self) -> DeadLetters:
        return self._dead

    # -- public API -------------------------------------------------------------------

    async def write(self, updates: Sequence[FileUpdate], *, urgent: bool = False) -> None:
        """Write every update; returns once each is in the graph or dead-lettered.
        `urgent` (live edits): transactions of up to rows_per_tx rows that go before
        any backfill transaction; otherwise, while live edits are around, transactions
        sized to take about `backfill_tx_s` each (0, or no edits for LIVE_WINDOW_S:
        rows_per_tx rows), each sized when it may begin.

        While Neo4j is unreachable this does not return (that is the back-pressure);
        it raises only WriterFatalError."""
        planning = self._live_query_planned
        if urgent and planning is not None:
            await planning.wait()
        pending = deque(_last_per_file(updates))
        try:
            if urgent:
                await self._write_live(pending)
            else:
                await self._write_backfill(pending)
        except* WriterFatalError as group:
            raise group.exceptions[0] from None  # what the daemon stops on

    async def _write_live(self, pending: deque[FileUpdate]) -> None:
        chunks = []
        while pending:
            chunks.append(_take(pending, self.rows_per_tx))
        if len(chunks) == 1:
            await self._write_or_split(chunks[0], urgent=True)
            return
        async with asyncio.TaskGroup() as tg:
            for chunk in chunks:
                tg.create_task(self._write_or_split(chunk, urgent=True))

    async def _write_backfill(self, pending: deque[FileUpdate]) -> None:
        """Backfill transactions, each sized when it may begin (`TxSlots.backfill_turn`:
        after yielding to live work, with a slot free), not when its batch arrived: a
        batch cut into rows_per_tx chunks while nobody edited would otherwise go on
        beginning seconds-long transactions after an edit came."""
        async with asyncio.TaskGroup() as tg:
            while pending:
                await self._slots.backfill_turn()
                chunk = _take(pending, self.backfill_rows)
                tg.create_task(self._write_or_split(chunk))
                # Let it take its slot before the next turn is asked for.
                await asyncio.sleep(0)

    @property
    def backfill_rows(self) -> int:
        """Rows the next backfill transaction may hold: by measured time while live
        edits are around, else rows_per_tx."""
        if not self._slots.live_recently():
            return self.rows_per_tx
        return min(self.rows_per_tx, self._budget.rows())

    def hold_backfill(self) -> contextlib.AbstractContextManager[None]:
        """While held (a live batch from its graph read to its commit), no backfill
        transaction begins (graph/scheduling.py)."""
        return self._slots.hold()

    async def warm_up(self) -> None:
        """Plan every write query at start-up, each as the FIRST statement of its own
        transaction, rolled back (nothing is committed). Neo4j plans a query the first
        time it sees its text (0.5-3 s each on this machine) and the writer keeps that
        plan (REUSE_PLAN); but a plan made in a transaction that has already written
        is not kept: the old warm-up ran every query in one transaction, so the ones
        after the first write were planned again inside the first edit that used them
        (measured: the first live edit 1.2 s, a plan-cache miss right after warm-up).

        The live edit's queries go first (REPLACE_FILES, then the graph-state read): an
        edit arriving meanwhile waits for its own statement's plan only (see `write`;
        one planning, not a second one inside the edit's statement), not for the
        backfill's three (measured: the first edit after READY waited ~3 s)."""
        planned = self._live_query_planned = asyncio.Event()
        try:
            async with self._session() as session:
                await self._plan(session, "replace_files")
                planned.set()
                await self.file_states([_WARM_UP_UPDATE.ref.id])
                for name in q.WRITE_QUERIES:
                    if name != "replace_files":
                        await self._plan(session, name)
        finally:
            planned.set()
            self._live_query_planned = None

    async def _plan(self, session: AsyncSession, name: str) -> None:
        """Run write query `name` for the warm-up file as the first statement of its
        own transaction, and roll it back."""
        async with await session.begin_transaction() as tx:
            query = REUSE_PLAN + q.WRITE_QUERIES[name]
            result = await tx.run(query, p_param(_warm_up_params()[name]))
            await result.consume()
            await tx.rollback()

    async def file_states(self, ids: Sequence[str]) -> dict[str, FileState]:
        records = await self._read(q.FILE_STATES, ids=list(ids), graph_model=GRAPH_MODEL)
        return {
            r["id"]: FileState(r["sha256"], r["extractor_version"], r["failed_sha256"])
            for r in records
        }

    async def root_files(self, root: str) -> dict[str, GraphFile]:
        """path -> (sha256, extractor_version, failed_sha256) of every File of `root`
        (tuples, read in one record)."""
        records = await self._read(q.ROOT_FILES, root=root, graph_model=GRAPH_MODEL)
        return {path: (sha, version, failed) for path, sha, version, failed in records[0][0]}

    async def sweep_orphans(self, chunk: int = 5_000) -> int | None:
        """Remove every Table/Column nothing refers to (start-up reconcile looks at File
        nodes only; this covers what they do not). Safe next to other writers: each
        candidate is locked and re-checked. Returns how many candidates were checked, or
        None if removing them failed."""
        self.stats.orphan_sweeps += 1
        records = await self._read(q.ORPHAN_CANDIDATES)
        columns, tables = sorted(records[0]["columns"]), sorted(records[0]["tables"])
        for lo in range(0, max(len(columns), len(tables)), chunk):
            rows = WriteRows(
                orphan_columns=columns[lo : lo + chunk], orphan_tables=tables[lo : lo + chunk]
            )
            error = await self._write_with_retry(rows)
            if error is not None:
                log.error("orphan_sweep_failed", error=describe(error))
                return None
        if columns or tables:
            log.info("orphans_swept", columns=len(columns), tables=len(tables))
        return len(columns) + len(tables)

    def snapshot(self) -> dict[str, Any]:
        """Counters and gauges for /metrics and status (see WriterStats.snapshot)."""
        snap = self.stats.snapshot(driver_pool_stats(self._driver))
        snap["max_concurrent_tx"] = self.max_concurrency
        snap["rows_per_tx"] = self.rows_per_tx
        return snap

    # -- batching, splitting, dead letters --------------------------------------------

    async def _write_or_split(self, updates: list[FileUpdate], urgent: bool = False) -> None:
        rows = build_rows(updates)
        error = await self._write_with_retry(rows, urgent)
        if error is not None and rows.new_ids:
            # A file taken for new may have been written since its state was read (by
            # `lineaged replay` next to the daemon): its statements clash with the old
            # ones' ids. As a replace it goes through; only then look for a culprit.
            error = await self._write_with_retry(rows.replacing_all(), urgent)
        if error is None:
            self.stats.files += len(updates)
            return
        if len(updates) > 1:
            self.stats.splits += 1
            mid = len(updates) // 2
            log.warning("write_batch_split", files=len(updates), error=describe(error))
            await self._write_or_split(updates[:mid], urgent)
            await self._write_or_split(updates[mid:], urgent)
            return
        await self._dead_letter(updates[0], error)

    async def _dead_letter(self, update: FileUpdate, error: BaseException) -> None:
        message = describe(error)
        self.stats.dead_letters += 1
        letter = DeadLetter(
            update.ref.root,
            update.ref.path,
            update.sha256,
            type(error).__name__,
            message,
            time.time(),
        )
        self._dead.append([letter])
        log.error("file_dead_lettered", file=update.ref.id, sha256=update.sha256, error=message)
        if update.lineage is None:
            return
        # Tell the truth in the graph as well: the file exists but its lineage is missing.
        failed = build_rows([update], failures={update.ref.id: message})
        second = await self._write_with_retry(failed)
        if second is not None:
            log.error("failure_not_recorded_in_graph", file=update.ref.id, error=describe(second))

    # -- transactions ------------------------------------------------------------------

    async def _write_with_retry(
        self, rows: WriteRows, urgent: bool = False
    ) -> BaseException | None:
        """Run the transaction until it commits (None) or fails permanently (the error)."""
        backoff = _Backoff(self._backoff_initial, self._backoff_max)
        conflicts = 0
        while True:
            try:
                await self._run_tx(rows, urgent)
            except Exception as exc:
                if classify(exc) is ErrorKind.CONFLICT:
                    conflicts += 1
                    if conflicts > CONFLICT_RETRIES:
                        self.stats.record_error(describe(exc))
                        return exc
                if self._is_permanent(exc):
                    return exc
                rows = rows.replacing_all()
                await backoff.sleep()
                continue
            self._reachable()
            return None

    def _is_permanent(self, exc: Exception) -> bool:
        """Record `exc`; True for SPLIT, False for RETRY and CONFLICT; raises on FATAL."""
        kind = classify(exc)
        self.stats.record_error(describe(exc))
        if kind is ErrorKind.FATAL:
            raise WriterFatalError(describe(exc)) from exc
        if kind is ErrorKind.SPLIT:
            return True
        self.stats.retries += 1
        if kind is ErrorKind.CONFLICT:
            # Another writer dropped a node this one was joining (errors.py).
            log.info("write_retry_conflict", error=describe(exc))
            return False
        if not is_unreachable(exc):
            # Deadlocks and lock timeouts between concurrent writers: expected, cheap.
            log.info("write_retry_transient", error=describe(exc))
        elif self.stats.waiting_since is None:
            self.stats.waiting_since = time.monotonic()
            log.warning("neo4j_unavailable_retrying", error=describe(exc))
        return False

    def _reachable(self) -> None:
        if self.stats.waiting_since is not None:
            waited = time.monotonic() - self.stats.waiting_since
            log.warning("neo4j_available_again", waited_s=round(waited, 1))
            self.stats.waiting_since = None

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        # Counted so that a leaked session shows up as sessions_open > 0 when idle.
        self.stats.sessions_opened += 1
        try:
            async with self._driver.session(database=self._database) as session:
                yield session
        finally:
            self.stats.sessions_closed += 1

    async def _run_tx(self, rows: WriteRows, urgent: bool = False) -> None:
        self.stats.tx_waiting += 1
        try:
            await self._slots.acquire(urgent)
        finally:
            self.stats.tx_waiting -= 1
        self.stats.tx_in_flight += 1
        self.stats.tx_in_flight_peak = max(self.stats.tx_in_flight_peak, self.stats.tx_in_flight)
        delta = CountDelta()
        committing = urgent  # an auto-commit statement commits as it runs
        try:
            # The transaction's own time, from here: never the wait for a slot.
            started = self._clock()
            stages.mark("writer_wait")
            timings: dict[str, float] = {}
            self.stats.attempts += 1
            if urgent:
                await self._replace_in_one_statement(rows, timings, delta)
            else:
                async with self._session() as session, await session.begin_transaction() as tx:
                    stages.mark("tx_open")
                    await _replace_files(tx, rows, timings, delta)
                    stages.mark("tx_statements")
                    committing = True
                    commit_started = time.monotonic()
                    await tx.commit()
                    timings["commit"] = time.monotonic() - commit_started
            stages.mark("tx_commit")
            elapsed = self._clock() - started
        except BaseException as exc:
            self.ledger.failed(exc, committing=committing)
            raise
        finally:
            self.stats.tx_in_flight -= 1
            self._slots.release(urgent)
        self.ledger.committed(delta)
        if not urgent:
            self._budget.observe(rows.row_count, elapsed)
        self.stats.transactions += 1
        self.stats.rows += rows.row_count
        self.stats.write_seconds += elapsed
        # A new dict each time: snapshots hold a shallow copy of the stats.
        per_query = dict(self.stats.query_seconds)
        for name, seconds in timings.items():
            per_query[name] = per_query.get(name, 0.0) + seconds
        self.stats.query_seconds = per_query
        if elapsed > self.slow_tx_s:
            self._warn_slow(rows, elapsed, timings)

    async def _replace_in_one_statement(
        self, rows: WriteRows, timings: dict[str, float], delta: CountDelta
    ) -> None:
        """A live edit's replace as ONE auto-commit statement (queries.REPLACE_FILES):
        the driver sends RUN and PULL together and Neo4j commits before it answers, so
        the edit costs one round trip instead of five (BEGIN, three statements, COMMIT;
        the driver does not pipeline an explicit BEGIN). Still one transaction: the
        statement commits whole or not at all, and its errors are classified, retried
        and split like the explicit transaction's."""
        started = time.monotonic()
        async with self._session() as session:
            result = await session.run(REUSE_PLAN + q.REPLACE_FILES, p_param(_replace_params(rows)))
            delta.add((await result.consume()).counters)
        timings["replace_files"] = time.monotonic() - started

    def _warn_slow(self, rows: WriteRows, elapsed: float, timings: dict[str, float]) -> None:
        self.stats.slow_transactions += 1
        queries = {k: v for k, v in timings.items() if k != "commit"}
        slowest = max(queries, key=queries.__getitem__, default="replace_files")
        log.warning(
            "slow_write_transaction",
            query=slowest,
            query_s=round(timings.get(slowest, elapsed), 3),
            rows=rows.row_count,
            files=len(rows.delete_ids) + len(rows.new_ids),
            duration_s=round(elapsed, 3),
            commit_s=round(timings.get("commit", 0.0), 3),
            threshold_s=self.slow_tx_s,
        )

    async def _read(self, query: str, **params: object) -> list:
        """A read that waits out transient errors like writes do (reconcile stalls too)."""
        backoff = _Backoff(self._backoff_initial, self._backoff_max)
        while True:
            try:
                # Auto-commit: a read needs no BEGIN/COMMIT round trips of its own.
                async with self._session() as s:
                    result = await s.run(REUSE_PLAN + query, params)
                    records = [r async for r in result]
            except Exception as exc:
                if self._is_permanent(exc):
                    raise
                await backoff.sleep()
                continue
            self._reachable()
            return records


def _replace_params(rows: WriteRows) -> dict[str, Any]:
    """`$p` of queries.REPLACE_FILES: every list of the three statements it is made of."""
    return {
        "delete_ids": rows.delete_ids,
        "removed_ids": rows.removed_ids,
        **rows.write_new_params(),
        "orphan_columns": rows.orphan_columns,
        "orphan_tables": rows.orphan_tables,
    }


async def _replace_files(
    tx: AsyncTransaction,
    rows: WriteRows,
    timings: dict[str, float],
    delta: CountDelta | None = None,
) -> None:
    counts = delta if delta is not None else CountDelta()  # the ledger's, or thrown away

    async def run(name: str, query: str, **params: object) -> Any:
        started = time.monotonic()
        # One map parameter, one cached plan per query (see graph/queries.py).
        result = await tx.run(REUSE_PLAN + query, p_param(params))
        record = await result.single(strict=False)
        counts.add((await result.consume()).counters)
        timings[name] = timings.get(name, 0.0) + time.monotonic() - started
        return record

    columns = set(rows.orphan_columns)
    tables = set(rows.orphan_tables)
    if rows.delete_ids:
        record = await run(
            "delete_old",
            q.DELETE_OLD,
            delete_ids=rows.delete_ids,
            removed_ids=rows.removed_ids,
        )
        columns.update(record["columns"])
        tables.update(record["tables"])
    if rows.files:
        await run("write_new", q.WRITE_NEW, **rows.write_new_params())
    if columns or tables:
        # Sorted: the orphan check locks each candidate, in one global order.
        await run(
            "delete_orphans",
            q.DELETE_ORPHANS,
            orphan_columns=sorted(columns),
            orphan_tables=sorted(tables),
        )


_WARM_UP_UPDATE = FileUpdate(
    FileRef("lineaged-warm-up", "warm-up.sql"),
    "0" * 64,
    "postgres",
    FileLineage(
        "postgres",
        "warm-up",
        (
            StatementLineage(
                0,
                1,
                "insert",
                ("lineaged_warm_up.t",),
                ("lineaged_warm_up.s",),
                (ColumnEdge("lineaged_warm_up.t.c", ("lineaged_warm_up.s.c",), "DIRECT/IDENTITY"),),
                target_columns=("lineaged_warm_up.t.c",),
                indirect=(IndirectEdge(("lineaged_warm_up.s.k",), "INDIRECT/FILTER"),),
            ),
        ),
    ),
)


def _warm_up_params() -> dict[str, dict[str, Any]]:
    """`$p` of each write query for the warm-up file (which is never in the graph)."""
    rows = build_rows([_WARM_UP_UPDATE])
    return {
        "delete_old": {"delete_ids": rows.delete_ids, "removed_ids": rows.delete_ids},
        "write_new": rows.write_new_params(),
        "delete_orphans": {
            "orphan_columns": rows.column_ids(),
            "orphan_tables": rows.tables,
        },
        "replace_files": _replace_params(rows),
    }


def _take(pending: deque[FileUpdate], max_rows: int) -> list[FileUpdate]:
    """The next files from `pending`, up to `max_rows` rows (at least one file: a file
    is never split across transactions)."""
    chunk = [pending.popleft()]
    rows = update_rows(chunk[0])
    while pending and rows + update_rows(pending[0]) <= max_rows:
        rows += update_rows(pending[0])
        chunk.append(pending.popleft())
    return chunk


def _last_per_file(updates: Sequence[FileUpdate]) -> list[FileUpdate]:
    """Two updates of one file in one transaction would fight; the later one wins."""
    latest: dict[str, FileUpdate] = {}
    for u in updates:
        latest[u.ref.id] = u
    return list(latest.values())
