"""The pipeline with fake neighbours: a pool that extracts in-process, a writer that
records what it is given."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from lineaged.batcher import Batch
from lineaged.config import RootSettings
from lineaged.extract import EXTRACTOR_VERSION, extract
from lineaged.graph.writer import FileState
from lineaged.model import Change, FileEvent, FileRef, FileUpdate, Priority
from lineaged.pipeline import Pipeline, RootContext, file_event, read_and_hash
from lineaged.pool import WorkerCrashed
from lineaged.stages import StageClock


class InlinePool:
    async def submit(self, _priority: Priority, data: bytes, dialect: str, *_: Any) -> Any:
        return extract(data, dialect)


class RecordingWriter:
    def __init__(self) -> None:
        self.written: list[FileUpdate] = []
        self.urgent: list[bool] = []

    async def write(self, updates: list[FileUpdate], *, urgent: bool = False) -> None:
        self.written.extend(updates)
        self.urgent.append(urgent)

    async def file_states(self, _ids: list[str]) -> dict[str, Any]:
        return {}


def changed(root: Path, *names: str) -> dict[FileRef, FileEvent]:
    """A batch: one CHANGED event for each of `names` under `root`."""
    return {
        FileRef("r", n): FileEvent(FileRef("r", n), str(root / n), Change.CHANGED) for n in names
    }


def make_pipeline(root: Path, writer: RecordingWriter) -> Pipeline:
    return Pipeline(
        {"r": RootContext(RootSettings("r", root))},
        InlinePool(),
        writer,
        extract_fn_version=EXTRACTOR_VERSION,
    )


async def test_files_with_errors_are_logged_once_each_with_path_and_sha(tmp_path: Path) -> None:
    (tmp_path / "good.sql").write_text("INSERT INTO a SELECT b FROM c")
    (tmp_path / "bad.sql").write_text("INSERT INTO a SELECT b FROM c;\nSELECT FROM (;")
    writer = RecordingWriter()
    pipeline = make_pipeline(tmp_path, writer)
    batch = changed(tmp_path, "good.sql", "bad.sql", "gone.sql")
    with structlog.testing.capture_logs() as logs:
        await pipeline.process(batch)
    errors = [e for e in logs if e["event"] == "file_has_errors"]
    assert [e["file"] for e in errors] == ["r:bad.sql"]
    assert errors[0]["sha256"] and errors[0]["error"].startswith("line 2")
    assert pipeline.stats.errors == 1
    by_path = {u.ref.path: u for u in writer.written}
    assert by_path["gone.sql"].deleted  # vanished between event and read
    assert by_path["bad.sql"].lineage is not None
    assert by_path["bad.sql"].lineage.statements[0].targets == ("a",)
    assert any(e["event"] == "batch_written" for e in logs)


async def test_live_batches_ask_for_the_urgent_write_lane(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("INSERT INTO a SELECT b FROM c")
    writer = RecordingWriter()
    pipeline = make_pipeline(tmp_path, writer)
    ref = FileRef("r", "a.sql")
    path = str(tmp_path / "a.sql")
    await pipeline.process({ref: FileEvent(ref, path, Change.CHANGED, Priority.LOW)})
    await pipeline.process({ref: FileEvent(ref, path, Change.CHANGED, Priority.HIGH)})
    assert writer.urgent == [False, True]


def _read_in_thread(events: list[FileEvent], fifo: Path, timeout: float = 10.0) -> list[Any]:
    """read_and_hash in a thread; if it is still blocked after `timeout`, open the FIFO
    for writing to release it (so the test fails instead of hanging) and fail."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(read_and_hash(events)), daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(5)
        pytest.fail("reading the batch blocked on a FIFO")
    return out[0]


