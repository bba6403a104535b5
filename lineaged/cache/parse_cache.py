"""Parse cache: cache_key -> FileLineage, batched, bounded, and never fatal.

Hot path costs (aiosqlite is a thread hop per call, DESIGN.md "Performance budget"):
`get_many` is one `IN (...)` statement per 500 keys; `put_many` is one transaction that
also carries the deferred last-used bumps, the TTL sweep when due, and eviction when over
a bound. Eviction removes the oldest `last_used` rows via their index down to
`low_water` x bound, so its cost is paid once per ~10 % of the bound, not per put.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import aiosqlite
import structlog

from lineaged.cache.catalog_store import CatalogStore
from lineaged.cache.codec import CodecError, decode, encode
from lineaged.cache.stat_cache import StatCache
from lineaged.cache.store import CacheStore
from lineaged.gcpause import gc_paused
from lineaged.model import FileLineage

log = structlog.get_logger(__name__)

MiB = 1024 * 1024
# Well under SQLite's variable limit, and the measured sweet spot for IN (...) batches.
CHUNK = 500
# Rows deleted per eviction statement: bounded so one put never stalls on a huge delete.
EVICT_CHUNK = 2000
# Decoding a hit costs ~60 us (zlib 10, orjson 14, FileLineage.from_dict 31 for a
# 2-statement, 24-column file): a 500-key chunk of hits would hold the event loop for
# ~30-50 ms, too long beside a realtime edit. Yield every this many decodes (~4 ms).
DECODE_SLICE = 64
# Pending last-used bumps are written with the next put_many or once this many pile up.
TOUCH_FLUSH_AT = 5000
_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class CacheStats:
    """This process's hits/misses since open; entries/bytes/evictions are the file's
    running totals as of this process's last write."""

    hits: int
    misses: int
    hit_rate: float
    entries: int
    bytes: int
    evictions: int
    expired: int
    degraded: bool
    degraded_reason: str | None = None


@dataclass(slots=True)
class _Totals:
    entries: int = 0
    bytes: int = 0
    evictions: int = 0
    expired: int = 0


@lru_cache(maxsize=64)
def _select_sql(n: int) -> str:
    marks = ",".join("?" * n)
    return f"SELECT key, value, last_used FROM parse_cache WHERE key IN ({marks})"


@lru_cache(maxsize=64)
def _touch_sql(n: int) -> str:
    marks = ",".join("?" * n)
    return f"UPDATE parse_cache SET last_used = ? WHERE key IN ({marks}) AND last_used < ?"


_UPSERT = (
    "INSERT INTO parse_cache (key, last_used, size, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET "
    "last_used = excluded.last_used, size = excluded.size, value = excluded.value"
)
_EVICT_OLDEST = (
    "DELETE FROM parse_cache WHERE rowid IN "
    "(SELECT rowid FROM parse_cache ORDER BY last_used LIMIT ?)"
)
_TOTALS = "SELECT entries, bytes, evictions, expired FROM cache_meta WHERE id = 1"


def _chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_bounds(
    max_entries: int, max_bytes: int, ttl_days: float, low_water: float = 0.9
) -> None:
    if max_entries < 1 or max_bytes < 1 or ttl_days <= 0 or not 0 < low_water <= 1:
        raise ValueError("cache bounds must be positive and 0 < low_water <= 1")


