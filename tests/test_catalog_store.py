"""The schema catalog's per-file records in the cache file: exact round trips, rows in
the JSON encoding written before msgpack still load, unreadable rows are skipped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from lineaged.cache import ParseCache
from lineaged.cache.catalog_store import decode_record, encode_record
from lineaged.catalog.catalog import FileRecord
from lineaged.model import TableSchema

RECORD = FileRecord(
    root="wh",
    sha256="ab" * 32,
    defines=(
        TableSchema("mart.a", (("id", "INT"), ("note", "UNKNOWN")), ("raw.x", "raw.y")),
        TableSchema("mart.b", ()),
    ),
    used=("raw.x", "raw.y", "missing"),
    fingerprint="0123abcd",
)


def old_json_row(record: FileRecord) -> bytes:
    """What lineaged stored before msgpack (no tag: a JSON object)."""
    return orjson.dumps(
        {
            "root": record.root,
            "sha256": record.sha256,
            "defines": [d.to_dict() for d in record.defines],
            "used": list(record.used),
            "fingerprint": record.fingerprint,
        }
    )


def test_round_trip_keeps_every_field_and_type() -> None:
    blob = encode_record(RECORD)
    assert blob[:1] == b"m"
    back = decode_record(blob)
    assert back == RECORD
    assert type(back.defines) is tuple and type(back.defines[0].columns[0]) is tuple


def test_old_json_rows_decode_to_the_same_record() -> None:
    assert decode_record(old_json_row(RECORD)) == RECORD


async def test_load_reads_both_encodings_and_skips_unreadable_rows(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    async with await ParseCache.open(path) as cache:
        await cache.catalog.put_many([("wh:new.sql", RECORD)])
    raw = sqlite3.connect(path)
    raw.executemany(
        "INSERT INTO catalog_files (file, record) VALUES (?, ?)",
        [("wh:old.sql", old_json_row(RECORD)), ("wh:bad.sql", b"m\xc1"), ("wh:bad2.sql", b"{")],
    )
    raw.commit()
    raw.close()
    async with await ParseCache.open(path) as cache:
        assert await cache.catalog.load() == {"wh:new.sql": RECORD, "wh:old.sql": RECORD}
