"""The schema catalog as a pipeline stage, with fake neighbours: an in-process pool that
counts extractions, a writer that remembers file states, and a requeue that feeds
events back in the way the daemon's batcher would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lineaged.cache import ParseCache, cache_key
from lineaged.catalog.stage import SchemaStage, order_events
from lineaged.config import RootSettings
from lineaged.extract import EXTRACTOR_VERSION, extract
from lineaged.model import Change, FileEvent, FileRef, FileState, FileUpdate, Priority
from lineaged.pipeline import Pipeline, RootContext


class CountingPool:
    def __init__(self) -> None:
        self.extracted: list[str] = []

    async def submit(self, _priority: Priority, data: bytes, dialect: str, *args: Any) -> Any:
        corpus = args[3] if len(args) > 3 else None
        self.extracted.append(data.decode().split("--", 1)[-1].strip().splitlines()[0])
        await asyncio.sleep(0)
        return extract(data, dialect, catalog=corpus)


class StateWriter:
    def __init__(self) -> None:
        self.files: dict[str, FileUpdate] = {}

    async def write(self, updates: list[FileUpdate], *, urgent: bool = False) -> None:
        for u in updates:
            if u.deleted:
                self.files.pop(u.ref.id, None)
            else:
                self.files[u.ref.id] = u

    async def file_states(self, ids: list[str]) -> dict[str, Any]:
        return {
            i: FileState(self.files[i].sha256 or "", EXTRACTOR_VERSION, None)
            for i in ids
            if i in self.files
        }

    def edges(self, path: str) -> set[tuple[str, str]]:
        lineage = self.files[f"r:{path}"].lineage
        assert lineage is not None
        return {(e.target, s) for st in lineage.statements for e in st.columns for s in e.sources}


class Harness:
    def __init__(
        self,
        root: Path,
        stage: SchemaStage | None = None,
        cache: ParseCache | None = None,
        *,
        stat_cache: Any = None,
    ) -> None:
        self.root = root
        self.pool = CountingPool()
        self.writer = StateWriter()
        self.queue: list[FileEvent] = []
        self.stage = stage if stage is not None else SchemaStage()
        self.pipeline = Pipeline(
            {"r": RootContext(RootSettings("r", root))},
            self.pool,
            self.writer,
            extract_fn_version=EXTRACTOR_VERSION,
            requeue=self.queue.append,
            schema=self.stage,
            cache=cache,
            cache_key=cache_key if cache is not None else None,
            stat_cache=stat_cache,
        )

    def write(self, name: str, sql: str) -> None:
        # The first comment line names the file in the pool's log.
        (self.root / name).write_text(f"-- {name}\n{sql}\n")

    def event(
        self, name: str, change: Change = Change.CHANGED, priority: Priority = Priority.HIGH
    ) -> FileEvent:
        return FileEvent(FileRef("r", name), str(self.root / name), change, priority)

    async def run(
        self, *names: str, change: Change = Change.CHANGED, priority: Priority = Priority.HIGH
    ) -> None:
        """Process one batch, then whatever it re-queues, until quiet."""
        if names:
            await self.pipeline.process(
                {FileRef("r", n): self.event(n, change, priority) for n in names}
            )
        while self.queue:
            batch = {e.ref: e for e in self.queue}
            self.queue.clear()
            await self.pipeline.process(batch)


CHAIN = {
    "raw.sql": "CREATE TABLE raw.orders (id int, amount int);",
    "stg.sql": "CREATE VIEW stg.orders AS SELECT * FROM raw.orders;",
    "mart.sql": "CREATE VIEW mart.orders AS SELECT * FROM stg.orders;",
    "report.sql": "INSERT INTO rep.daily SELECT * FROM mart.orders;",
    "other.sql": "INSERT INTO rep.misc SELECT x FROM elsewhere;",
}


async def test_one_batch_in_reverse_order_extracts_each_file_once(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    for name, sql in CHAIN.items():
        h.write(name, sql)
    await h.run(*reversed(CHAIN))
    assert sorted(h.pool.extracted) == sorted(CHAIN)
    assert h.writer.edges("report.sql") == {
        ("rep.daily.id", "mart.orders.id"),
        ("rep.daily.amount", "mart.orders.amount"),
    }


async def test_column_added_upstream_reextracts_exactly_the_dependants(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    for name, sql in CHAIN.items():
        h.write(name, sql)
    await h.run(*CHAIN)
    h.pool.extracted.clear()
    h.write("raw.sql", "CREATE TABLE raw.orders (id int, amount int, status text);")
    await h.run("raw.sql")
    assert sorted(h.pool.extracted) == ["mart.sql", "raw.sql", "report.sql", "stg.sql"]
    assert ("rep.daily.status", "mart.orders.status") in h.writer.edges("report.sql")
    # The same content again: nothing is extracted, nothing propagates.
    h.pool.extracted.clear()
    await h.run("raw.sql")
    assert h.pool.extracted == []


async def test_column_removed_and_table_deleted_upstream(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    for name, sql in CHAIN.items():
        h.write(name, sql)
    await h.run(*CHAIN)
    h.write("raw.sql", "CREATE TABLE raw.orders (id int);")
    await h.run("raw.sql")
    assert h.writer.edges("report.sql") == {("rep.daily.id", "mart.orders.id")}
    (tmp_path / "raw.sql").unlink()
    h.pool.extracted.clear()
    await h.run("raw.sql", change=Change.DELETED)
    assert sorted(h.pool.extracted) == ["mart.sql", "report.sql", "stg.sql"]
    assert h.writer.edges("report.sql") == set()
    report = h.writer.files["r:report.sql"].lineage
    assert report is not None and report.statements[0].unresolved == ("mart.orders.*",)


async def test_cycle_terminates(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.write("a.sql", "CREATE VIEW a AS SELECT * FROM b;")
    h.write("b.sql", "CREATE VIEW b AS SELECT * FROM a;")
    h.write("c.sql", "CREATE VIEW c AS SELECT k FROM a;")
    await h.run("a.sql", "b.sql", "c.sql")
    h.write("b.sql", "CREATE VIEW b AS SELECT * FROM a UNION ALL SELECT 1 AS k;")
    await h.run("b.sql")
    assert len(h.pool.extracted) < 20
    assert h.stage.stale_files() == []


async def test_later_batch_waits_for_an_earlier_batch_defining_what_it_reads(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path)
    for name, sql in CHAIN.items():
        h.write(name, sql)
    low = Priority.LOW
    first = {FileRef("r", n): h.event(n, priority=low) for n in ("raw.sql", "stg.sql")}
    second = {FileRef("r", n): h.event(n, priority=low) for n in ("mart.sql", "report.sql")}
    await asyncio.gather(h.pipeline.process(first), h.pipeline.process(second))
    assert h.queue == []
    assert sorted(h.pool.extracted) == ["mart.sql", "raw.sql", "report.sql", "stg.sql"]
    assert ("rep.daily.amount", "mart.orders.amount") in h.writer.edges("report.sql")


async def test_a_live_edit_does_not_wait_for_a_backfill_batch(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    for name, sql in CHAIN.items():
        h.write(name, sql)
    gate = asyncio.Event()
    extract_inline = h.pool.submit

    async def held(priority: Priority, data: bytes, *args: Any) -> Any:
        if priority == Priority.LOW:
            await gate.wait()
        return await extract_inline(priority, data, *args)

    h.pool.submit = held  # type: ignore[method-assign]
    backfill = {FileRef("r", "raw.sql"): h.event("raw.sql", priority=Priority.LOW)}
    held_batch = asyncio.create_task(h.pipeline.process(backfill))
    await asyncio.sleep(0.05)
    live = {FileRef("r", "stg.sql"): h.event("stg.sql")}
    await asyncio.wait_for(h.pipeline.process(live), 10)  # not held behind the backfill
    assert not held_batch.done()
    gate.set()
    await held_batch
    await h.run()  # the edit read raw.orders before it was known: it goes round again
    assert ("stg.orders.amount", "raw.orders.amount") in h.writer.edges("stg.sql")


async def chain_with_persisted_catalog(tmp_path: Path) -> tuple[Harness, ParseCache]:
    """CHAIN ingested under tmp_path/src by a stage that persists into a parse cache."""
    src = tmp_path / "src"
    src.mkdir()
    cache = await ParseCache.open(tmp_path / "cache.sqlite")
    h = Harness(src, SchemaStage(cache.catalog))
    for name, sql in CHAIN.items():
        h.write(name, sql)
    await h.run(*CHAIN)
    return h, cache


async def test_catalog_survives_a_restart_with_the_parse_cache(tmp_path: Path) -> None:
    h, cache = await chain_with_persisted_catalog(tmp_path)
    src = h.root
    await cache.close()

    cache = await ParseCache.open(tmp_path / "cache.sqlite")
    stage = SchemaStage(cache.catalog)
    await stage.open()
    assert stage.catalog.columns("mart.orders") == {"id": "UNKNOWN", "amount": "UNKNOWN"}
    assert stage.stale_files() == []
    again = Harness(src, stage)
    again.writer.files = h.writer.files
    await again.run(*CHAIN)  # a warm restart: every file current, nothing extracted
    assert again.pool.extracted == []
    await cache.close()


async def test_a_file_the_catalog_does_not_know_is_extracted_even_if_the_graph_has_it(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path)
    for name, sql in CHAIN.items():
        h.write(name, sql)
    await h.run(*CHAIN)
    fresh = Harness(tmp_path)  # the cache (and with it the catalog) was lost
    fresh.writer.files = h.writer.files
    await fresh.run(*CHAIN)
    assert sorted(fresh.pool.extracted) == sorted(CHAIN)
    assert fresh.stage.catalog.tables() == h.stage.catalog.tables()


def test_reconcile_events_come_definitions_first(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    for name, sql in CHAIN.items():
        h.write(name, sql)
    events = [h.event(n) for n in sorted(CHAIN)] + [h.event("gone.sql", Change.DELETED)]
    ordered = [e.ref.path for e in order_events(events)]
    assert ordered[0] == "gone.sql"
    assert ordered.index("raw.sql") < ordered.index("stg.sql") < ordered.index("mart.sql")
    assert ordered.index("mart.sql") < ordered.index("report.sql")


def test_settled_files_come_first_unread_and_the_rest_definitions_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose content the catalog has taken in already (reconcile.settled) cannot
    gain from the order: it is not read, and comes right after the deletions."""
    h = Harness(tmp_path)
    for name, sql in CHAIN.items():
        h.write(name, sql)
    events = [h.event(n) for n in sorted(CHAIN)] + [h.event("gone.sql", Change.DELETED)]
    opened: list[str] = []
    real_open = open

    def tracking_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(Path(path).name)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", tracking_open)
    ordered = [e.ref.path for e in order_events(events, {"r:mart.sql", "r:other.sql"})]
    monkeypatch.undo()
    assert ordered[:3] == ["gone.sql", "mart.sql", "other.sql"]
    assert ordered.index("raw.sql") < ordered.index("stg.sql")  # stg reads raw
    assert sorted(opened) == ["raw.sql", "report.sql", "stg.sql"]
    # All settled: nothing is read at all.
    opened.clear()
    monkeypatch.setattr("builtins.open", tracking_open)
    everything = {e.ref.id for e in events}
    assert [e.ref.path for e in order_events(events, everything)] == [
        e.ref.path for e in events[-1:] + events[:-1]
    ]
    monkeypatch.undo()
    assert opened == []


