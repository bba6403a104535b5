"""ParseCache: keys, hits/misses, bounds, TTL, health on open, degraded mode, admin."""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

import lineaged.cache.store as store_module
from lineaged.cache import (
    CacheFileMissing,
    ParseCache,
    cache_key,
    cache_stats,
    clear_cache,
    encode,
    vacuum_cache,
    verify_cache,
)
from lineaged.cache.parse_cache import CHUNK
from lineaged.cache.schema import MIGRATIONS, SCHEMA_VERSION
from lineaged.model import ColumnEdge, FileLineage, StatementLineage

DAY = 86_400.0


def lineage(tag: str, columns: int = 8) -> FileLineage:
    target = f"analytics.marts.{tag}"
    edges = tuple(
        ColumnEdge(f"{target}.col_{i}", (f"raw.shop.orders.col_{i}",), "DIRECT/IDENTITY")
        for i in range(columns)
    )
    statement = StatementLineage(
        index=0,
        line=1,
        kind="INSERT",
        targets=(target,),
        sources=("raw.shop.orders",),
        columns=edges,
    )
    return FileLineage(dialect="duckdb", extractor_version="1", statements=(statement,))


def key(n: int | str) -> str:
    return cache_key(f"sha-{n}", "duckdb", "", "1")


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "cache.sqlite"


@pytest.fixture
def clock() -> Clock:
    return Clock()


_opened: list[ParseCache] = []


@pytest.fixture(autouse=True)
async def close_caches():
    # aiosqlite's thread is not a daemon thread: a cache left open by a failing test
    # would keep pytest from exiting.
    yield
    while _opened:
        await _opened.pop().close()


async def open_cache(path: Path, clock: Clock | None = None, **kw) -> ParseCache:
    kw.setdefault("busy_timeout_ms", 200)
    cache = await ParseCache.open(path, clock=clock or Clock(), **kw)
    _opened.append(cache)
    return cache


def events(logs: list[dict], level: str) -> list[str]:
    return [entry["event"] for entry in logs if entry["log_level"] == level]


# ---- keys -------------------------------------------------------------------------------


def test_cache_key_is_stable_and_fixed_width() -> None:
    # A silent format change would invalidate every user's cache: pin one value.
    assert cache_key("abc", "duckdb", "fp", "1.0") == (
        "e810dd54bea8401a651356644f1a0266dc26c306773c267595eb3806a7ef1a56"
    )


@pytest.mark.parametrize(
    "changed",
    [
        ("sha-B", "duckdb", "", "1"),  # content
        ("sha-A", "snowflake", "", "1"),  # dialect
        ("sha-A", "duckdb", "schema-v2", "1"),  # schema fingerprint
        ("sha-A", "duckdb", "", "2"),  # EXTRACTOR_VERSION
        ("sha-Aduckdb", "", "", "1"),  # parts shifted between fields must not collide
    ],
)
async def test_any_key_part_change_misses(path: Path, changed: tuple[str, ...]) -> None:
    async with await open_cache(path) as cache:
        original = cache_key("sha-A", "duckdb", "", "1")
        await cache.put_many([(original, lineage("a"))])
        assert cache_key(*changed) != original
        assert await cache.get_many([cache_key(*changed)]) == {}
        assert await cache.get_many([original]) == {original: lineage("a")}


# ---- hits, misses, stats ----------------------------------------------------------------


async def test_put_then_get_hits_and_counts(path: Path) -> None:
    async with await open_cache(path) as cache:
        await cache.put_many([(key(1), lineage("one")), (key(2), lineage("two"))])
        got = await cache.get_many([key(1), key(2), key(3), key(1)])
        assert got == {key(1): lineage("one"), key(2): lineage("two")}
        stats = cache.stats()
        assert (stats.hits, stats.misses) == (2, 1)  # duplicate keys count once
        assert stats.hit_rate == pytest.approx(2 / 3)
        assert stats.entries == 2
        expected = sum(len(key(n)) + len(encode(lineage(t))) for n, t in [(1, "one"), (2, "two")])
        assert stats.bytes == expected
        assert not stats.degraded


async def test_overwrite_keeps_totals_exact(path: Path) -> None:
    async with await open_cache(path) as cache:
        await cache.put_many([(key(1), lineage("a", columns=2))])
        await cache.put_many([(key(1), lineage("a", columns=40))])
        assert await cache.get_many([key(1)]) == {key(1): lineage("a", columns=40)}
        assert cache.stats().entries == 1
        assert cache.stats().bytes == len(key(1)) + len(encode(lineage("a", columns=40)))
    assert (await verify_cache(path)).ok