def test_a_fifo_named_sql_is_never_opened_and_the_rest_of_the_batch_is_read(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "pipe.sql"
    os.mkfifo(fifo)
    (tmp_path / "good.sql").write_text("INSERT INTO a SELECT b FROM c")
    events = [
        FileEvent(FileRef("r", n), str(tmp_path / n), Change.CHANGED)
        for n in ("pipe.sql", "good.sql")
    ]
    pipe, good = _read_in_thread(events, fifo)
    assert pipe.data is None  # not a regular file: not ours, like the walk decides
    assert good.data == b"INSERT INTO a SELECT b FROM c" and good.sha256


async def test_non_regular_entries_get_no_file_node_and_the_batch_proceeds(
    tmp_path: Path,
) -> None:
    os.mkfifo(tmp_path / "pipe.sql")
    os.symlink("/dev/zero", tmp_path / "zero.sql")
    (tmp_path / "good.sql").write_text("INSERT INTO a SELECT b FROM c")
    writer = RecordingWriter()
    pipeline = make_pipeline(tmp_path, writer)
    batch = changed(tmp_path, "pipe.sql", "zero.sql", "good.sql")
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(pipeline.process(batch), 30)
    by_path = {u.ref.path: u for u in writer.written}
    assert by_path["good.sql"].lineage is not None
    assert by_path["pipe.sql"].deleted and by_path["zero.sql"].deleted
    skipped = sorted(e["error"] for e in logs if e["event"] == "not_a_regular_file")
    assert skipped == [
        f"not a regular file (FIFO): {tmp_path / 'pipe.sql'}",
        f"not a regular file (character device): {tmp_path / 'zero.sql'}",
    ]


_READ_DEV_ZERO = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from lineaged.model import Change, FileEvent, FileRef
from lineaged.pipeline import read_and_hash
[r] = read_and_hash([FileEvent(FileRef("r", "zero.sql"), sys.argv[1], Change.CHANGED)])
print("absent" if r.data is None else len(r.data))
"""


def test_a_link_to_dev_zero_is_not_read_without_bound(tmp_path: Path) -> None:
    os.symlink("/dev/zero", tmp_path / "zero.sql")
    # In a child with 1 GiB of address space: an unbounded read dies there, not here.
    proc = subprocess.run(
        [sys.executable, "-c", _READ_DEV_ZERO, str(tmp_path / "zero.sql")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "absent"


async def test_a_huge_file_gets_a_clear_error_without_being_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.sql"
    with huge.open("wb") as fh:  # sparse: 64 GiB of apparent size, no disk used
        fh.truncate(64 << 30)
    (tmp_path / "good.sql").write_text("INSERT INTO a SELECT b FROM c")
    writer = RecordingWriter()
    pipeline = make_pipeline(tmp_path, writer)
    batch = changed(tmp_path, "huge.sql", "good.sql")
    await asyncio.wait_for(pipeline.process(batch), 60)
    by_path = {u.ref.path: u for u in writer.written}
    assert by_path["good.sql"].lineage is not None and by_path["good.sql"].lineage.error is None
    lineage = by_path["huge.sql"].lineage
    assert lineage is not None and lineage.error is not None
    assert lineage.error.startswith("file too large: 68719476736 bytes (limit ")


class CrashingPool:
    """Every submit is answered as the pool does after a file's worker died twice."""

    def __init__(self) -> None:
        self.submitted = 0

    async def submit(self, *_: Any) -> Any:
        self.submitted += 1
        raise WorkerCrashed("worker died twice running this task: killed")


class StatefulWriter(RecordingWriter):
    """Answers file_states from what was written, as the graph would."""

    async def file_states(self, ids: list[str]) -> dict[str, Any]:
        latest = {u.ref.id: u for u in self.written}
        return {i: FileState(latest[i].sha256, EXTRACTOR_VERSION, None) for i in ids if i in latest}


async def test_a_crash_verdict_is_not_recorded_as_the_contents_and_is_retried_on_restart(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.sql").write_text("INSERT INTO a SELECT b FROM c")
    ref = FileRef("r", "a.sql")
    batch = {ref: FileEvent(ref, str(tmp_path / "a.sql"), Change.CHANGED)}
    writer, pool = StatefulWriter(), CrashingPool()

    def pipeline() -> Pipeline:
        return Pipeline(
            {"r": RootContext(RootSettings("r", tmp_path))},
            pool,
            writer,
            extract_fn_version=EXTRACTOR_VERSION,
        )

    first = pipeline()
    await first.process(batch)
    [update] = writer.written
    assert update.lineage is not None and "worker died" in (update.lineage.error or "")
    assert update.sha256 is None  # the graph must not vouch for this content
    # Within one run the verdict stands: a rescan or an event does not crash it again.
    await first.process(batch)
    assert pool.submitted == 1
    # A restart retries it, once.
    second = pipeline()
    await second.process(batch)
    await second.process(batch)
    assert pool.submitted == 2
    # An edit is new content: tried at once.
    (tmp_path / "a.sql").write_text("INSERT INTO a SELECT b FROM d")
    await second.process(batch)
    assert pool.submitted == 3


async def test_a_content_that_crashes_workers_on_several_starts_is_given_up_until_edited(
    tmp_path: Path,
) -> None:
    """The retry on restart is bounded: after GIVE_UP_AFTER_STARTS starts whose retry
    crashed on the same content, a start reads and hashes the file but extracts
    nothing (no more worker deaths); an edit, a new extractor version or a success
    starts the count again. The count survives restarts (a 0600 file in the state
    directory). Old code: every start submitted it again, forever."""
    import stat as stat_module

    from lineaged.crash_counts import GIVE_UP_AFTER_STARTS, CrashCounts, crash_counts_path

    sql = tmp_path / "a.sql"
    sql.write_text("INSERT INTO a SELECT b FROM c")
    ref = FileRef("r", "a.sql")
    batch = {ref: FileEvent(ref, str(sql), Change.CHANGED)}
    state = tmp_path / "state"
    writer, pool = StatefulWriter(), CrashingPool()

    def start(version: str = EXTRACTOR_VERSION, extractor: Any = pool) -> Pipeline:
        # A new Pipeline and CrashCounts per start: only the state directory carries over.
        return Pipeline(
            {"r": RootContext(RootSettings("r", tmp_path))},
            extractor,
            writer,
            extract_fn_version=version,
            crash_counts=CrashCounts(crash_counts_path(state)),
        )

    for n in range(1, GIVE_UP_AFTER_STARTS + 1):
        await start().process(batch)
        assert pool.submitted == n
    assert "given up after 3 starts" in (writer.written[-1].lineage.error or "")
    assert writer.written[-1].sha256 is None
    assert "retried at the next start" in (writer.written[0].lineage.error or "")
    mode = stat_module.S_IMODE(crash_counts_path(state).stat().st_mode)
    assert mode == 0o600

    written = len(writer.written)
    await start().process(batch)  # given up: no worker dies, nothing is rewritten
    assert (pool.submitted, len(writer.written)) == (GIVE_UP_AFTER_STARTS, written)

    await start(version="9.9.9").process(batch)  # a new extractor may not crash on it
    assert pool.submitted == GIVE_UP_AFTER_STARTS + 1

    sql.write_text("INSERT INTO a SELECT b FROM d")  # new content: tried at once
    await start().process(batch)
    assert pool.submitted == GIVE_UP_AFTER_STARTS + 2

    sql.write_text("INSERT INTO a SELECT b FROM c")  # the old content, extracted fine
    await start(extractor=InlinePool()).process(batch)
    assert writer.written[-1].sha256 is not None
    assert b"a.sql" not in crash_counts_path(state).read_bytes()  # the count is forgotten


def test_file_state_is_current_is_the_one_currency_rule() -> None:
    from lineaged.model import FileState

    state = FileState("aaa", "v1", failed_sha256="bbb")
    assert state.is_current("aaa", "v1")
    assert not state.is_current("aaa", "v2"), "a new extractor version must re-parse"
    assert not state.is_current("ccc", "v1"), "new content must be written"
    assert state.is_current("bbb", "v2"), "a refused content stays put until edited or replayed"
    assert not FileState(None, None, None).is_current("aaa", "v1")


class Journal(list[str]):
    """What the pipeline's neighbours were asked to do, in order."""


class JournalPool(InlinePool):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def submit(self, priority: Priority, data: bytes, dialect: str, *args: Any) -> Any:
        self.journal.append("extract")
        return await super().submit(priority, data, dialect, *args)

    @contextlib.contextmanager
    def reserve_worker(self) -> Iterator[None]:
        self.journal.append("reserve")
        yield
        self.journal.append("unreserve")


class JournalWriter(RecordingWriter):
    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    async def write(self, updates: list[FileUpdate], *, urgent: bool = False) -> None:
        self.journal.append("write")
        await super().write(updates, urgent=urgent)


class JournalCache:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def get_many(self, _keys: Any) -> dict[str, Any]:
        self.journal.append("cache_get")
        return {}

    async def put_many(self, _items: Any) -> None:
        self.journal.append("cache_put")


class JournalStatCache:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def vouching(self, _root: str, _paths: Any) -> dict[str, Any]:
        return {}

    async def put_many(self, _root: str, _entries: Any) -> None:
        self.journal.append("stat_put")

    async def delete_many(self, _root: str, _paths: Any) -> None:
        self.journal.append("stat_delete")


@pytest.mark.parametrize("priority", [Priority.HIGH, Priority.LOW])
async def test_cache_writes_wait_for_the_graph_and_a_live_batch_reserves_a_worker(
    tmp_path: Path, priority: Priority
) -> None:
    """A live edit's path is read → cache lookup → extraction (with a worker kept free
    of backfill) → graph write; the SQLite commits of the parse and stat caches come
    after the write, off the edit's path. On the old code both came before it."""
    (tmp_path / "a.sql").write_text("INSERT INTO a SELECT b FROM c")
    journal = Journal()
    pool = JournalPool(journal)
    pipeline = Pipeline(
        {"r": RootContext(RootSettings("r", tmp_path))},
        pool,
        JournalWriter(journal),
        extract_fn_version=EXTRACTOR_VERSION,
        cache=JournalCache(journal),
        cache_key=lambda sha, dialect, schema, version: f"{sha}/{dialect}/{schema}/{version}",
        stat_cache=JournalStatCache(journal),
        reserve_worker=pool.reserve_worker,
    )
    ref = FileRef("r", "a.sql")
    await pipeline.process({ref: FileEvent(ref, str(tmp_path / "a.sql"), Change.CHANGED, priority)})
    extraction = ["cache_get", "extract"]
    if priority is Priority.HIGH:
        extraction = ["reserve", *extraction, "unreserve"]
    assert journal == [*extraction, "write", "stat_put", "cache_put"]


async def test_every_stage_of_a_live_edit_is_timed(tmp_path: Path) -> None:
    """The stage clock of a batch (lineaged/stages.py) reaches `on_stages` with the
    stages the batch went through, in order, none negative."""
    (tmp_path / "a.sql").write_text("INSERT INTO a SELECT b FROM c")
    clocks: list[StageClock] = []
    journal = Journal()
    pipeline = Pipeline(
        {"r": RootContext(RootSettings("r", tmp_path))},
        JournalPool(journal),
        JournalWriter(journal),
        extract_fn_version=EXTRACTOR_VERSION,
        cache=JournalCache(journal),
        cache_key=lambda sha, dialect, schema, version: sha,
        on_stages=clocks.append,
    )
    ref = FileRef("r", "a.sql")
    event = file_event(ref, str(tmp_path / "a.sql"), Change.CHANGED, Priority.HIGH)
    batch = Batch({ref: event})
    batch.released_at = event.at
    await pipeline.process(batch)
    [clock] = clocks
    assert clock.live and clock.start == event.at
    durations = clock.durations()
    assert list(durations) == [
        "debounce",
        "lane_wait",
        "read",
        "graph_state",
        "cache_get",
        "cache_put",
    ]
    assert all(d >= 0 for d in durations.values())


class AskingWriter(StatefulWriter):
    """Records which files each graph-state read asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[str]] = []

    async def file_states(self, ids: list[str]) -> dict[str, Any]:
        self.asked.append(list(ids))
        return await super().file_states(ids)


async def test_a_live_edit_of_a_file_this_process_wrote_skips_the_graph_read(
    tmp_path: Path,
) -> None:
    """The graph holds what this process last wrote, so new content of that file is a
    change without a round trip to Neo4j; an unknown file, or the same content again,
    still asks the graph, and unchanged content writes nothing. The old pipeline read
    the graph's state before every live batch."""
    a, b = tmp_path / "a.sql", tmp_path / "b.sql"
    a.write_text("INSERT INTO a SELECT x FROM c")
    b.write_text("INSERT INTO b SELECT x FROM c")
    writer = AskingWriter()
    pipeline = make_pipeline(tmp_path, writer)

    def live(*names: str) -> dict[FileRef, FileEvent]:
        return {
            FileRef("r", n): file_event(
                FileRef("r", n), str(tmp_path / n), Change.CHANGED, Priority.HIGH
            )
            for n in names
        }

    await pipeline.process(live("a.sql"))
    assert writer.asked == [["r:a.sql"]]  # never written by this process: ask
    a.write_text("INSERT INTO a SELECT y FROM c")
    await pipeline.process(live("a.sql", "b.sql"))
    assert writer.asked[1:] == [["r:b.sql"]]  # a's change is known; b is not
    assert [u.ref.path for u in writer.written] == ["a.sql", "a.sql", "b.sql"]
    await pipeline.process(live("a.sql"))  # saved again, same content
    assert writer.asked[2:] == [["r:a.sql"]]
    assert len(writer.written) == 3  # an unchanged file writes nothing
    # The second write of a.sql skipped the read: it is in the graph (this process
    # wrote it), so its old statements are deleted first; b.sql was asked: new.
    assert [(u.ref.path, u.in_graph) for u in writer.written] == [
        ("a.sql", False),
        ("a.sql", True),
        ("b.sql", False),
    ]


async def test_a_backfill_batch_and_a_failed_write_ask_the_graph(tmp_path: Path) -> None:
    a = tmp_path / "a.sql"
    a.write_text("INSERT INTO a SELECT x FROM c")
    writer = AskingWriter()
    pipeline = make_pipeline(tmp_path, writer)
    ref = FileRef("r", "a.sql")

    def event(priority: Priority) -> dict[FileRef, FileEvent]:
        return {ref: file_event(ref, str(a), Change.CHANGED, priority)}

    await pipeline.process(event(Priority.HIGH))
    a.write_text("INSERT INTO a SELECT y FROM c")
    await pipeline.process(event(Priority.LOW))  # backfill: always asks
    assert writer.asked == [["r:a.sql"], ["r:a.sql"]]

    async def refuse(updates: list[FileUpdate], *, urgent: bool = False) -> None:
        raise RuntimeError("write interrupted")

    a.write_text("INSERT INTO a SELECT z FROM c")
    writer.write = refuse  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await pipeline.process(event(Priority.HIGH))
    del writer.write  # back to recording
    assert len(writer.asked) == 2  # known: skipped the read
    a.write_text("INSERT INTO a SELECT w FROM c")
    await pipeline.process(event(Priority.HIGH))
    assert len(writer.asked) == 3  # after an unfinished write the graph is asked again


async def test_a_file_the_graph_never_held_is_written_as_new_and_a_known_one_as_a_replace(
    tmp_path: Path,
) -> None:
    # A rebuild (graph lost) or a first ingest has nothing of the file in the graph:
    # the writer may skip deleting its old lineage. A file the graph holds must not.
    (tmp_path / "a.sql").write_text("INSERT INTO a SELECT b FROM c")
    writer = StatefulWriter()
    pipeline = make_pipeline(tmp_path, writer)
    await pipeline.process(changed(tmp_path, "a.sql"))
    (tmp_path / "a.sql").write_text("INSERT INTO a SELECT b FROM d")
    await pipeline.process(changed(tmp_path, "a.sql"))
    assert [u.in_graph for u in writer.written] == [False, True]