async def test_extract_dir_gives_what_the_daemon_stores(tmp_path: Path, capsysbinary) -> None:
    import argparse

    import orjson

    from lineaged.cli import extract as cli

    h = Harness(tmp_path)
    for name, sql in CHAIN.items():
        h.write(name, sql)
    h.write("dup.sql", "CREATE VIEW stg.orders AS SELECT id FROM raw.orders;")
    await h.run(*reversed([*CHAIN, "dup.sql"]))
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["extract", str(tmp_path), "--json"])
    capsysbinary.readouterr()  # the pipeline's log lines
    assert args.func(args) == 0
    printed = {}
    for line in capsysbinary.readouterr().out.splitlines():
        doc = orjson.loads(line)
        printed[Path(doc.pop("path")).name] = doc
    stored = {}
    for ref_id, update in h.writer.files.items():
        assert update.lineage is not None
        stored[ref_id.split(":", 1)[1]] = update.lineage.to_dict()
    assert set(printed) == set(stored)
    for name, doc in printed.items():
        doc.pop("sha256")
        assert doc == stored[name], name


async def test_cache_clear_forgets_the_catalog_too(tmp_path: Path) -> None:
    from lineaged.cache import clear_cache

    _h, cache = await chain_with_persisted_catalog(tmp_path)
    assert len(await cache.catalog.load()) == len(CHAIN)
    await cache.close()
    await clear_cache(tmp_path / "cache.sqlite")
    cache = await ParseCache.open(tmp_path / "cache.sqlite")
    assert await cache.catalog.load() == {}
    await cache.close()


