"""Async Neo4j writer: per-file atomic replace in row-budgeted batches, retry, split,
dead letters.

A batch of files is one transaction; a file is never split across transactions, so the
graph holds each file fully old or fully new. Transient errors wait and retry the same
transaction forever (the pipeline behind stalls, nothing is dropped); any other error
splits the batch in halves until the one file that cannot be written is isolated and
dead-lettered, and the rest are written.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from neo4j import AsyncDriver, AsyncManagedTransaction

from lineaged.deadletters import DeadLetter, DeadLetters
from lineaged.graph import queries as q
from lineaged.graph.errors import ErrorKind, classify, describe
from lineaged.graph.rows import WriteRows, build_rows, update_rows
from lineaged.model import FileUpdate

log = structlog.get_logger(__name__)


class WriterFatalError(RuntimeError):
    """The database refuses us for a reason retrying cannot fix (auth, no database)."""


@dataclass
class WriterStats:
    transactions: int = 0
    rows: int = 0
    files: int = 0
    retries: int = 0
    splits: int = 0
    dead_letters: int = 0
    write_seconds: float = 0.0
    waiting_since: float | None = None  # monotonic time Neo4j became unreachable
    last_error: str | None = None

    @property
    def state(self) -> str:
        return "waiting_for_neo4j" if self.waiting_since is not None else "ok"


@dataclass(frozen=True)
class FileState:
    sha256: str | None
    extractor_version: str | None
    failed_sha256: str | None


class GraphWriter:
    def __init__(
        self,
        driver: AsyncDriver,
        database: str,
        dead_letters: DeadLetters,
        *,
        rows_per_tx: int = 20_000,
        max_concurrency: int = 2,
        slow_tx_s: float = 5.0,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
    ) -> None:
        self._driver = driver
        self._database = database
        self._dead = dead_letters
        self.rows_per_tx = rows_per_tx
        self.slow_tx_s = slow_tx_s
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._tx_slots = asyncio.Semaphore(max_concurrency)
        self.stats = WriterStats()

    # -- public API -------------------------------------------------------------------

    async def write(self, updates: Sequence[FileUpdate]) -> None:
        """Write every update; returns once each is in the graph or dead-lettered."""
        chunks = list(self._chunks(_last_per_file(updates)))
        if len(chunks) == 1:
            await self._write_or_split(chunks[0])
            return
        async with asyncio.TaskGroup() as tg:
            for chunk in chunks:
                tg.create_task(self._write_or_split(chunk))

    async def file_states(self, ids: Sequence[str]) -> dict[str, FileState]:
        records = await self._read(q.FILE_STATES, ids=list(ids))
        return {
            r["id"]: FileState(r["sha256"], r["extractor_version"], r["failed_sha256"])
            for r in records
        }

    async def root_files(self, root: str) -> dict[str, FileState]:
        records = await self._read(q.ROOT_FILES, root=root)
        return {
            r["path"]: FileState(r["sha256"], r["extractor_version"], r["failed_sha256"])
            for r in records
        }

    # -- batching, splitting, dead letters --------------------------------------------

    def _chunks(self, updates: list[FileUpdate]) -> list[list[FileUpdate]]:
        chunks: list[list[FileUpdate]] = []
        current: list[FileUpdate] = []
        budget = 0
        for u in updates:
            n = update_rows(u)
            if current and budget + n > self.rows_per_tx:
                chunks.append(current)
                current, budget = [], 0
            current.append(u)
            budget += n
        if current:
            chunks.append(current)
        return chunks

    async def _write_or_split(self, updates: list[FileUpdate]) -> None:
        error = await self._write_with_retry(build_rows(updates))
        if error is None:
            self.stats.files += len(updates)
            return
        if len(updates) > 1:
            self.stats.splits += 1
            mid = len(updates) // 2
            log.warning("write_batch_split", files=len(updates), error=describe(error))
            await self._write_or_split(updates[:mid])
            await self._write_or_split(updates[mid:])
            return
        await self._dead_letter(updates[0], error)

    async def _dead_letter(self, update: FileUpdate, error: BaseException) -> None:
        message = describe(error)
        self.stats.dead_letters += 1
        self._dead.append(
            [
                DeadLetter(
                    update.ref.root,
                    update.ref.path,
                    update.sha256,
                    type(error).__name__,
                    message,
                    time.time(),
                )
            ]
        )
        log.error("file_dead_lettered", file=update.ref.id, sha256=update.sha256, error=message)
        if update.lineage is None:
            return
        # Tell the truth in the graph as well: the file exists but its lineage is missing.
        failed = build_rows([update], failures={update.ref.id: message})
        second = await self._write_with_retry(failed)
        if second is not None:
            log.error("failure_not_recorded_in_graph", file=update.ref.id, error=describe(second))

    # -- transactions ------------------------------------------------------------------

    async def _write_with_retry(self, rows: WriteRows) -> BaseException | None:
        """Run the transaction until it commits (None) or fails permanently (the error)."""
        delay = self._backoff_initial
        while True:
            try:
                await self._run_tx(rows)
            except Exception as exc:
                kind = classify(exc)
                self.stats.last_error = describe(exc)
                if kind is ErrorKind.FATAL:
                    raise WriterFatalError(describe(exc)) from exc
                if kind is ErrorKind.SPLIT:
                    return exc
                self.stats.retries += 1
                if self.stats.waiting_since is None:
                    self.stats.waiting_since = time.monotonic()
                    log.warning("neo4j_unavailable_retrying", error=describe(exc))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self._backoff_max)
                continue
            if self.stats.waiting_since is not None:
                waited = time.monotonic() - self.stats.waiting_since
                log.warning("neo4j_available_again", waited_s=round(waited, 1))
                self.stats.waiting_since = None
            return None

    async def _run_tx(self, rows: WriteRows) -> None:
        async with self._tx_slots:
            started = time.monotonic()
            async with self._driver.session(database=self._database) as session:
                await session.execute_write(_replace_files, rows)
            elapsed = time.monotonic() - started
        self.stats.transactions += 1
        self.stats.rows += rows.row_count
        self.stats.write_seconds += elapsed
        if elapsed > self.slow_tx_s:
            log.warning(
                "slow_write_transaction",
                query="replace_files",
                rows=rows.row_count,
                files=len(rows.delete_ids),
                duration_s=round(elapsed, 3),
            )

    async def _read(self, query: str, **params: object) -> list:
        delay = self._backoff_initial
        while True:
            try:
                result = await self._driver.execute_query(
                    query, params, database_=self._database, routing_="r"
                )
                return result.records
            except Exception as exc:
                if classify(exc) is not ErrorKind.RETRY:
                    raise
                self.stats.retries += 1
                self.stats.last_error = describe(exc)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self._backoff_max)


async def _replace_files(tx: AsyncManagedTransaction, rows: WriteRows) -> None:
    columns: set[str] = set()
    tables: set[str] = set()
    if rows.delete_ids:
        record = await _single(tx, q.DELETE_COLUMN_EDGES, ids=rows.delete_ids)
        columns.update(record["columns"])
        record = await _single(tx, q.DELETE_STATEMENTS, ids=rows.delete_ids)
        tables.update(record["tables"])
    if rows.removed_ids:
        await _run(tx, q.DELETE_FILES, ids=rows.removed_ids)
    if rows.files:
        await _run(tx, q.UPSERT_FILES, files=rows.files)
    if rows.statements:
        await _run(tx, q.CREATE_STATEMENTS, statements=rows.statements)
    if rows.reads:
        await _run(tx, q.WRITE_READS, edges=rows.reads)
    if rows.writes:
        await _run(tx, q.WRITE_WRITES, edges=rows.writes)
    if rows.column_edges:
        await _run(tx, q.WRITE_COLUMN_EDGES, edges=rows.column_edges)
    if columns:
        record = await _single(tx, q.DELETE_ORPHAN_COLUMNS, columns=sorted(columns))
        tables.update(t for t in record["tables"] if t is not None)
    if tables:
        await _run(tx, q.DELETE_ORPHAN_TABLES, tables=sorted(tables))


async def _run(tx: AsyncManagedTransaction, query: str, **params: object) -> None:
    result = await tx.run(query, params)
    await result.consume()


async def _single(tx: AsyncManagedTransaction, query: str, **params: object):
    result = await tx.run(query, params)
    return await result.single(strict=True)


def _last_per_file(updates: Sequence[FileUpdate]) -> list[FileUpdate]:
    """Two updates of one file in one transaction would fight; the later one wins."""
    latest: dict[str, FileUpdate] = {}
    for u in updates:
        latest[u.ref.id] = u
    return list(latest.values())