async def test_counters_survive_reopen_and_reach_admin_stats(path: Path) -> None:
    async with await open_cache(path) as cache:
        await cache.put_many([(key(1), lineage("a"))])
        await cache.get_many([key(1), key(2)])
    async with await open_cache(path) as cache:
        assert cache.stats().entries == 1
        assert await cache.get_many([key(1)]) == {key(1): lineage("a")}
    stats = await cache_stats(path)
    assert (stats.hits, stats.misses, stats.entries) == (2, 1, 1)


async def test_undecodable_value_is_a_miss_not_an_error(path: Path) -> None:
    async with await open_cache(path) as cache:
        await cache.put_many([(key(1), lineage("a"))])
        raw = sqlite3.connect(path)
        raw.execute("UPDATE parse_cache SET value = x'7a00ff'")
        raw.commit()
        raw.close()
        assert await cache.get_many([key(1)]) == {}
        assert cache.stats().misses == 1


async def test_get_many_of_1000_keys_uses_one_statement_per_chunk(path: Path) -> None:
    async with await open_cache(path) as cache:
        statements: list[str] = []
        items = [(key(i), lineage(str(i), columns=1)) for i in range(1000)]
        await cache._store.conn.set_trace_callback(statements.append)
        await cache.put_many(items)
        assert sum(s.startswith("BEGIN") for s in statements) == 1  # one transaction
        statements.clear()
        keys = [key(i) for i in range(1000)] + [key("absent")]
        got = await cache.get_many(keys)
        selects = [s for s in statements if s.startswith("SELECT key, value")]
        assert len(got) == 1000 and got[key(999)] == lineage("999", columns=1)
        assert len(selects) == -(-len(keys) // CHUNK) == 3
        await cache._store.conn.set_trace_callback(None)


async def test_decoding_a_slice_sets_off_no_collection_and_the_loop_sees_it_on(
    path: Path,
) -> None:
    """A rebuild decodes every hit: with the cyclic collector on, its passes over the
    whole heap were most of that time. It is paused for each slice of decodes only:
    other tasks, which run at the slice's yields, see it on; so does the caller."""
    from lineaged.cache.parse_cache import DECODE_SLICE

    async with await open_cache(path) as cache:
        n = 3 * DECODE_SLICE
        await cache.put_many([(key(i), lineage(str(i), columns=12)) for i in range(n)])
        collections: list[int] = []
        seen_by_others: list[bool] = []

        def count(phase: str, info: dict) -> None:
            if phase == "start":
                collections.append(info["generation"])

        async def other_task() -> None:
            for _ in range(n):
                seen_by_others.append(gc.isenabled())
                await asyncio.sleep(0)

        gc.collect()
        gc.callbacks.append(count)
        try:
            watcher = asyncio.create_task(other_task())
            got = await cache.get_many([key(i) for i in range(n)])
            watcher.cancel()
        finally:
            gc.callbacks.remove(count)
        assert len(got) == n and got[key(7)] == lineage("7", columns=12)
        # ~40 objects per hit: with the collector on all along, 192 decodes set it off
        # again and again; paused, only once after each slice (its young objects).
        assert len(collections) <= n // DECODE_SLICE
        assert seen_by_others and all(seen_by_others)
        assert gc.isenabled()


# ---- bounds -----------------------------------------------------------------------------


async def test_lru_eviction_by_count_keeps_recently_used(path: Path, clock: Clock) -> None:
    cache = await open_cache(path, clock, max_entries=10, touch_resolution_s=0)
    for i in range(10):
        clock.advance(1)
        await cache.put_many([(key(i), lineage(str(i)))])
    clock.advance(1)
    assert key(0) in await cache.get_many([key(0)])  # 0 becomes most recently used
    clock.advance(1)
    await cache.put_many([(key(10), lineage("10"))])  # 11 > 10: evict to 90 % = 9
    present = await cache.get_many([key(i) for i in range(11)])
    assert sorted(present) == sorted([key(0)] + [key(i) for i in range(3, 11)])
    assert cache.stats().entries == 9
    assert cache.stats().evictions == 2
    await cache.close()
    assert (await verify_cache(path)).ok


async def test_eviction_is_amortised_not_per_put(path: Path, clock: Clock) -> None:
    cache = await open_cache(path, clock, max_entries=100)
    for i in range(101):
        clock.advance(1)
        await cache.put_many([(key(i), lineage(str(i), columns=1))])
    assert cache.stats().entries == 90  # one eviction round took it to the low-water mark
    for i in range(101, 111):  # the next 10 puts fit without evicting
        clock.advance(1)
        await cache.put_many([(key(i), lineage(str(i), columns=1))])
    assert (cache.stats().entries, cache.stats().evictions) == (100, 11)
    await cache.close()


async def test_byte_bound_eviction(path: Path, clock: Clock) -> None:
    one = len(key(0)) + len(encode(lineage("0", columns=30)))
    cache = await open_cache(path, clock, max_bytes=10 * one + one // 2)
    for i in range(25):
        clock.advance(1)
        await cache.put_many([(key(i), lineage(str(i), columns=30))])
        assert cache.stats().bytes <= 10 * one + one // 2
    present = await cache.get_many([key(i) for i in range(25)])
    assert key(24) in present and key(0) not in present
    kept = sorted(i for i in range(25) if key(i) in present)
    assert kept == list(range(kept[0], 25))  # the oldest went first
    assert cache.stats().evictions == 25 - len(kept)
    await cache.close()


async def test_reopen_with_smaller_bound_evicts_at_open(path: Path, clock: Clock) -> None:
    async with await open_cache(path, clock) as cache:
        for i in range(20):
            clock.advance(1)
            await cache.put_many([(key(i), lineage(str(i), columns=1))])
    async with await open_cache(path, clock, max_entries=10) as cache:
        assert cache.stats().entries == 9


async def test_ttl_expires_unused_entries(path: Path, clock: Clock) -> None:
    cache = await open_cache(path, clock, ttl_days=30)
    await cache.put_many([(key("old"), lineage("old")), (key("used"), lineage("used"))])
    clock.advance(20 * DAY)
    await cache.put_many([(key("new"), lineage("new"))])
    assert key("used") in await cache.get_many([key("used")])  # bumps last_used
    clock.advance(11 * DAY)  # old: 31 days unused; used: 11; new: 11
    got = await cache.get_many([key("old"), key("used"), key("new")])
    assert sorted(got) == sorted([key("used"), key("new")])  # expired misses before sweep
    await cache.expire()
    stats = cache.stats()
    assert (stats.entries, stats.expired, stats.evictions) == (2, 1, 0)
    await cache.close()


async def test_ttl_sweep_runs_from_put_many_when_due(path: Path, clock: Clock) -> None:
    cache = await open_cache(path, clock, ttl_days=1)
    await cache.put_many([(key(1), lineage("1"))])
    clock.advance(2 * DAY)
    await cache.put_many([(key(2), lineage("2"))])
    assert (cache.stats().entries, cache.stats().expired) == (1, 1)
    await cache.close()


# ---- health on open ---------------------------------------------------------------------


async def make_real_cache(path: Path, n: int = 2000) -> None:
    async with await open_cache(path) as cache:
        await cache.put_many([(key(i), lineage(str(i), columns=20)) for i in range(n)])


async def garbage(path: Path) -> bytes:
    data = bytes(range(256)) * 64
    path.write_bytes(data)
    return data


async def truncated(path: Path) -> bytes:
    await make_real_cache(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return data[: len(data) // 2]


async def foreign(path: Path) -> bytes:
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    other.execute("INSERT INTO users (name) VALUES ('ada')")
    other.commit()
    other.close()
    return path.read_bytes()


async def newer_version(path: Path) -> bytes:
    await make_real_cache(path, n=1)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("damage", "kind"),
    [
        (garbage, "corrupt"),
        (truncated, "corrupt"),
        (foreign, "foreign"),
        (newer_version, "newer"),
    ],
)
async def test_unusable_file_is_moved_aside_and_rebuilt(path: Path, damage, kind: str) -> None:
    path.parent.mkdir(parents=True)
    original = await damage(path)
    with capture_logs() as logs:
        cache = await open_cache(path)
    assert events(logs, "warning") == ["cache_moved_aside"]
    assert events(logs, "error") == []
    assert logs[0]["reason"] == kind
    assert not cache.degraded
    moved = [p for p in path.parent.iterdir() if p.name.startswith(f"cache.sqlite.{kind}-")]
    assert len(moved) == 1 and moved[0].read_bytes() == original  # kept for inspection
    assert cache.stats().entries == 0
    await cache.put_many([(key(1), lineage("1"))])
    assert await cache.get_many([key(1)]) == {key(1): lineage("1")}
    await cache.close()
    assert (await verify_cache(path)).ok


async def test_directory_in_place_of_file_is_moved_aside(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "someone's file").write_text("keep me")
    with capture_logs() as logs:
        cache = await open_cache(path)
    assert events(logs, "warning") == ["cache_moved_aside"]
    assert not cache.degraded and path.is_file()
    (moved,) = [p for p in path.parent.iterdir() if p.is_dir()]
    assert (moved / "someone's file").read_text() == "keep me"
    await cache.put_many([(key(1), lineage("1"))])
    assert key(1) in await cache.get_many([key(1)])
    await cache.close()


def test_move_aside_takes_wal_and_shm_along(tmp_path: Path) -> None:
    # A stale WAL next to a rebuilt file could be replayed into it.
    main = tmp_path / "cache.sqlite"
    for suffix, content in (("", "db"), ("-wal", "wal"), ("-shm", "shm")):
        main.with_name(main.name + suffix).write_text(content)
    first = store_module.move_aside(main, "corrupt", now=0.0)
    main.write_text("db2")
    second = store_module.move_aside(main, "corrupt", now=0.0)  # same second: no clobbering
    assert first != second and first.read_text() == "db" and second.read_text() == "db2"
    assert first.with_name(first.name + "-wal").read_text() == "wal"
    assert first.with_name(first.name + "-shm").read_text() == "shm"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [first.name, first.name + "-wal", first.name + "-shm", second.name]
    )


async def test_healthy_file_is_not_moved_and_logs_nothing(path: Path) -> None:
    await make_real_cache(path, n=3)
    with capture_logs() as logs:
        async with await open_cache(path) as cache:
            assert cache.stats().entries == 3
    assert [e for e in logs if e["log_level"] in ("warning", "error")] == []
    # The clean close's record: the next open may skip the page check.
    assert sorted(p.name for p in path.parent.iterdir()) == ["cache.sqlite", "cache.sqlite-closed"]


async def test_migration_mechanism_upgrades_in_place(path: Path, monkeypatch) -> None:
    await make_real_cache(path, n=3)
    v2 = ("ALTER TABLE parse_cache ADD COLUMN note TEXT",)
    monkeypatch.setattr(store_module, "MIGRATIONS", {**MIGRATIONS, SCHEMA_VERSION + 1: v2})
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    async with await open_cache(path) as cache:
        assert not cache.degraded and cache.stats().entries == 3
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT version FROM schema_version").fetchone() == (SCHEMA_VERSION + 1,)
    assert "note" in [row[1] for row in raw.execute("PRAGMA table_info(parse_cache)")]
    raw.close()


def test_migrations_are_contiguous_from_one() -> None:
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


# ---- degraded mode ----------------------------------------------------------------------


def hold_exclusive_lock(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


async def test_locked_file_degrades_without_moving_or_raising(path: Path) -> None:
    await make_real_cache(path, n=3)
    other = hold_exclusive_lock(path)
    try:
        with capture_logs() as logs:
            cache = await open_cache(path)
            assert cache.degraded and "locked" in (cache.degraded_reason or "")
            assert await cache.get_many([key(1)]) == {}
            await cache.put_many([(key(9), lineage("9"))])
            assert await cache.stat_cache.get_root("r") == {}
            await cache.close()
            await cache.close()
    finally:
        other.close()
    assert events(logs, "error") == ["cache_degraded"]
    assert events(logs, "warning") == []
    assert cache.stats().degraded and cache.stats().misses == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["cache.sqlite"]
    async with await open_cache(path) as cache:  # lock gone: data intact, nothing put
        assert not cache.degraded
        assert sorted(await cache.get_many([key(1), key(9)])) == [key(1)]


@pytest.mark.parametrize("where", ["under-a-file", "under-proc"])
async def test_uncreatable_path_degrades(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    target = {
        "under-a-file": blocker / "cache.sqlite",
        "under-proc": Path("/proc/lineaged-test-nonexistent/cache.sqlite"),
    }[where]
    with capture_logs() as logs:
        async with await open_cache(target) as cache:
            assert cache.degraded
            await cache.put_many([(key(1), lineage("1"))])
            assert await cache.get_many([key(1)]) == {}
    assert events(logs, "error") == ["cache_degraded"]


_OPEN_AND_SAY_IF_DEGRADED = """
import asyncio, sys
from lineaged.cache import ParseCache
async def main():
    async with await ParseCache.open(sys.argv[1], busy_timeout_ms=200) as cache:
        print(cache.degraded)
asyncio.run(main())
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
async def test_read_only_file_degrades(path: Path) -> None:
    import subprocess

    from unprivileged import drop_file_mode_override

    await make_real_cache(path, n=1)
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        # In a child where file modes apply, root included (as in CI).
        proc = subprocess.run(
            [sys.executable, "-c", _OPEN_AND_SAY_IF_DEGRADED, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=drop_file_mode_override(),
        )
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "True", proc.stdout[-2000:]


async def test_lock_during_run_drops_puts_and_recovers(path: Path) -> None:
    cache = await open_cache(path)
    await cache.put_many([(key(1), lineage("1"))])
    other = hold_exclusive_lock(path)
    try:
        with capture_logs() as logs:
            await cache.put_many([(key(2), lineage("2"))])
            await cache.put_many([(key(3), lineage("3"))])
            assert key(1) in await cache.get_many([key(1)])  # WAL readers still read
    finally:
        other.close()
    assert events(logs, "warning") == ["cache_operation_failed"]  # rate-limited: one line
    assert not cache.degraded
    await cache.put_many([(key(4), lineage("4"))])
    assert sorted(await cache.get_many([key(i) for i in range(1, 5)])) == sorted([key(1), key(4)])
    await cache.close()


# ---- concurrent daemon + CLI ------------------------------------------------------------

CLI = """
import argparse, sys
from lineaged.cli.cache import add_parser
parser = argparse.ArgumentParser(prog="lineaged")
add_parser(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


async def run_cli(*argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLI,
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_reads_while_daemon_writes(path: Path) -> None:
    cache = await open_cache(path, busy_timeout_ms=5000, max_entries=3000)
    done = asyncio.Event()

    async def daemon() -> int:
        n = 0
        while not done.is_set():
            await cache.put_many([(key(n + i), lineage(str(n + i))) for i in range(50)])
            await cache.get_many([key(i) for i in range(n, n + 50)])
            n += 50
        return n

    writer = asyncio.create_task(daemon())
    results = []
    for action in ("stats", "verify", "stats", "verify", "vacuum", "stats"):
        results.append((action, *await run_cli("cache", action, "--path", str(path))))
    done.set()
    written = await writer
    await cache.close()
    for action, rc, out, err in results:
        assert rc == 0, (action, out, err)
    assert written > 0 and not cache.degraded
    final = await verify_cache(path)
    assert final.ok, final.problems
    assert final.entries_checked == (await cache_stats(path)).entries > 0


# ---- admin ------------------------------------------------------------------------------


async def test_verify_detects_tampered_totals_and_bad_values(path: Path) -> None:
    await make_real_cache(path, n=5)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE cache_meta SET entries = entries + 1")
    raw.execute("UPDATE parse_cache SET value = x'6a7b' WHERE rowid = 1")
    raw.commit()
    raw.close()
    result = await verify_cache(path)
    assert not result.ok
    assert any("running totals" in p for p in result.problems)
    assert any("undecodable" in p for p in result.problems)


async def test_admin_clear_and_vacuum(path: Path) -> None:
    await make_real_cache(path, n=500)
    cleared = await clear_cache(path)
    assert cleared.entries == 500
    assert (await cache_stats(path)).entries == 0
    vacuumed = await vacuum_cache(path)
    assert vacuumed.bytes_after < vacuumed.bytes_before
    assert (await verify_cache(path)).ok


async def test_admin_never_creates_a_file(tmp_path: Path) -> None:
    with pytest.raises(CacheFileMissing):
        await cache_stats(tmp_path / "absent.sqlite")
    with pytest.raises(CacheFileMissing):
        await verify_cache(tmp_path / "absent.sqlite")
    assert list(tmp_path.iterdir()) == []


async def test_cli_exit_codes_and_json(path: Path, tmp_path: Path) -> None:
    rc, _, err = await run_cli("cache", "stats", "--path", str(tmp_path / "absent.sqlite"))
    assert rc == 1 and "no cache file" in err
    await make_real_cache(path, n=2)
    rc, out, _ = await run_cli("cache", "stats", "--json", "--path", str(path))
    assert rc == 0 and __import__("json").loads(out)["entries"] == 2
    rc, out, _ = await run_cli("cache", "verify", "--path", str(path))
    assert rc == 0 and "ok" in out
    raw = sqlite3.connect(path)
    raw.execute("UPDATE cache_meta SET bytes = 1")
    raw.commit()
    raw.close()
    rc, _, err = await run_cli("cache", "verify", "--path", str(path))
    assert rc == 1 and "running totals" in err


async def test_corruption_found_at_runtime_degrades_once(path: Path, monkeypatch) -> None:
    # Real mid-run corruption hides behind SQLite's page cache, so inject the error the
    # driver raises for it (SQLITE_CORRUPT) at the connection.
    await make_real_cache(path, n=3)
    cache = await open_cache(path)
    malformed = sqlite3.DatabaseError("database disk image is malformed")
    malformed.sqlite_errorcode = 11

    async def broken(*_args, **_kw):
        raise malformed

    monkeypatch.setattr(cache._store.conn, "execute_fetchall", broken)
    with capture_logs() as logs:
        for _ in range(3):
            assert await cache.get_many([key(1)]) == {}
            await cache.put_many([(key("new"), lineage("new"))])
            assert await cache.stat_cache.get_root("r") == {}
    assert events(logs, "error") == ["cache_degraded"]
    assert events(logs, "warning") == []
    assert cache.degraded and "malformed" in (cache.degraded_reason or "")
    assert cache.stats().misses == 3
    await cache.close()


async def test_the_cache_file_and_its_directory_are_private(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        cache = await ParseCache.open(tmp_path / "state" / "cache.sqlite")
        await cache.put_many([("k", FileLineage("postgres", "v", ()))])
        await cache.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    for f in (tmp_path / "state").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name


# ---- the page check at open (skipped for a file as its last clean close left it) ---------


@pytest.fixture
def page_checks(monkeypatch) -> list[Path]:
    """Each `PRAGMA quick_check` run at open (the real one still runs)."""
    checks: list[Path] = []
    real = store_module.quick_check

    async def counted(conn) -> None:
        checks.append(Path())
        await real(conn)

    monkeypatch.setattr(store_module, "quick_check", counted)
    return checks


async def test_a_clean_close_lets_the_next_open_skip_the_page_check(
    path: Path, page_checks: list[Path]
) -> None:
    await make_real_cache(path, n=3)
    assert len(page_checks) == 1  # a new file: checked
    for _ in range(2):
        async with await open_cache(path) as cache:
            assert cache.stats().entries == 3
    assert len(page_checks) == 1


async def _damage_pages_keeping_size_and_mtime(path: Path) -> None:
    before = path.stat()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) >= 4 * page
    # The last quarter: parse results' pages, which opening the file does not read.
    start = (len(data) // page * 3 // 4) * page
    data[start:] = bytes([0x5A]) * (len(data) - start)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns


async def test_a_file_written_after_its_clean_close_is_checked_and_moved_aside(
    path: Path, page_checks: list[Path]
) -> None:
    await make_real_cache(path, n=200)
    assert (path.parent / "cache.sqlite-closed").exists()
    # Size and mtime as they were: only the ctime tells that someone wrote.
    await _damage_pages_keeping_size_and_mtime(path)
    with capture_logs() as logs:
        cache = await open_cache(path)
    assert events(logs, "warning") == ["cache_moved_aside"] and logs[0]["reason"] == "corrupt"
    assert cache.stats().entries == 0 and len(page_checks) >= 2
    await cache.close()


async def test_a_close_that_did_not_happen_or_saw_corruption_leaves_the_check_on(
    path: Path, page_checks: list[Path], monkeypatch
) -> None:
    await make_real_cache(path, n=3)
    # A crash: the process ends with the file open (no clean close is noted).
    cache = await open_cache(path)
    conn = cache._store._conn
    cache._store._conn = None
    await conn.close()
    _opened.remove(cache)
    checked = len(page_checks)
    cache = await open_cache(path)
    assert len(page_checks) == checked + 1
    # Corruption seen while running: that close notes nothing either.
    malformed = sqlite3.DatabaseError("database disk image is malformed")
    malformed.sqlite_errorcode = 11

    async def broken(*_args, **_kw):
        raise malformed

    monkeypatch.setattr(cache._store.conn, "execute_fetchall", broken)
    assert await cache.get_many([key(1)]) == {}
    await cache.close()
    assert not (path.parent / "cache.sqlite-closed").exists()
    await (await open_cache(path)).close()
    assert len(page_checks) == checked + 2