async def test_cache_key_holds_the_schema_fingerprint(tmp_path: Path) -> None:
    """An upstream column added and then removed again: on the way back every
    downstream result comes from the parse cache (it was keyed by the columns it was
    computed with), and the first time none did (a stale result is never served)."""
    src = tmp_path / "src"
    src.mkdir()
    cache = await ParseCache.open(tmp_path / "cache.sqlite")
    h = Harness(src, cache=cache)
    for name, sql in CHAIN.items():
        h.write(name, sql)
    await h.run(*CHAIN)
    h.write("raw.sql", "CREATE TABLE raw.orders (id int, amount int, status text);")
    h.pool.extracted.clear()
    await h.run("raw.sql")
    assert sorted(h.pool.extracted) == ["mart.sql", "raw.sql", "report.sql", "stg.sql"]
    assert ("rep.daily.status", "mart.orders.status") in h.writer.edges("report.sql")
    h.write("raw.sql", CHAIN["raw.sql"])
    h.pool.extracted.clear()
    await h.run("raw.sql")
    assert h.pool.extracted == []
    assert ("rep.daily.status", "mart.orders.status") not in h.writer.edges("report.sql")
    assert ("rep.daily.amount", "mart.orders.amount") in h.writer.edges("report.sql")
    await cache.close()


