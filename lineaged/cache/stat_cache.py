"""Stat cache: (root, path) -> (size, mtime_ns, inode, sha256), like git's index.

A warm restart stats every file (~470k/s) and re-reads and re-hashes only those whose
stat differs from the entry recorded when the file was last hashed.

Two rules make that safe:
- stat the file *before* reading it, and record that stat with the hash of what was read.
  A write landing between stat and read then leaves a stale stat next to the new hash,
  so the next comparison fails and the file is hashed again; the reverse order could
  pair a new stat with old content and hide the change forever.
- "racily clean" entries (git's term) are not trusted: if the file's mtime was within
  RACY_WINDOW_NS of the moment it was hashed, a second write in the same timestamp tick
  (coarse kernel clock, 2 s on FAT, clock skew on NFS) could keep size, mtime and inode
  identical. Such an entry always compares as changed; the re-hash records a fresh,
  trusted entry.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lineaged.cache.store import CacheStore

RACY_WINDOW_NS = 2_000_000_000
# Paths per `vouching` query: well under SQLite's bound on a statement's parameters.
_IN_CHUNK = 500
# What an entry is compared on (`stat_key`): (size, mtime_ns, inode).
StatKey = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class StatEntry:
    size: int
    mtime_ns: int
    inode: int
    sha256: str
    # Wall-clock time (ns) of the stat that goes with `sha256`; see "racily clean".
    checked_ns: int

    @classmethod
    def from_stat(
        cls, st: os.stat_result, sha256: str, *, checked_ns: int | None = None
    ) -> StatEntry:
        """`st` must come from before the content that produced `sha256` was read."""
        return cls(
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            inode=st.st_ino,
            sha256=sha256,
            checked_ns=time.time_ns() if checked_ns is None else checked_ns,
        )

    @property
    def racy(self) -> bool:
        return self.checked_ns - self.mtime_ns < RACY_WINDOW_NS


def stat_key(st: os.stat_result) -> StatKey:
    """What a stat entry is compared on: (size, mtime_ns, inode). A file that differs in
    any of them is read and hashed again (with `racy` entries never trusted)."""
    return st.st_size, st.st_mtime_ns, st.st_ino


_UPSERT = (
    "INSERT INTO stat_cache (root, path, size, mtime_ns, inode, sha256, checked_ns) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (root, path) DO UPDATE SET "
    "size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode, "
    "sha256 = excluded.sha256, checked_ns = excluded.checked_ns"
)


class StatCache:
    """Shares the parse cache's store (same file, same connection). When the store is
    degraded every lookup is empty (so everything is re-hashed) and writes are dropped."""

    def __init__(self, store: CacheStore) -> None:
        self._store = store

    async def get_root(self, root: str) -> dict[str, StatEntry]:
        """Every entry under `root` in one query, for the start-up reconcile walk."""
        if not self._store.usable:
            return {}
        try:
            rows = await self._store.conn.execute_fetchall(
                "SELECT path, size, mtime_ns, inode, sha256, checked_ns "
                "FROM stat_cache WHERE root = ?",
                (root,),
            )
        except sqlite3.Error as exc:
            self._store.failed("stat_get", exc)
            return {}
        return {path: StatEntry(*rest) for path, *rest in rows}

    async def trusted(self, root: str) -> list[tuple[str, int, int, int, str]]:
        """(path, size, mtime_ns, inode, sha256) of every entry under `root` that is not
        racily clean: what a warm restart may trust. One query, plain tuples (a restart
        reads one per file of the root; no per-entry objects)."""
        if not self._store.usable:
            return []
        try:
            return await self._store.conn.execute_fetchall(
                "SELECT path, size, mtime_ns, inode, sha256 FROM stat_cache "
                "WHERE root = ? AND checked_ns - mtime_ns >= ?",
                (root, RACY_WINDOW_NS),
            )
        except sqlite3.Error as exc:
            self._store.failed("stat_get", exc)
            return []

    async def vouching(self, root: str, paths: Sequence[str]) -> dict[str, tuple[StatKey, str]]:
        """path -> ((size, mtime_ns, inode), sha256) of those of `paths` whose entry is not
        racily clean (as `trusted`): a file whose stat is still that key has that content,
        the rule a warm restart reads 0 files by. For a batch of the backfill."""
        if not self._store.usable or not paths:
            return {}
        out: dict[str, tuple[StatKey, str]] = {}
        try:
            for i in range(0, len(paths), _IN_CHUNK):
                chunk = paths[i : i + _IN_CHUNK]
                rows = await self._store.conn.execute_fetchall(
                    "SELECT path, size, mtime_ns, inode, sha256 FROM stat_cache "
                    f"WHERE root = ? AND path IN ({','.join('?' * len(chunk))}) "
                    "AND checked_ns - mtime_ns >= ?",
                    (root, *chunk, RACY_WINDOW_NS),
                )
                for path, size, mtime_ns, inode, sha256 in rows:
                    out[path] = ((size, mtime_ns, inode), sha256)
        except sqlite3.Error as exc:
            self._store.failed("stat_get", exc)
            return {}
        return out

    async def put_many(
        self, root: str, entries: Mapping[str, StatEntry] | Iterable[tuple[str, StatEntry]]
    ) -> None:
        pairs = entries.items() if isinstance(entries, Mapping) else entries
        rows = [
            (root, path, e.size, e.mtime_ns, e.inode, e.sha256, e.checked_ns) for path, e in pairs
        ]
        await self._write("stat_put", _UPSERT, rows)

    async def delete_many(self, root: str, paths: Iterable[str]) -> None:
        rows = [(root, path) for path in paths]
        await self._write("stat_delete", "DELETE FROM stat_cache WHERE root = ? AND path = ?", rows)

    async def delete_root(self, root: str) -> None:
        """Forget a root that is no longer configured."""
        await self._write("stat_delete", "DELETE FROM stat_cache WHERE root = ?", [(root,)])

    async def _write(self, operation: str, sql: str, rows: Sequence[tuple]) -> None:
        await self._store.write_rows(operation, sql, rows)
