"""The cache file: one aiosqlite connection, its health on open, schema upgrades, and
the degraded mode that lets the daemon run on without a cache.

The cache is only a cache (DESIGN.md, "The graph is the ledger"), so every problem with
the file ends in one of two cheap outcomes, never in an exception into the daemon:
- the file is unusable (garbage, truncated, foreign, from a newer lineaged, a directory):
  move it aside for inspection, start an empty one, log one WARNING;
- the file cannot be written (locked by another process, read-only, path un-creatable):
  run degraded (every get misses, every put is dropped), log one ERROR.

Opening runs `PRAGMA quick_check` (reads every page: 0.2-0.6 s for a 119 MB cache, on
every start) unless the file is exactly as this code's last clean close left it: that
close writes `<file>-closed`, the file's device, inode, size, mtime and ctime (ctime
cannot be set back by anyone), and the next open takes it (one use) and trusts the
file only if all five match and no WAL waits to be replayed. A crash, a close after
corruption was seen, or any write by anyone since (the CLI's `cache clear`/`vacuum`
included) means the check runs as before.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
import structlog

from lineaged import private
from lineaged.cache.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

log = structlog.get_logger(__name__)

# Primary SQLite result codes (extended codes carry these in the low byte).
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_UNUSABLE_CODES = frozenset({_SQLITE_CORRUPT, _SQLITE_NOTADB})
# Runtime errors that are not corruption (a CLI `vacuum` holding the lock, a full disk)
# are logged at most this often per operation, so a stuck lock cannot flood the journal.
_WARN_EVERY_S = 60.0
_SIDE_FILES = ("-wal", "-shm", "-journal")
_CLOSED = "-closed"  # the file's identity at its last clean close (see the docstring)


class UnusableCacheFile(Exception):
    """The file is not a cache this version can use; `kind` names why."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def sqlite_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_unusable(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and sqlite_code(exc) in _UNUSABLE_CODES


async def connect(
    database: str, *, busy_timeout_ms: int, uri: bool = False
) -> aiosqlite.Connection:
    """Autocommit connection (transactions are explicit) with the pragmas we rely on."""
    conn = await aiosqlite.connect(
        database, uri=uri, isolation_level=None, timeout=busy_timeout_ms / 1000
    )
    try:
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        await conn.execute("PRAGMA temp_store = MEMORY")
    except BaseException:
        await conn.close()
        raise
    return conn


async def read_version(conn: aiosqlite.Connection, *, check: bool = True) -> int:
    """Schema version of an open, healthy file; 0 for an empty one. Raises
    UnusableCacheFile for anything that is not ours. `check=False` skips the page
    check (a file as its last clean close left it)."""
    if check:
        await quick_check(conn)
    return await identify(conn)


async def quick_check(conn: aiosqlite.Connection) -> None:
    rows = await conn.execute_fetchall("PRAGMA quick_check")
    results = [r[0] for r in rows]
    if results != ["ok"]:
        raise UnusableCacheFile("corrupt", "; ".join(map(str, results[:3])))