async def test_after_a_crash_between_record_and_requeue_the_start_finds_stale_files(
    tmp_path: Path,
) -> None:
    from lineaged.catalog.stage import Recorded

    h, cache = await chain_with_persisted_catalog(tmp_path)
    # The upstream's new result is recorded (and persisted), then the daemon dies
    # before its dependants are re-queued.
    changed = extract("CREATE TABLE raw.orders (id int, amount int, status text);", "postgres")
    await h.stage.record([Recorded("r:raw.sql", "r", "new-sha", changed)])
    await cache.close()
    cache = await ParseCache.open(tmp_path / "cache.sqlite")
    stage = SchemaStage(cache.catalog)
    await stage.open()
    assert stage.stale_files() == ["r:stg.sql"]
    await cache.close()


def test_a_changed_schema_file_makes_its_readers_stale(tmp_path: Path) -> None:
    from lineaged.extract import schema_layer

    async def scenario() -> None:
        h = Harness(tmp_path)
        h.write("reader.sql", "INSERT INTO rep.t SELECT * FROM ext.src;")
        h.write("other.sql", "INSERT INTO rep.u SELECT a FROM ext.other;")
        await h.run("reader.sql", "other.sql")
        assert await h.stage.configure({}) == []
        stale = await h.stage.configure({"r": schema_layer({"ext.src": {"a": "int"}}, "postgres")})
        assert stale == ["r:reader.sql"]

    asyncio.run(scenario())