class ParseCache:
    """Open with `await ParseCache.open(path)`; see the module docstring for costs.

    `clock` is injectable so TTL and LRU order can be tested without sleeping.
    `touch_resolution_s`: a hit re-stamps last_used only if the stored stamp is older than
    this, so a file saved every second does not rewrite its row every second.
    """

    def __init__(
        self,
        store: CacheStore,
        *,
        max_entries: int = 200_000,
        max_bytes: int = 512 * MiB,
        ttl_days: float = 30.0,
        clock: Callable[[], float] = time.time,
        touch_resolution_s: float = 60.0,
        low_water: float = 0.9,
    ) -> None:
        _check_bounds(max_entries, max_bytes, ttl_days, low_water)
        self._store = store
        self._clock = clock
        self._touch_resolution_s = touch_resolution_s
        self._low_water = low_water
        self.configure(max_entries=max_entries, max_bytes=max_bytes, ttl_days=ttl_days)
        self._last_sweep = -math.inf
        self._touches: dict[str, float] = {}
        self._hits = self._misses = 0
        self._unsaved_hits = self._unsaved_misses = 0
        self._totals = _Totals()
        self.stat_cache = StatCache(store)
        self.catalog = CatalogStore(store)

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        max_entries: int = 200_000,
        max_bytes: int = 512 * MiB,
        ttl_days: float = 30.0,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = 5000,
        touch_resolution_s: float = 60.0,
    ) -> ParseCache:
        _check_bounds(max_entries, max_bytes, ttl_days)  # before a connection exists to leak
        store = await CacheStore.open(path, busy_timeout_ms=busy_timeout_ms, clock=clock)
        cache = cls(
            store,
            max_entries=max_entries,
            max_bytes=max_bytes,
            ttl_days=ttl_days,
            clock=clock,
            touch_resolution_s=touch_resolution_s,
        )
        # Bounds or TTL may be tighter than last run's: apply them before first use.
        await cache._write_pending(force_sweep=True)
        return cache

    def configure(self, *, max_entries: int, max_bytes: int, ttl_days: float) -> None:
        """New bounds (start-up and SIGHUP); they take effect at the next write."""
        _check_bounds(max_entries, max_bytes, ttl_days, self._low_water)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_s = ttl_days * _SECONDS_PER_DAY
        # Sweeping for expired rows is an index range delete; every hour (or TTL/10) is
        # plenty for a bound measured in days.
        self._sweep_every_s = min(3600.0, self.ttl_s / 10)

    # ---- state ---------------------------------------------------------------------

    @property
    def degraded(self) -> bool:
        return self._store.degraded

    @property
    def degraded_reason(self) -> str | None:
        return self._store.degraded_reason

    @property
    def path(self) -> Path:
        return self._store.path

    def stats(self) -> CacheStats:
        looked_up = self._hits + self._misses
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            hit_rate=self._hits / looked_up if looked_up else 0.0,
            entries=self._totals.entries,
            bytes=self._totals.bytes,
            evictions=self._totals.evictions,
            expired=self._totals.expired,
            degraded=self._store.degraded,
            degraded_reason=self._store.degraded_reason,
        )

    # ---- reads ---------------------------------------------------------------------

    async def get_many(self, keys: Sequence[str]) -> dict[str, FileLineage]:
        unique = list(dict.fromkeys(keys))
        found: dict[str, FileLineage] = {}
        if unique and self._store.usable:
            try:
                await self._select_into(found, unique)
            except sqlite3.Error as exc:
                self._store.failed("get", exc)
        self._count(hits=len(found), misses=len(unique) - len(found))
        if len(self._touches) >= TOUCH_FLUSH_AT:
            await self.flush()
        return found

    async def _select_into(self, found: dict[str, FileLineage], keys: list[str]) -> None:
        now = self._clock()
        cutoff = now - self.ttl_s  # expired rows miss even before the sweep removes them
        stale = now - self._touch_resolution_s
        conn = self._store.conn
        for chunk in _chunks(keys):
            rows = await conn.execute_fetchall(_select_sql(len(chunk)), chunk)
            for start in range(0, len(rows), DECODE_SLICE):
                if start:
                    await asyncio.sleep(0)
                # Decoding allocates ~30 objects per hit, which set off the cyclic
                # collector again and again over the daemon's whole heap: in a rebuild
                # that was most of the decode time (gcpause.py). The results are
                # acyclic, so the collector has nothing to find in them; paused per
                # slice only, never across the yield.
                with gc_paused():
                    for key, value, stored_last_used in rows[start : start + DECODE_SLICE]:
                        self._decode_into(found, key, value, stored_last_used, cutoff, stale, now)

    def _decode_into(
        self,
        found: dict[str, FileLineage],
        key: str,
        value: bytes,
        stored_last_used: float,
        cutoff: float,
        stale: float,
        now: float,
    ) -> None:
        # A bump not yet written still counts as use.
        last_used = max(stored_last_used, self._touches.get(key, stored_last_used))
        if last_used < cutoff:
            return
        try:
            found[key] = decode(value)
        except CodecError as exc:
            log.debug("cache_value_undecodable", key=key, error=str(exc))
            return  # a miss; the next put for this key overwrites it
        if last_used < stale:
            self._touches[key] = now

    def _count(self, *, hits: int, misses: int) -> None:
        self._hits += hits
        self._misses += misses
        self._unsaved_hits += hits
        self._unsaved_misses += misses

    # ---- writes --------------------------------------------------------------------

    async def put_many(self, items: Sequence[tuple[str, FileLineage]]) -> None:
        if not items or not self._store.usable:
            return
        now = self._clock()
        # Encode outside the transaction; the last value for a repeated key wins.
        encoded = {key: encode(lineage) for key, lineage in items}
        rows = [(key, now, len(key) + len(blob), blob) for key, blob in encoded.items()]
        for key in encoded:
            self._touches.pop(key, None)
        await self._write_pending(rows)

    async def flush(self) -> None:
        """Write pending last-used bumps and hit/miss counters (also done by put_many
        and close)."""
        await self._write_pending()

    async def expire(self) -> None:
        """Drop entries unused for ttl_days now (put_many also does it, at most hourly)."""
        await self._write_pending(force_sweep=True)

    async def _write_pending(
        self, rows: list[tuple] | None = None, *, force_sweep: bool = False
    ) -> None:
        if not self._store.usable:
            return
        now = self._clock()
        touches, self._touches = self._touches, {}
        hits, misses = self._unsaved_hits, self._unsaved_misses
        self._unsaved_hits = self._unsaved_misses = 0
        sweep = force_sweep or now - self._last_sweep >= self._sweep_every_s
        try:
            async with self._store.write() as conn:
                await self._apply_touches(conn, touches, now)
                if hits or misses:
                    await conn.execute(
                        "UPDATE cache_meta SET hits = hits + ?, misses = misses + ? WHERE id = 1",
                        (hits, misses),
                    )
                if rows:
                    await conn.executemany(_UPSERT, rows)
                if sweep:
                    await self._sweep_expired(conn, now)
                totals = await self._read_totals(conn)
                if totals.entries > self.max_entries or totals.bytes > self.max_bytes:
                    await self._evict(conn, totals)
                    totals = await self._read_totals(conn)
                self._totals = totals
        except sqlite3.Error as exc:
            self._store.failed("put", exc)
            return
        if sweep:
            self._last_sweep = now

    async def _apply_touches(
        self, conn: aiosqlite.Connection, touches: dict[str, float], now: float
    ) -> None:
        if not touches:
            return
        keys = list(touches)
        for chunk in _chunks(keys):
            await conn.execute(_touch_sql(len(chunk)), (now, *chunk, now))

    async def _sweep_expired(self, conn: aiosqlite.Connection, now: float) -> None:
        cursor = await conn.execute(
            "DELETE FROM parse_cache WHERE last_used < ?", (now - self.ttl_s,)
        )
        if cursor.rowcount > 0:
            await conn.execute(
                "UPDATE cache_meta SET expired = expired + ? WHERE id = 1", (cursor.rowcount,)
            )

    async def _evict(self, conn: aiosqlite.Connection, totals: _Totals) -> None:
        """Delete oldest-used rows until both totals are under low_water x bound."""
        target_entries = int(self.max_entries * self._low_water)
        target_bytes = int(self.max_bytes * self._low_water)
        evicted = 0
        while totals.entries > target_entries or totals.bytes > target_bytes:
            average = totals.bytes / totals.entries if totals.entries else 1.0
            over_bytes = math.ceil(max(totals.bytes - target_bytes, 0) / max(average, 1.0))
            n = min(max(totals.entries - target_entries, over_bytes, 1), EVICT_CHUNK)
            cursor = await conn.execute(_EVICT_OLDEST, (n,))
            if cursor.rowcount <= 0:
                break
            evicted += cursor.rowcount
            totals = await self._read_totals(conn)
        await conn.execute(
            "UPDATE cache_meta SET evictions = evictions + ? WHERE id = 1", (evicted,)
        )

    @staticmethod
    async def _read_totals(conn: aiosqlite.Connection) -> _Totals:
        rows = await conn.execute_fetchall(_TOTALS)
        return _Totals(*rows[0])

    # ---- lifecycle -----------------------------------------------------------------

    async def close(self) -> None:
        """Write pending bumps and counters, then close. Idempotent, never raises."""
        if self._store.usable:
            await self._write_pending()
        await self._store.close()

    async def __aenter__(self) -> ParseCache:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
