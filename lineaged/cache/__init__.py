"""SQLite parse cache and stat cache (one file, one aiosqlite connection).

    async with await ParseCache.open(state_dir / "cache.sqlite") as cache:
        hits = await cache.get_many([cache_key(sha, dialect, fingerprint, version), ...])
        await cache.put_many([(key, lineage), ...])
        known = await cache.stat_cache.get_root("warehouse")

Only a cache: any problem with the file costs time (a rebuild, or running without a
cache), never correctness and never an exception into the daemon.
"""

from lineaged.cache.admin import (
    CacheFileMissing,
    ClearResult,
    FileStats,
    NotACacheFile,
    VacuumResult,
    VerifyResult,
    cache_stats,
    clear_cache,
    vacuum_cache,
    verify_cache,
)
from lineaged.cache.codec import CodecError, cache_key, decode, encode
from lineaged.cache.parse_cache import CacheStats, ParseCache
from lineaged.cache.schema import SCHEMA_VERSION
from lineaged.cache.stat_cache import RACY_WINDOW_NS, StatCache, StatEntry, stat_key
from lineaged.cache.store import CacheStore

__all__ = [
    "RACY_WINDOW_NS",
    "SCHEMA_VERSION",
    "CacheFileMissing",
    "CacheStats",
    "CacheStore",
    "ClearResult",
    "CodecError",
    "FileStats",
    "NotACacheFile",
    "ParseCache",
    "StatCache",
    "StatEntry",
    "VacuumResult",
    "VerifyResult",
    "cache_key",
    "cache_stats",
    "clear_cache",
    "decode",
    "encode",
    "stat_key",
    "vacuum_cache",
    "verify_cache",
]