async def reopened(tmp_path: Path) -> tuple[SchemaStage, ParseCache]:
    cache = await ParseCache.open(tmp_path / "cache.sqlite")
    stage = SchemaStage(cache.catalog)
    await stage.open()
    return stage, cache


async def test_a_clean_stop_lets_the_next_start_answer_without_decoding_records(
    tmp_path: Path,
) -> None:
    """Every record current at the stop: the next start keeps only the note (file ->
    hash) and answers is_current exactly as the loaded catalog does; the records are
    decoded when a file has to be extracted (old: always, at open)."""
    h, cache = await chain_with_persisted_catalog(tmp_path)
    shas = {f: r.sha256 for f, r in h.stage.catalog.records.items()}
    assert await h.stage.save_state()
    await cache.close()

    stage, cache = await reopened(tmp_path)
    assert not stage.loaded and stage.catalog.records == {}
    assert await stage.configure({}) == [] and not stage.loaded
    assert stage.stale_files() == []
    asked = [(f, sha) for f, sha in shas.items()] + [(f, "other") for f in shas]
    asked.append(("r:unknown.sql", "x"))
    deferred = {q: stage.is_current(*q) for q in asked}
    full, full_cache = await reopened_loaded(tmp_path)
    assert deferred == {q: full.is_current(*q) for q in asked}
    assert sum(deferred.values()) == len(shas)
    await full_cache.close()

    # A warm restart of the pipeline extracts nothing and never decodes the records.
    again = Harness(h.root, stage)
    again.writer.files = h.writer.files
    await again.run(*CHAIN)
    assert again.pool.extracted == [] and not stage.loaded
    # An edit: the records are loaded before anything is extracted.
    again.write("raw.sql", "CREATE TABLE raw.orders (id int, amount int, status text);")
    await again.run("raw.sql")
    assert stage.loaded and "raw.sql" in again.pool.extracted
    assert ("stg.orders.status", "raw.orders.status") in again.writer.edges("stg.sql")
    await cache.close()


async def reopened_loaded(tmp_path: Path) -> tuple[SchemaStage, ParseCache]:
    stage, cache = await reopened(tmp_path)
    await stage.ensure_loaded()
    await stage.configure({})
    return stage, cache


async def test_any_record_written_after_the_note_removes_it(tmp_path: Path) -> None:
    from lineaged.catalog.stage import Recorded

    h, cache = await chain_with_persisted_catalog(tmp_path)
    assert await h.stage.save_state()
    # The upstream's new result is recorded, then the daemon dies before its
    # dependants are redone: the note must not survive (they are stale).
    changed = extract("CREATE TABLE raw.orders (id int, amount int, status text);", "postgres")
    await h.stage.record([Recorded("r:raw.sql", "r", "new-sha", changed)])
    await cache.close()
    stage, cache = await reopened(tmp_path)
    assert stage.loaded
    assert stage.stale_files() == ["r:stg.sql"]
    # ... nor is a note saved while a file waits for re-extraction.
    assert not await stage.save_state()
    await cache.close()
    stage, cache = await reopened(tmp_path)
    assert stage.loaded
    await cache.close()


async def test_a_schema_file_changed_while_down_is_not_hidden_by_the_note(
    tmp_path: Path,
) -> None:
    from lineaged.extract import schema_layer

    src = tmp_path / "src"
    src.mkdir()
    cache = await ParseCache.open(tmp_path / "cache.sqlite")
    h = Harness(src, SchemaStage(cache.catalog))
    h.write("reader.sql", "INSERT INTO rep.t SELECT * FROM ext.src;")
    h.write("other.sql", "INSERT INTO rep.u SELECT a FROM ext.other;")
    await h.run("reader.sql", "other.sql")
    assert await h.stage.save_state()
    await cache.close()

    stage, cache = await reopened(tmp_path)
    assert not stage.loaded
    stale = await stage.configure({"r": schema_layer({"ext.src": {"a": "int"}}, "postgres")})
    assert stale == ["r:reader.sql"] and stage.loaded
    assert not stage.is_current("r:reader.sql", h.writer.files["r:reader.sql"].sha256 or "")
    await cache.close()


