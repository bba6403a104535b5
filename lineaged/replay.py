"""The work behind `lineaged replay`: re-drive the dead letters once their cause is fixed.

Each dead-lettered file is read again from disk, extracted, and written through the
same GraphWriter as the daemon uses (same splitting, same dead-lettering). Then:
- a file that is now written leaves the dead-letter file;
- a file that no longer exists has its contribution removed from the graph and leaves
  the dead-letter file;
- a file that fails again stays, with the new error (and its File node says so).
Safe next to a running daemon: the dead-letter file is settled under its lock, and a
replayed file is written as one atomic replace like any other.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from neo4j import AsyncDriver

from lineaged.config import RootSettings, Settings
from lineaged.deadletters import DeadLetter, DeadLetters
from lineaged.graph.connect import connected
from lineaged.graph.schema import ensure_schema
from lineaged.graph.writer import GraphWriter
from lineaged.model import FileRef, FileUpdate, Priority
from lineaged.pool import PriorityPool, WorkerCrashed
from lineaged.wiring import writer_options

CRASHED = "WorkerCrashed"


@dataclass
class ReplayReport:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # gone from disk: contribution deleted
    failed: list[DeadLetter] = field(default_factory=list)  # still refused (or unreplayable)

    def to_dict(self) -> dict[str, object]:
        return {
            "written": self.written,
            "removed": self.removed,
            "failed": [{"file": d.file_id, "error": d.message} for d in self.failed],
        }


async def replay(settings: Settings, driver: AsyncDriver, dead: DeadLetters) -> ReplayReport:
    letters = dead.read()
    latest: dict[str, DeadLetter] = {d.file_id: d for d in letters}
    # Files whose worker died: not dead letters (the graph took the error), but a crash
    # is no verdict on the content, so replay retries them too, in a worker process
    # of its own (a file that kills workers must not kill replay).
    crashed = await crash_verdicts(driver, settings.neo4j.database)
    for letter in crashed:
        latest.setdefault(letter.file_id, letter)
    roots = {r.name: r for r in settings.roots}
    report = ReplayReport()
    updates: list[FileUpdate] = []
    pool = await _crash_pool(settings) if crashed else None
    try:
        for letter in latest.values():
            root = roots.get(letter.root)
            if root is None:
                # Not ours to judge: the root may come back in the config.
                why = f"root '{letter.root}' not configured"
                report.failed.append(_unreplayable(letter, why))
                continue
            isolate = pool if letter.error_class == CRASHED else None
            update = await _update_from_disk(root, letter, isolate)
            if isinstance(update, str):
                report.failed.append(_unreplayable(letter, update))
                continue
            updates.append(update)
    finally:
        if pool is not None:
            await pool.close()
    await _write_replayed(settings, driver, dead, letters, updates, report)
    return report


async def _write_replayed(
    settings: Settings,
    driver: AsyncDriver,
    dead: DeadLetters,
    letters: list[DeadLetter],
    updates: list[FileUpdate],
    report: ReplayReport,
) -> None:
    """Write `updates` through a GraphWriter of its own and settle the dead letters."""
    retried = DeadLetters(dead.path.with_name(dead.path.name + ".replay"))
    retried.path.unlink(missing_ok=True)
    writer = GraphWriter(
        driver,
        settings.neo4j.database,
        retried,
        max_concurrency=settings.writer.max_concurrent_tx,
        **writer_options(settings),
    )
    if updates:
        await writer.write(updates)
    again = {d.file_id: d for d in retried.read()}
    retried.path.unlink(missing_ok=True)
    for u in updates:
        if u.ref.id in again:
            report.failed.append(again[u.ref.id])
        elif u.lineage is None:
            report.removed.append(u.ref.id)
        else:
            report.written.append(u.ref.id)
    dead.settle(letters, report.failed)


async def crash_verdicts(driver: AsyncDriver, database: str) -> list[DeadLetter]:
    """Files the graph holds with a worker-crash error and no content hash. A label
    scan over File nodes: fine for an administrative command, never run by the daemon."""
    from lineaged.pipeline import CRASH_ERROR

    records, _, _ = await driver.execute_query(
        "MATCH (f:File) WHERE f.sha256 IS NULL AND f.error STARTS WITH $prefix "
        "RETURN f.root AS root, f.path AS path, f.error AS error ORDER BY root, path",
        prefix=CRASH_ERROR,
        database_=database,
    )
    now = time.time()
    return [DeadLetter(r["root"], r["path"], None, CRASHED, r["error"], now) for r in records]


async def _crash_pool(settings: Settings) -> PriorityPool:
    from lineaged.worker import extract_task, init_worker

    pool = PriorityPool(
        extract_task,
        workers=1,
        task_timeout_s=settings.pool.task_timeout_s,
        initializer=init_worker,
        preload=("lineaged.worker",),
    )
    await pool.start()
    return pool


async def _update_from_disk(
    root: RootSettings, letter: DeadLetter, pool: PriorityPool | None
) -> FileUpdate | str:
    """The update that replays `letter`, or why it cannot be replayed. With `pool`,
    the extraction runs in its worker process."""
    from lineaged.extract import extract, load_schema_file
    from lineaged.reading import NotRegularFile, read_file

    ref = FileRef(letter.root, letter.path)
    try:
        content = await asyncio.to_thread(read_file, str(root.path / letter.path))
    except (FileNotFoundError, NotADirectoryError, NotRegularFile):
        return FileUpdate(ref, None, root.dialect, None)  # gone, or no longer a file
    if content.error is not None:
        return content.error
    data = content.data
    schema = load_schema_file(root.schema_file) if root.schema_file else None
    args = (data, root.dialect, schema, root.default_catalog or None, root.default_schema or None)
    if pool is None:
        lineage = await asyncio.to_thread(
            lambda: extract(*args[:3], default_catalog=args[3], default_schema=args[4])
        )
    else:
        try:
            lineage = await pool.submit(Priority.HIGH, *args)
        except (WorkerCrashed, TimeoutError) as exc:
            return f"extraction failed again: {exc}"
    return FileUpdate(ref, hashlib.sha256(data).hexdigest(), root.dialect, lineage)


def _unreplayable(letter: DeadLetter, why: str) -> DeadLetter:
    return DeadLetter(letter.root, letter.path, letter.sha256, "ReplaySkipped", why, time.time())


async def replay_file(settings: Settings, path: Path) -> ReplayReport:
    """Connect (waiting as the daemon does), make sure of the schema, replay `path`.
    Raises `CannotConnect` when Neo4j cannot be reached."""
    async with connected(settings.neo4j) as driver:
        await ensure_schema(driver, settings.neo4j.database)
        return await replay(settings, driver, DeadLetters(path))
