"""The stored encoding of a FileLineage: exact round trips, and rows written in the
encoding before msgpack (tags j/z) are still read."""

from __future__ import annotations

import dataclasses
import sqlite3
import zlib
from pathlib import Path

import orjson
import pytest

from lineaged.cache import CodecError, ParseCache, cache_key, decode, encode
from lineaged.model import ColumnEdge, FileLineage, IndirectEdge, StatementLineage, TableSchema


def full_lineage(columns: int = 3) -> FileLineage:
    """Every field of every class set to something other than its default."""
    statement = StatementLineage(
        index=2,
        line=17,
        kind="CREATE_TABLE_AS",
        targets=("mart.orders",),
        sources=("raw.orders", "raw.customers"),
        columns=tuple(
            ColumnEdge(f"mart.orders.c{i}", ("raw.orders.a", f"raw.orders.b{i}"), "DIRECT/IDENTITY")
            for i in range(columns)
        ),
        temp_targets=("tmp_orders",),
        unresolved=("mystery",),
        error="line 3, column 4: something odd",
        target_columns=(*(f"mart.orders.c{i}" for i in range(columns)), "mart.orders.x"),
        indirect=(
            IndirectEdge(("raw.customers.id", "raw.orders.customer_id"), "INDIRECT/JOIN"),
            IndirectEdge(("raw.orders.ds",), "INDIRECT/FILTER"),
        ),
    )
    bare = StatementLineage(index=3, line=40, kind="SELECT")
    return FileLineage(
        dialect="snowflake",
        extractor_version="1.6.1+rabc",
        statements=(statement, bare),
        error="file-level trouble",
        defines=(TableSchema("mart.orders", (("c0", "INT"), ("x", "UNKNOWN")), ("raw.orders",)),),
        schema_used=("raw.orders", "raw.customers"),
        schema_fingerprint="f00d",
    )


def old_json_row(lineage: FileLineage, *, compressed: bool) -> bytes:
    """What lineaged stored before msgpack: tag + (zlib'd) orjson of to_dict()."""
    raw = orjson.dumps(lineage.to_dict())
    return b"z" + zlib.compress(raw, 1) if compressed else b"j" + raw


@pytest.mark.parametrize("columns", [0, 3, 60])  # small (stored raw) and zlib'd values
def test_round_trip_keeps_every_field(columns: int) -> None:
    lineage = full_lineage(columns)
    blob = encode(lineage)
    assert blob[:1] in (b"m", b"M")
    back = decode(blob)
    assert back == lineage
    # Equal and of the same types all the way down (tuples stay tuples, not lists).
    assert dataclasses.astuple(back) == dataclasses.astuple(lineage)
    assert all(type(e.sources) is tuple for e in back.statements[0].columns)
    assert type(back.defines[0].columns[0]) is tuple


def test_small_values_are_stored_uncompressed_and_large_ones_compressed() -> None:
    assert encode(FileLineage("postgres", "1"))[:1] == b"m"
    assert encode(full_lineage(60))[:1] == b"M"


@pytest.mark.parametrize("compressed", [False, True])
def test_rows_in_the_old_json_encoding_are_read(compressed: bool) -> None:
    lineage = full_lineage()
    assert decode(old_json_row(lineage, compressed=compressed)) == lineage


@pytest.mark.parametrize(
    "blob",
    [
        b"",  # empty
        b"q{}",  # unknown tag
        b"M\x00\xff",  # not zlib
        b"m\x93\x01\x02",  # msgpack, but not a FileLineage
        b"m" + orjson.dumps({"dialect": 1}),  # wrong types
        b"j{not json",
        b"z" + zlib.compress(b'{"statements": []}'),  # JSON lacking required fields
    ],
)
def test_undecodable_values_raise_codec_error(blob: bytes) -> None:
    with pytest.raises(CodecError):
        decode(blob)


async def test_a_cache_file_written_by_the_old_encoding_still_serves_hits(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache.sqlite"
    lineage = full_lineage()
    old_key, new_key = cache_key("a", "d", "", "1"), cache_key("b", "d", "", "1")
    async with await ParseCache.open(path) as cache:
        await cache.put_many([(old_key, lineage), (new_key, lineage)])
    raw = sqlite3.connect(path)
    raw.execute(
        "UPDATE parse_cache SET value = ? WHERE key = ?",
        (old_json_row(lineage, compressed=True), old_key),
    )
    raw.commit()
    raw.close()
    async with await ParseCache.open(path) as cache:
        assert await cache.get_many([old_key, new_key]) == {old_key: lineage, new_key: lineage}
        assert cache.stats().hits == 2