async def test_a_record_lost_under_the_note_is_extracted_again(tmp_path: Path) -> None:
    h, cache = await chain_with_persisted_catalog(tmp_path)
    assert await h.stage.save_state()
    store = cache.catalog._store  # the raw file, as a damaged row would leave it
    # Bypass the trigger's effect: damage the row and put the note back as it was.
    (note,) = await store.conn.execute_fetchall("SELECT digest, shas FROM catalog_state")
    await store.conn.execute("UPDATE catalog_files SET record = x'00' WHERE file = 'r:mart.sql'")
    await store.conn.execute("INSERT INTO catalog_state (id, digest, shas) VALUES (1, ?, ?)", note)
    await cache.close()

    stage, cache = await reopened(tmp_path)
    assert not stage.loaded
    await stage.ensure_loaded()
    assert stage.take_unmatched() == ["r:mart.sql"]
    await cache.close()


Rebuilt = tuple[Harness, Harness, ParseCache]


@contextlib.asynccontextmanager
async def _rebuilt(tmp_path: Path, *, unread: bool) -> AsyncIterator[Rebuilt]:
    """CHAIN ingested with a persisted catalog and parse cache, then a second harness on
    the same stage and cache whose graph is empty (a rebuild after the graph was lost).
    `unread`: by the backfill and with the stat cache, the files' mtimes an hour old (a
    stat entry of a file hashed right after a write is not trusted). The cache is
    closed even when the test fails (its thread would keep pytest alive)."""
    src = tmp_path / "src"
    src.mkdir()
    cache = await ParseCache.open(tmp_path / "cache.sqlite")
    stat_cache = cache.stat_cache if unread else None
    try:
        stage = SchemaStage(cache.catalog)
        await stage.open()
        h = Harness(src, stage, cache, stat_cache=stat_cache)
        for name, sql in CHAIN.items():
            h.write(name, sql)
            if unread:
                old = time.time() - 3600
                os.utime(src / name, (old, old))
        await h.run(*CHAIN, priority=Priority.LOW if unread else Priority.HIGH)
        yield h, Harness(src, stage, cache, stat_cache=stat_cache), cache
    finally:
        await cache.close()


def _rebuilt_fixture(name: str, *, unread: bool) -> Any:
    @pytest.fixture(name=name)
    async def fixture(tmp_path: Path) -> AsyncIterator[Rebuilt]:
        async with _rebuilt(tmp_path, unread=unread) as harnesses:
            yield harnesses

    return fixture


rebuilt_fixture = _rebuilt_fixture("rebuilt", unread=False)
rebuilt_unread_fixture = _rebuilt_fixture("rebuilt_unread", unread=True)


def _spy(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, noted: Callable[[Any], Any]
) -> list[Any]:
    """What `module.name` was called with (its first argument, as `noted` says)."""
    calls: list[Any] = []
    real = getattr(module, name)

    def spy(first: Any, *args: Any) -> Any:
        calls.append(noted(first))
        return real(first, *args)

    monkeypatch.setattr(module, name, spy)
    return calls