def file_identity(path: Path) -> list[int] | None:
    """What a write to `path` by anyone changes (ctime cannot be set back)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def take_clean_close(path: Path) -> bool:
    """True if `path` is exactly as a clean close left it (its `-closed` record matches
    and no WAL is waiting). The record is removed either way: it vouches once."""
    record = path.with_name(path.name + _CLOSED)
    try:
        saved = json.loads(record.read_text())
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        saved = None
    try:
        record.unlink()
    except OSError:
        return False  # a record that cannot be taken could vouch twice
    for side in ("-wal", "-journal"):  # changes waiting to be replayed into the file
        if (file_identity(path.with_name(path.name + side)) or [0, 0, 0])[2] > 0:
            return False
    return saved is not None and saved == file_identity(path)


def note_clean_close(path: Path) -> None:
    identity = file_identity(path)
    if identity is None:
        return
    record = path.with_name(path.name + _CLOSED)
    tmp = record.with_name(record.name + ".tmp")
    try:
        fd = private.open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW)
        with os.fdopen(fd, "w") as f:
            json.dump(identity, f)
        os.replace(tmp, record)
    except OSError as exc:
        log.warning("cache_close_not_noted", path=str(record), error=str(exc))


async def identify(conn: aiosqlite.Connection) -> int:
    """Like read_version without the page check (admin commands run their own)."""
    (app_id,) = (await conn.execute_fetchall("PRAGMA application_id"))[0]
    tables = await conn.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    if app_id != APPLICATION_ID:
        if tables:
            names = ", ".join(sorted(r[0] for r in tables)[:5])
            raise UnusableCacheFile("foreign", f"application_id={app_id}, tables: {names}")
        return 0
    try:
        rows = await conn.execute_fetchall("SELECT version FROM schema_version")
    except sqlite3.OperationalError as exc:
        raise UnusableCacheFile("corrupt", f"schema_version unreadable: {exc}") from exc
    if len(rows) != 1:
        raise UnusableCacheFile("corrupt", f"schema_version has {len(rows)} rows")
    return int(rows[0][0])


async def migrate(conn: aiosqlite.Connection, current: int) -> None:
    """Bring the file from `current` to SCHEMA_VERSION, one transaction per step so a
    crash mid-upgrade leaves a consistent (older) version behind."""
    for version in range(current + 1, SCHEMA_VERSION + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version]:
                await conn.execute(statement)
            await conn.execute("UPDATE schema_version SET version = ?", (version,))
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        if current:
            log.info("cache_schema_upgraded", from_version=version - 1, to_version=version)


def move_aside(path: Path, kind: str, *, now: float) -> Path:
    """Rename `path` (and its WAL/SHM companions, which must never be replayed into a
    new file) to `<name>.<kind>-<UTC timestamp>`; returns the new main path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}.{kind}-{stamp}")
    n = 1
    while target.exists() or target.is_symlink():
        n += 1
        target = path.with_name(f"{path.name}.{kind}-{stamp}-{n}")
    path.rename(target)
    for suffix in _SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


