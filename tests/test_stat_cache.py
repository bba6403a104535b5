"""StatCache and `unchanged`: the warm-restart shortcut must never hide a change."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from lineaged.cache import RACY_WINDOW_NS, ParseCache, StatEntry, unchanged

LATER = 10 * RACY_WINDOW_NS  # a checked_ns safely after any mtime in these tests


@pytest.fixture
async def cache(tmp_path: Path):
    cache = await ParseCache.open(tmp_path / "cache.sqlite", busy_timeout_ms=200)
    yield cache
    await cache.close()


def entry_for(path: Path, sha: str = "sha") -> StatEntry:
    st = os.stat(path)
    return StatEntry.from_stat(st, sha, checked_ns=st.st_mtime_ns + LATER)


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
            await cache.stat_cache.put_many("r", {"b.sql": StatEntry(1, 2, 3, "y", 2 + LATER)})
            await cache.stat_cache.delete_many("r", ["a.sql"])
    finally:
        other.close()
    async with await ParseCache.open(path) as cache:
        assert list(await cache.stat_cache.get_root("r")) == ["a.sql"]


# ---- unchanged --------------------------------------------------------------------------


def test_unchanged_for_an_untouched_file(tmp_path: Path) -> None:
    f = tmp_path / "a.sql"
    f.write_text("select 1")
    assert unchanged(entry_for(f), os.stat(f))


def test_missing_entry_is_changed(tmp_path: Path) -> None:
    f = tmp_path / "a.sql"
    f.write_text("select 1")
    assert not unchanged(None, os.stat(f))


def test_size_change_is_seen(tmp_path: Path) -> None:
    f = tmp_path / "a.sql"
    f.write_text("select 1")
    entry = entry_for(f)
    mtime = os.stat(f).st_mtime_ns
    f.write_text("select 12")
    os.utime(f, ns=(mtime, mtime))  # same mtime: only the size tells
    assert not unchanged(entry, os.stat(f))


def test_mtime_change_is_seen(tmp_path: Path) -> None:
    f = tmp_path / "a.sql"
    f.write_text("select 1")
    entry = entry_for(f)
    f.write_text("select 2")  # same size
    st = os.stat(f)
    os.utime(f, ns=(st.st_atime_ns, entry.mtime_ns + 1))
    assert not unchanged(entry, os.stat(f))


def test_inode_change_is_seen(tmp_path: Path) -> None:
    f = tmp_path / "a.sql"
    f.write_text("select 1")
    entry = entry_for(f)
    replacement = tmp_path / "tmp.sql"
    replacement.write_text("select 2")  # same size; an editor's atomic save
    os.utime(replacement, ns=(entry.mtime_ns, entry.mtime_ns))
    keep_inode_alive = tmp_path / "old.sql"
    os.link(f, keep_inode_alive)  # so the new file cannot reuse the old inode number
    os.replace(replacement, f)
    st = os.stat(f)
    assert (st.st_size, st.st_mtime_ns) == (entry.size, entry.mtime_ns)
    assert not unchanged(entry, st)


def test_racily_clean_entry_is_not_trusted(tmp_path: Path) -> None:
    f = tmp_path / "a.sql"
    f.write_text("select 1")
    st = os.stat(f)
    racy = StatEntry.from_stat(st, "sha", checked_ns=st.st_mtime_ns + RACY_WINDOW_NS - 1)
    settled = StatEntry.from_stat(st, "sha", checked_ns=st.st_mtime_ns + RACY_WINDOW_NS)
    assert racy.racy and not unchanged(racy, st)
    assert not settled.racy and unchanged(settled, st)


def test_from_stat_defaults_checked_ns_to_now(tmp_path: Path) -> None:
    f = tmp_path / "a.sql"
    f.write_text("select 1")
    # Just written: hashing it now must yield a racy (untrusted) entry.
    assert StatEntry.from_stat(os.stat(f), "sha").racy
