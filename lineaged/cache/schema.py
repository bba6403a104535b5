"""On-disk schema of the cache file and the migrations that produce it.

The file is recognised by SQLite's `application_id` header field (so a foreign SQLite
file is told apart from a fresh, empty one without guessing from table names), and its
layout by the single row of `schema_version`. `MIGRATIONS[v]` turns version v-1 into v;
version 0 is an empty file. A file newer than `SCHEMA_VERSION` came from a newer
lineaged: it is moved aside rather than guessed at (it is only a cache).
"""

from __future__ import annotations

# "LNGD": stamped into the SQLite header by the first migration.
APPLICATION_ID = 0x4C4E4744

_V1 = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version (version) VALUES (0)",
    # Small columns before the blob: reading size/last_used never touches overflow pages.
    # A rowid table (not WITHOUT ROWID) because values are ~0.4-3 KB, too big for
    # clustering in the key b-tree.
    """CREATE TABLE parse_cache (
        key TEXT NOT NULL UNIQUE,
        last_used REAL NOT NULL,
        size INTEGER NOT NULL,
        value BLOB NOT NULL
    )""",
    # Eviction (LRU and TTL) walks this index from the oldest end: no full scans.
    "CREATE INDEX parse_cache_last_used ON parse_cache (last_used)",
    # One row of running totals. Triggers keep entries/bytes exact under every writer
    # (daemon, `lineaged cache clear`, future code) without a count(*) scan.
    """CREATE TABLE cache_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        entries INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        evictions INTEGER NOT NULL DEFAULT 0,
        expired INTEGER NOT NULL DEFAULT 0,
        hits INTEGER NOT NULL DEFAULT 0,
        misses INTEGER NOT NULL DEFAULT 0,
        opened_at REAL
    )""",
    "INSERT INTO cache_meta (id) VALUES (1)",
    """CREATE TRIGGER parse_cache_insert AFTER INSERT ON parse_cache BEGIN
        UPDATE cache_meta SET entries = entries + 1, bytes = bytes + NEW.size WHERE id = 1;
    END""",
    """CREATE TRIGGER parse_cache_delete AFTER DELETE ON parse_cache BEGIN
        UPDATE cache_meta SET entries = entries - 1, bytes = bytes - OLD.size WHERE id = 1;
    END""",
    """CREATE TRIGGER parse_cache_resize AFTER UPDATE OF size ON parse_cache BEGIN
        UPDATE cache_meta SET bytes = bytes - OLD.size + NEW.size WHERE id = 1;
    END""",
    # Rows are small and always read per root: cluster them by (root, path).
    """CREATE TABLE stat_cache (
        root TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        checked_ns INTEGER NOT NULL,
        PRIMARY KEY (root, path)
    ) WITHOUT ROWID""",
    f"PRAGMA application_id = {APPLICATION_ID}",
)

# The corpus schema catalog's per-file records (lineaged/cache/catalog_store.py).
_V2 = (
    """CREATE TABLE catalog_files (
        file TEXT NOT NULL PRIMARY KEY,
        record BLOB NOT NULL
    ) WITHOUT ROWID""",
)

# The catalog's note "every record in catalog_files is current" (lineaged/catalog/
# stage.py, SchemaStage.save_state), with each record's content hash: a restart that
# finds it answers "is this file's result current?" without decoding the records.
# Any change of catalog_files removes it, in the same transaction, whoever writes.
_V3 = (
    """CREATE TABLE catalog_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        digest TEXT NOT NULL,
        shas BLOB NOT NULL
    )""",
    *(
        f"""CREATE TRIGGER catalog_files_{op.lower()} AFTER {op} ON catalog_files BEGIN
            DELETE FROM catalog_state;
        END"""
        for op in ("INSERT", "UPDATE", "DELETE")
    ),
)

MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1, 2: _V2, 3: _V3}
SCHEMA_VERSION = max(MIGRATIONS)
