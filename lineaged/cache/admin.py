"""Operations behind `lineaged cache stats|clear|vacuum|verify`.

They may run while the daemon has the file open: WAL lets readers (stats, verify) work
beside the daemon's writer, and writers (clear, vacuum) wait up to the busy timeout for
the daemon's current transaction. Unlike `ParseCache.open`, nothing here repairs or
moves a file: an admin command reports what it finds.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiosqlite

from lineaged.cache.codec import CodecError, decode
from lineaged.cache.schema import SCHEMA_VERSION
from lineaged.cache.store import UnusableCacheFile, connect, identify

ADMIN_BUSY_TIMEOUT_MS = 10_000


class CacheFileMissing(FileNotFoundError):
    pass


class NotACacheFile(Exception):
    pass


@dataclass(frozen=True, slots=True)
class FileStats:
    path: str
    file_bytes: int
    wal_bytes: int
    schema_version: int
    entries: int
    bytes: int
    evictions: int
    expired: int
    hits: int
    misses: int
    hit_rate: float
    stat_entries: int
    stat_roots: dict[str, int]
    oldest_used: float | None
    newest_used: float | None


@dataclass(frozen=True, slots=True)
class ClearResult:
    entries: int
    stat_entries: int


@dataclass(frozen=True, slots=True)
class VacuumResult:
    bytes_before: int
    bytes_after: int


@dataclass(slots=True)
class VerifyResult:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    entries_checked: int = 0

    def problem(self, message: str) -> None:
        self.ok = False
        self.problems.append(message)


def _disk_bytes(path: Path) -> tuple[int, int]:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size, wal.stat().st_size if wal.exists() else 0


async def _open_existing(path: Path) -> aiosqlite.Connection:
    """Open without creating: `mode=rw` makes a missing file an error, not a new cache."""
    if not path.exists():
        raise CacheFileMissing(f"no cache file at {path}")
    if not path.is_file():
        raise NotACacheFile(f"{path} is not a regular file")
    uri = f"file:{quote(str(path.resolve()))}?mode=rw"
    return await connect(uri, uri=True, busy_timeout_ms=ADMIN_BUSY_TIMEOUT_MS)


async def _checked_version(conn: aiosqlite.Connection, path: Path) -> int:
    try:
        version = await identify(conn)
    except UnusableCacheFile as exc:
        raise NotACacheFile(f"{path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise NotACacheFile(f"{path}: {exc}") from exc
    if version == 0:
        raise NotACacheFile(f"{path}: empty SQLite file, not initialised as a cache")
    if version > SCHEMA_VERSION:
        raise NotACacheFile(f"{path}: schema version {version} is newer than {SCHEMA_VERSION}")
    return version


async def _one(conn: aiosqlite.Connection, sql: str, params: tuple = ()) -> tuple:
    return tuple((await conn.execute_fetchall(sql, params))[0])


async def cache_stats(path: Path | str) -> FileStats:
    path = Path(path)
    conn = await _open_existing(path)
    try:
        await conn.execute("BEGIN")  # one snapshot for every figure below
        version = await _checked_version(conn, path)
        entries, size, evictions, expired, hits, misses = await _one(
            conn, "SELECT entries, bytes, evictions, expired, hits, misses FROM cache_meta"
        )
        oldest, newest = await _one(conn, "SELECT min(last_used), max(last_used) FROM parse_cache")
        roots = dict(
            await conn.execute_fetchall(
                "SELECT root, count(*) FROM stat_cache GROUP BY root ORDER BY root"
            )
        )
        await conn.execute("COMMIT")
    finally:
        await conn.close()
    file_bytes, wal_bytes = _disk_bytes(path)
    looked_up = hits + misses
    return FileStats(
        path=str(path),
        file_bytes=file_bytes,
        wal_bytes=wal_bytes,
        schema_version=version,
        entries=entries,
        bytes=size,
        evictions=evictions,
        expired=expired,
        hits=hits,
        misses=misses,
        hit_rate=hits / looked_up if looked_up else 0.0,
        stat_entries=sum(roots.values()),
        stat_roots=roots,
        oldest_used=oldest,
        newest_used=newest,
    )


async def clear_cache(path: Path | str) -> ClearResult:
    """Empty both caches (and the schema catalog kept with them) and reset the
    counters. Costs the next start time, never correctness (the graph is the ledger)."""
    path = Path(path)
    conn = await _open_existing(path)
    try:
        await _checked_version(conn, path)
        await conn.execute("BEGIN IMMEDIATE")
        try:
            entries = (await conn.execute("DELETE FROM parse_cache")).rowcount
            stat_entries = (await conn.execute("DELETE FROM stat_cache")).rowcount
            # Without its records every file is extracted again, which also rebuilds
            # the catalog: what "clear" promises.
            await conn.execute("DELETE FROM catalog_files")
            await conn.execute(
                "UPDATE cache_meta SET evictions = 0, expired = 0, hits = 0, misses = 0"
            )
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
    finally:
        await conn.close()
    return ClearResult(entries=entries, stat_entries=stat_entries)


async def vacuum_cache(path: Path | str) -> VacuumResult:
    path = Path(path)
    before = sum(_disk_bytes(path)) if path.exists() else 0
    conn = await _open_existing(path)
    try:
        await _checked_version(conn, path)
        await conn.execute("VACUUM")
        # Fold the WAL back in and truncate it, so the size printed is the real one.
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await conn.close()
    return VacuumResult(bytes_before=before, bytes_after=sum(_disk_bytes(path)))


async def verify_cache(path: Path | str) -> VerifyResult:
    """Full integrity_check, identity and version, running totals against the rows, and
    a decode of every stored value. Raises CacheFileMissing; reports everything else."""
    path = Path(path)
    result = VerifyResult()
    try:
        conn = await _open_existing(path)
    except NotACacheFile as exc:
        result.problem(str(exc))
        return result
    try:
        await conn.execute("BEGIN")
        await _verify_in_snapshot(conn, path, result)
        await conn.execute("COMMIT")
    except (sqlite3.Error, NotACacheFile) as exc:
        result.problem(f"{type(exc).__name__}: {exc}")
    finally:
        await conn.close()
    return result


async def _verify_in_snapshot(conn: aiosqlite.Connection, path: Path, result: VerifyResult) -> None:
    rows = await conn.execute_fetchall("PRAGMA integrity_check")
    messages = [r[0] for r in rows]
    if messages != ["ok"]:
        for message in messages[:20]:
            result.problem(f"integrity_check: {message}")
        return
    version = await _checked_version(conn, path)
    if version < SCHEMA_VERSION:
        result.notes.append(f"schema version {version}; upgraded to {SCHEMA_VERSION} on open")
    entries, size = await _one(conn, "SELECT entries, bytes FROM cache_meta")
    actual = await _one(conn, "SELECT count(*), coalesce(sum(size), 0) FROM parse_cache")
    if (entries, size) != actual:
        result.problem(
            f"running totals {entries} entries/{size} B != rows {actual[0]}/{actual[1]} B"
        )
    await _decode_all(conn, result)


async def _decode_all(conn: aiosqlite.Connection, result: VerifyResult) -> None:
    async with conn.execute("SELECT key, size, value FROM parse_cache") as cursor:
        while batch := await cursor.fetchmany(1000):
            for key, size, value in batch:
                result.entries_checked += 1
                if size != len(key) + len(value):
                    result.problem(f"entry {key}: size {size} != stored {len(key) + len(value)}")
                try:
                    decode(value)
                except CodecError as exc:
                    result.problem(f"entry {key}: undecodable ({exc})")
