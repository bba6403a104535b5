"""The corpus schema catalog's records, kept in the cache file next to the parse cache.

One row per file: what its current result defines and looked up (lineaged/catalog's
`FileRecord`), so a restart has the catalog at once instead of re-extracting every
file to rebuild it. Like the rest of the cache it is only a cache: a lost row makes
the daemon extract that file again (the pipeline re-extracts any file the catalog
does not know at its current content).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING

import msgspec
import orjson

from lineaged.model import TableSchema

if TYPE_CHECKING:
    from lineaged.cache.store import CacheStore
    from lineaged.catalog.catalog import FileRecord

_UPSERT = (
    "INSERT INTO catalog_files (file, record) VALUES (?, ?) "
    "ON CONFLICT (file) DO UPDATE SET record = excluded.record"
)
# Records are msgpack of FileRecord's own fields behind this tag, decoded by msgspec
# straight into the dataclasses (a start-up loads one per file of every root: this
# was most of loading the catalog). Rows without it are the JSON written before.
_MSGPACK = b"m"
_encoder = msgspec.msgpack.Encoder()
_SHAS = msgspec.msgpack.Decoder(dict[str, str])


@cache
def _decoder() -> msgspec.msgpack.Decoder:
    from lineaged.catalog.catalog import FileRecord

    return msgspec.msgpack.Decoder(FileRecord)


def encode_record(record: FileRecord) -> bytes:
    return _MSGPACK + _encoder.encode(record)


def decode_record(blob: bytes) -> FileRecord:
    """Raises ValueError (msgspec.DecodeError, orjson.JSONDecodeError) or KeyError or
    TypeError for a row it cannot read."""
    if blob[:1] == _MSGPACK:
        return _decoder().decode(blob[1:])
    return _decode_json(blob)


def _decode_json(blob: bytes) -> FileRecord:
    from lineaged.catalog.catalog import FileRecord

    d = orjson.loads(blob)
    return FileRecord(
        d["root"],
        d["sha256"],
        tuple(TableSchema.from_dict(t) for t in d["defines"]),
        tuple(d["used"]),
        d["fingerprint"],
    )


def _decode_rows(rows: Iterable[tuple[str, bytes]]) -> dict[str, FileRecord]:
    out = {}
    for file, blob in rows:
        try:
            out[file] = decode_record(blob)
        except (KeyError, TypeError, ValueError):
            continue  # an unreadable row: that file is extracted again
    return out


class CatalogStore:
    """Shares the parse cache's store. Degraded store: loads nothing, writes nothing."""

    def __init__(self, store: CacheStore) -> None:
        self._store = store

    async def load(self) -> dict[str, FileRecord]:
        if not self._store.usable:
            return {}
        try:
            rows = await self._store.conn.execute_fetchall("SELECT file, record FROM catalog_files")
        except sqlite3.Error as exc:
            self._store.failed("catalog_load", exc)
            return {}
        # The decoder is built here, on the loop's thread: building it evaluates the
        # dataclasses' string annotations (compile), and CPython 3.11's compiler is not
        # safe to run in two threads at once ("AST constructor recursion depth
        # mismatch" when the test runner compiled next to it). The decoding itself,
        # one record per file of every root (seconds at 100k files), runs in a thread.
        _decoder()
        return await asyncio.to_thread(_decode_rows, rows)

    async def load_state(self) -> tuple[str, dict[str, str]] | None:
        """The saved note that every record is current: (digest, file -> sha256), or
        None (no note: a record changed since, or none was saved)."""
        if not self._store.usable:
            return None
        try:
            rows = await self._store.conn.execute_fetchall(
                "SELECT digest, shas FROM catalog_state WHERE id = 1"
            )
        except sqlite3.Error as exc:
            self._store.failed("catalog_state_load", exc)
            return None
        if not rows:
            return None
        digest, blob = rows[0]
        try:
            shas = await asyncio.to_thread(_SHAS.decode, blob)
        except msgspec.DecodeError:
            return None  # unreadable: the records are loaded instead
        return digest, shas

    async def save_state(self, digest: str, shas: dict[str, str]) -> bool:
        """Save the note, unless a cache write failed this run (the rows on disk may then
        differ from the catalog in memory). Returns whether it was saved."""
        if self._store.failures or not self._store.usable:
            return False
        blob = await asyncio.to_thread(_encoder.encode, shas)
        await self._write(
            "catalog_state_save",
            "INSERT OR REPLACE INTO catalog_state (id, digest, shas) VALUES (1, ?, ?)",
            [(digest, blob)],
        )
        return not self._store.failures

    async def put_many(self, records: Sequence[tuple[str, FileRecord]]) -> None:
        await self._write("catalog_put", _UPSERT, [(f, encode_record(r)) for f, r in records])

    async def delete_many(self, files: Iterable[str]) -> None:
        rows = [(f,) for f in files]
        await self._write("catalog_delete", "DELETE FROM catalog_files WHERE file = ?", rows)

    async def _write(self, operation: str, sql: str, rows: Sequence[tuple]) -> None:
        await self._store.write_rows(operation, sql, rows)