class CacheStore:
    """Owns the connection. Use `await CacheStore.open(path)`; check `.degraded`."""

    def __init__(
        self, path: Path, conn: aiosqlite.Connection | None, degraded_reason: str | None
    ) -> None:
        self.path = path
        self._conn = conn
        self._degraded_reason = degraded_reason
        self._write_lock = asyncio.Lock()
        self._last_warned: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._closing: asyncio.Task[None] | None = None
        self.failures = 0  # runtime failures so far (a dropped write among them)

    # ---- opening -------------------------------------------------------------------

    @classmethod
    async def open(
        cls, path: Path | str, *, busy_timeout_ms: int = 5000, clock=time.time
    ) -> CacheStore:
        path = Path(path)
        try:
            private.make_dir(path.parent)
        except OSError as exc:
            return cls._without_cache(path, f"cannot create {path.parent}: {exc}")
        moved = False
        while True:
            try:
                conn = await cls._open_checked(path, busy_timeout_ms, clock)
                return cls(path, conn, None)
            except UnusableCacheFile as exc:
                if moved:  # a brand-new file failing the same way is not a file problem
                    return cls._without_cache(path, f"rebuilt file still unusable: {exc}")
                try:
                    target = move_aside(path, exc.kind, now=time.time())
                except OSError as move_exc:
                    return cls._without_cache(path, f"{exc}; cannot move aside: {move_exc}")
                moved = True
                log.warning(
                    "cache_moved_aside",
                    path=str(path),
                    moved_to=str(target),
                    reason=exc.kind,
                    detail=exc.detail,
                )
            except (sqlite3.Error, OSError) as exc:
                return cls._without_cache(path, f"{type(exc).__name__}: {exc}")

    @staticmethod
    async def _open_checked(path: Path, busy_timeout_ms: int, clock) -> aiosqlite.Connection:
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise UnusableCacheFile("not-a-file", "a non-regular file is in the cache's place")
        # Before anything opens it: the check below is skipped only for a file as the
        # last clean close left it.
        unchanged = take_clean_close(path)
        # Created here, private, before SQLite creates it with the umask's mode; its
        # -wal and -shm files take the database file's mode.
        os.close(private.open_file(path, os.O_RDWR | os.O_NOFOLLOW))
        conn = await connect(str(path), busy_timeout_ms=busy_timeout_ms)
        try:
            version = await read_version(conn, check=not unchanged)
            if version > SCHEMA_VERSION:
                raise UnusableCacheFile(
                    "newer", f"schema version {version} > supported {SCHEMA_VERSION}"
                )
            await conn.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: a power cut may lose the last transactions, never corrupt the
            # file; losing cache rows costs a re-parse, not correctness.
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA cache_size = -16384")  # 16 MiB page cache
            await conn.execute("PRAGMA journal_size_limit = 67108864")  # WAL kept <= 64 MiB
            if version < SCHEMA_VERSION:
                await migrate(conn, version)
            # Prove we can write now, so a read-only or locked file degrades at start-up
            # (one clear line) instead of failing on every put for the whole run.
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("UPDATE cache_meta SET opened_at = ? WHERE id = 1", (clock(),))
            await conn.execute("COMMIT")
        except sqlite3.Error as exc:
            await conn.close()
            if is_unusable(exc):
                raise UnusableCacheFile("corrupt", str(exc)) from exc
            raise
        except BaseException:
            await conn.close()
            raise
        return conn

    @classmethod
    def _without_cache(cls, path: Path, reason: str) -> CacheStore:
        log.error("cache_degraded", path=str(path), reason=reason, effect="running without cache")
        return cls(path, None, reason)

    # ---- state ---------------------------------------------------------------------

    @property
    def degraded(self) -> bool:
        return self._degraded_reason is not None

    @property
    def usable(self) -> bool:
        """False when degraded or closed: callers then miss and drop, silently."""
        return self._conn is not None

    @property
    def degraded_reason(self) -> str | None:
        return self._degraded_reason

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("cache store is degraded or closed")
        return self._conn

    # ---- use -----------------------------------------------------------------------

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One IMMEDIATE transaction; writers in this process take turns (a single
        connection cannot interleave two transactions)."""
        async with self._write_lock:
            conn = self.conn
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                await conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")
                raise

    async def write_rows(self, operation: str, sql: str, rows: Sequence[tuple]) -> None:
        """`executemany` in one transaction; never raises (a failure is `failed()`),
        does nothing when there are no rows or the store is not usable."""
        if not rows or not self.usable:
            return
        try:
            async with self.write() as conn:
                await conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            self.failed(operation, exc)

    def failed(self, operation: str, exc: sqlite3.Error) -> None:
        """Record a runtime failure of `operation`. Corruption ends cache use for this run
        (the next start moves the file aside); anything else is logged, rate-limited."""
        self.failures += 1
        if is_unusable(exc):
            if self._conn is not None:
                conn, self._conn = self._conn, None
                self._degraded_reason = f"{operation}: {exc}"
                log.error(
                    "cache_degraded",
                    path=str(self.path),
                    reason=self._degraded_reason,
                    effect="running without cache; file will be moved aside on next start",
                )
                # Close on the side (the caller must not wait on a broken file); close()
                # awaits it so no aiosqlite thread outlives the cache.
                self._closing = asyncio.get_running_loop().create_task(_close_quietly(conn))
            return
        now = time.monotonic()
        if now - self._last_warned.get(operation, -_WARN_EVERY_S) < _WARN_EVERY_S:
            self._suppressed[operation] = self._suppressed.get(operation, 0) + 1
            return
        self._last_warned[operation] = now
        log.warning(
            "cache_operation_failed",
            path=str(self.path),
            operation=operation,
            error=f"{type(exc).__name__}: {exc}",
            suppressed_since_last=self._suppressed.pop(operation, 0),
        )

    async def close(self) -> None:
        """Close; a close that found the file healthy notes its identity, so the next
        open can skip the page check (see the module docstring)."""
        conn, self._conn = self._conn, None
        if conn is not None and await _close_quietly(conn) and not self.degraded:
            note_clean_close(self.path)
        if self._closing is not None:
            await self._closing


async def _close_quietly(conn: aiosqlite.Connection) -> bool:
    try:
        await conn.close()
    except (sqlite3.Error, ValueError) as exc:
        log.warning("cache_close_failed", error=f"{type(exc).__name__}: {exc}")
        return False
    return True