def spy_scans(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The texts the stage scans for what they write and read."""
    from lineaged.catalog import stage as stage_module

    return _spy(monkeypatch, stage_module, "written_and_read", lambda text: text)


def spy_puts(monkeypatch: pytest.MonkeyPatch, cache: ParseCache) -> list[str]:
    """Files whose catalog record is written to the store."""
    put: list[str] = []
    real = cache.catalog.put_many

    async def put_many(records: Any) -> None:
        put.extend(f for f, _ in records)
        await real(records)

    monkeypatch.setattr(cache.catalog, "put_many", put_many)
    return put


async def test_a_rebuild_scans_no_text_and_rewrites_no_record(
    rebuilt: Rebuilt, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every record current: what each file writes and reads comes from its record, and
    results identical to the records are not recorded again; the graph gets exactly
    what it had, and the catalog answers exactly as before."""
    h, again, cache = rebuilt
    tables = h.stage.catalog.tables()
    records = dict(h.stage.catalog.records)
    scanned = spy_scans(monkeypatch)
    put = spy_puts(monkeypatch, cache)
    await again.run(*CHAIN)
    assert again.pool.extracted == [] and scanned == [] and put == []
    assert {f: u.lineage for f, u in again.writer.files.items()} == {
        f: u.lineage for f, u in h.writer.files.items()
    }
    assert again.stage.catalog.tables() == tables
    assert again.stage.catalog.records == records
    # The dependants rule is untouched: an upstream change re-extracts exactly its
    # readers, and their new records are written.
    again.write("raw.sql", "CREATE TABLE raw.orders (id int, amount int, status text);")
    await again.run("raw.sql")
    assert sorted(again.pool.extracted) == ["mart.sql", "raw.sql", "report.sql", "stg.sql"]
    assert sorted(put) == ["r:mart.sql", "r:raw.sql", "r:report.sql", "r:stg.sql"]
    assert ("rep.daily.status", "mart.orders.status") in again.writer.edges("report.sql")


async def test_a_rebuild_scans_the_files_whose_record_is_not_current(
    rebuilt: Rebuilt, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file changed on disk since its record (another hash) is scanned, and only it
    (a record made stale upstream: test_announce_takes_names_...)."""
    h, again, _cache = rebuilt
    h.write("other.sql", "INSERT INTO rep.misc SELECT y FROM elsewhere;")
    scanned = spy_scans(monkeypatch)
    await again.run(*CHAIN)
    assert [t.decode().splitlines()[0] for t in scanned] == ["-- other.sql"]
    assert again.pool.extracted == ["other.sql"]
    assert again.stage.stale_files() == []


async def test_announce_takes_names_from_a_record_only_while_it_is_current(
    rebuilt: Rebuilt,
) -> None:
    from lineaged.catalog.stage import Recorded

    h, _again, _cache = rebuilt
    stage = h.stage
    sha = {f: u.sha256 for f, u in h.writer.files.items()}
    decoy = b"CREATE TABLE zz.decoy AS SELECT 1 AS k FROM zz.bait;"

    async def names(file: str, sha256: str | None, text: bytes | None) -> tuple[Any, Any]:
        ticket = stage.enter()
        try:
            await stage.announce(ticket, [(file, sha256, text)])
            return ticket.writes, ticket.reads
        finally:
            await stage.release(ticket)

    # Current record: the record's answer, whatever the text says (none needed).
    assert await names("r:stg.sql", sha["r:stg.sql"], decoy) == ({b"orders"}, [{b"orders"}])
    assert await names("r:stg.sql", sha["r:stg.sql"], None) == ({b"orders"}, [{b"orders"}])
    # Another content: the text is scanned.
    assert await names("r:stg.sql", "other-sha", decoy) == ({b"decoy"}, [{b"bait"}])
    with pytest.raises(ValueError):
        await names("r:stg.sql", "other-sha", None)
    # Same content, but what it read changed upstream: the record is not current.
    changed = extract("CREATE TABLE raw.orders (id int, amount int, status text);", "postgres")
    assert await stage.record([Recorded("r:raw.sql", "r", "new-sha", changed)]) == ["r:stg.sql"]
    assert await names("r:stg.sql", sha["r:stg.sql"], decoy) == ({b"decoy"}, [{b"bait"}])


async def test_recording_the_held_record_again_writes_nothing(
    tmp_path: Path, rebuilt: Rebuilt, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same result again: no store write (the saved note survives it); a result
    that differs in anything (here only its fingerprint) is recorded and persisted."""
    import dataclasses

    from lineaged.catalog.stage import Recorded

    h, _again, cache = rebuilt
    stage = h.stage
    assert await stage.save_state()
    put = spy_puts(monkeypatch, cache)
    same = [Recorded(f, "r", u.sha256, u.lineage) for f, u in sorted(h.writer.files.items())]
    assert await stage.record(same) == [] and put == []
    assert not await stage.save_state()  # nothing changed: the saved note holds
    report = h.writer.files["r:report.sql"]
    assert report.lineage is not None
    odd = dataclasses.replace(report.lineage, schema_fingerprint="0" * 16)
    assert await stage.record([Recorded("r:report.sql", "r", report.sha256, odd)]) == [
        "r:report.sql"  # its fingerprint disagrees with the catalog: extracted again
    ]
    assert put == ["r:report.sql"]
    assert stage.catalog.records["r:report.sql"].fingerprint == "0" * 16
    await cache.close()
    stage, cache = await reopened(tmp_path)
    try:
        assert stage.loaded  # the write removed the note
    finally:
        await cache.close()


def spy_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the pipeline reads."""
    from lineaged import pipeline as pipeline_module

    return _spy(monkeypatch, pipeline_module, "read_file", lambda path: Path(path).name)


def lineages(h: Harness) -> dict[str, Any]:
    return {f: (u.sha256, u.lineage) for f, u in h.writer.files.items()}


async def test_a_backfill_rebuild_reads_no_file_the_stat_cache_vouches_for(
    rebuilt_unread: Rebuilt, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, again, _cache = rebuilt_unread
    opened = spy_reads(monkeypatch)
    await again.run(*CHAIN, priority=Priority.LOW)
    assert opened == [] and again.pool.extracted == []
    assert lineages(again) == lineages(h)
    assert again.pipeline.stats.cache_hits == len(CHAIN)


async def test_a_cache_miss_reads_the_file_it_left_unread(
    rebuilt_unread: Rebuilt, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, again, cache = rebuilt_unread

    async def nothing_cached(_keys: Any) -> dict[str, Any]:
        return {}

    monkeypatch.setattr(cache, "get_many", nothing_cached)
    opened = spy_reads(monkeypatch)
    await again.run(*CHAIN, priority=Priority.LOW)
    assert sorted(opened) == sorted(again.pool.extracted) == sorted(CHAIN)
    assert lineages(again) == lineages(h)


async def test_content_other_than_the_vouched_is_never_written_with_its_lineage(
    rebuilt_unread: Rebuilt, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stat entry whose hash is not the file's content (the file changed after the
    entry's stat, in a way its stat does not show): a file whose bytes are needed is
    found out and goes round again, read; the vouched hash is never written."""
    from lineaged.cache import StatEntry

    h, again, cache = rebuilt_unread
    st = (h.root / "stg.sql").stat()
    bogus = "0" * 64
    await cache.stat_cache.put_many("r", {"stg.sql": StatEntry.from_stat(st, bogus)})
    written: list[str | None] = []
    real_write = again.writer.write

    async def write(updates: Any, **kw: Any) -> None:
        written.extend(u.sha256 for u in updates)
        await real_write(updates, **kw)

    monkeypatch.setattr(again.writer, "write", write)
    opened = spy_reads(monkeypatch)
    await again.run(*CHAIN, priority=Priority.LOW)
    assert bogus not in written
    assert opened == ["stg.sql", "stg.sql"]  # found out, then read as any changed file
    assert lineages(again) == lineages(h)
    assert again.pool.extracted == []  # the real content's result was in the cache
    vouched = await cache.stat_cache.vouching("r", ["stg.sql"])
    assert vouched["stg.sql"][1] == h.writer.files["r:stg.sql"].sha256


async def test_a_live_edit_reads_its_file_whatever_the_stat_cache_says(
    rebuilt_unread: Rebuilt, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lineaged.cache import StatEntry

    h, again, cache = rebuilt_unread
    st = (h.root / "raw.sql").stat()
    await cache.stat_cache.put_many("r", {"raw.sql": StatEntry.from_stat(st, "0" * 64)})
    opened = spy_reads(monkeypatch)
    await again.run("raw.sql", "stg.sql")
    assert sorted(opened) == ["raw.sql", "stg.sql"]
    assert lineages(again) == {f: v for f, v in lineages(h).items() if f in again.writer.files}
