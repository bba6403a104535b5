"""StatCache: the warm-restart shortcut must never hide a change."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from lineaged.cache import RACY_WINDOW_NS, ParseCache, StatEntry

LATER = 10 * RACY_WINDOW_NS  # a checked_ns safely after any mtime in these tests


@pytest.fixture
async def cache(tmp_path: Path):
    cache = await ParseCache.open(tmp_path / "cache.sqlite", busy_timeout_ms=200)
    yield cache
    await cache.close()


async def test_put_get_per_root(cache: ParseCache) -> None:
    a = StatEntry(10, 1_000, 7, "aa", 1_000 + LATER)
    b = StatEntry(20, 2_000, 8, "bb", 2_000 + LATER)
    await cache.stat_cache.put_many("warehouse", {"a.sql": a, "x/b.sql": b})
    await cache.stat_cache.put_many("other", [("a.sql", b)])
    assert await cache.stat_cache.get_root("warehouse") == {"a.sql": a, "x/b.sql": b}
    assert await cache.stat_cache.get_root("other") == {"a.sql": b}
    assert await cache.stat_cache.get_root("missing") == {}


async def test_put_overwrites_and_delete_removes(cache: ParseCache) -> None:
    old = StatEntry(10, 1_000, 7, "old", 1_000 + LATER)
    new = StatEntry(11, 3_000, 7, "new", 3_000 + LATER)
    await cache.stat_cache.put_many("r", {"a.sql": old, "b.sql": old, "c.sql": old})
    await cache.stat_cache.put_many("r", {"a.sql": new})
    await cache.stat_cache.delete_many("r", ["b.sql", "never-there.sql"])
    assert await cache.stat_cache.get_root("r") == {"a.sql": new, "c.sql": old}
    await cache.stat_cache.put_many("s", {"a.sql": old})
    await cache.stat_cache.delete_root("r")
    assert await cache.stat_cache.get_root("r") == {}
    assert await cache.stat_cache.get_root("s") == {"a.sql": old}


async def test_entries_survive_reopen(tmp_path: Path) -> None:
    entry = StatEntry(1, 2, 3, "abc", 2 + LATER)
    async with await ParseCache.open(tmp_path / "c.sqlite") as cache:
        await cache.stat_cache.put_many("r", {"p.sql": entry})
    async with await ParseCache.open(tmp_path / "c.sqlite") as cache:
        assert await cache.stat_cache.get_root("r") == {"p.sql": entry}


async def test_get_root_of_20000_entries_is_one_query(cache: ParseCache) -> None:
    entries = {
        f"d{i % 50}/f{i}.sql": StatEntry(i, i, i, f"{i:064x}", i + LATER) for i in range(20_000)
    }
    await cache.stat_cache.put_many("big", entries)
    statements: list[str] = []
    await cache._store.conn.set_trace_callback(statements.append)
    got = await cache.stat_cache.get_root("big")
    await cache._store.conn.set_trace_callback(None)
    assert got == entries
    assert len(statements) == 1


async def test_degraded_stat_cache_is_empty_and_ignores_writes(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    async with await ParseCache.open(path) as cache:
        await cache.stat_cache.put_many("r", {"a.sql": StatEntry(1, 2, 3, "x", 2 + LATER)})
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        async with await ParseCache.open(path, busy_timeout_ms=100) as cache:
            assert cache.degraded
            assert await cache.stat_cache.get_root("r") == {}
            assert await cache.stat_cache.trusted("r") == []
            await cache.stat_cache.put_many("r", {"b.sql": StatEntry(1, 2, 3, "y", 2 + LATER)})
            await cache.stat_cache.delete_many("r", ["a.sql"])
    finally:
        other.close()
    async with await ParseCache.open(path) as cache:
        assert list(await cache.stat_cache.get_root("r")) == ["a.sql"]


# ---- trusted: what a warm restart compares (tests/test_reconcile.py: the comparison) --


async def test_trusted_leaves_out_racily_clean_entries(cache: ParseCache) -> None:
    settled = StatEntry(10, 1_000, 7, "aa", 1_000 + RACY_WINDOW_NS)
    racy = StatEntry(20, 2_000, 8, "bb", 2_000 + RACY_WINDOW_NS - 1)
    await cache.stat_cache.put_many("r", {"a.sql": settled, "b.sql": racy})
    await cache.stat_cache.put_many("s", {"c.sql": settled})
    assert await cache.stat_cache.trusted("r") == [("a.sql", 10, 1_000, 7, "aa")]
    assert [racy.racy, settled.racy] == [True, False]


async def test_trusted_of_20000_entries_is_one_query(cache: ParseCache) -> None:
    entries = {f"f{i}.sql": StatEntry(i, i, i, f"{i:064x}", i + LATER) for i in range(20_000)}
    await cache.stat_cache.put_many("big", entries)
    statements: list[str] = []
    await cache._store.conn.set_trace_callback(statements.append)
    rows = await cache.stat_cache.trusted("big")
    await cache._store.conn.set_trace_callback(None)
    assert len(rows) == 20_000 and len(statements) == 1
    assert {p: (s, m, i, h) for p, s, m, i, h in rows} == {
        p: (e.size, e.mtime_ns, e.inode, e.sha256) for p, e in entries.items()
    }


def test_from_stat_defaults_checked_ns_to_now(tmp_path: Path) -> None:
    f = tmp_path / "a.sql"
    f.write_text("select 1")
    # Just written: hashing it now must yield a racy (untrusted) entry.
    assert StatEntry.from_stat(os.stat(f), "sha").racy


async def test_vouching_answers_the_asked_paths_of_one_root_and_trusts_no_racy_entry(
    cache: ParseCache,
) -> None:
    """What a backfill batch may leave unread: its own paths (more than one query's
    worth), of its root, never a racily clean entry (`trusted`'s rule)."""
    entries = {f"f{i}.sql": StatEntry(i, i, i, f"{i:064x}", i + LATER) for i in range(1200)}
    entries["racy.sql"] = StatEntry(5, 1_000, 9, "r" * 64, 1_000 + RACY_WINDOW_NS - 1)
    await cache.stat_cache.put_many("r", entries)
    await cache.stat_cache.put_many("other", {"f1.sql": StatEntry(1, 1, 1, "o" * 64, LATER)})
    asked = [f"f{i}.sql" for i in range(0, 1200, 2)] + ["racy.sql", "missing.sql"]
    got = await cache.stat_cache.vouching("r", asked)
    assert got == {f"f{i}.sql": ((i, i, i), f"{i:064x}") for i in range(0, 1200, 2)}
    assert await cache.stat_cache.vouching("other", ["f1.sql"]) == {"f1.sql": ((1, 1, 1), "o" * 64)}
    assert await cache.stat_cache.vouching("r", []) == {}
