"""Parse/stat cache benchmark: `.venv/bin/python tests/bench/bench_cache.py [--entries N]`.

Prints, from one run: encoded size and codec cost of realistic lineage; get_many (hits,
misses) and put_many keys/s at batch sizes 1, 100, 500 with batched/single ratios; the
effect of hashed vs joined keys; and the stat-cache side of a warm restart (stat every
file, one get_root, compare; no file is opened).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import sys
import tempfile
import time
import timeit
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from lineaged.cache import ParseCache, StatEntry, cache_key, decode, encode, stat_key
from lineaged.model import ColumnEdge, FileLineage, StatementLineage

SCHEMAS = ("analytics.marts", "analytics.staging", "raw.shop", "raw.crm")
TABLES = ("orders", "customers", "payments", "sessions", "line_items", "products")
TRANSFORMS = ("DIRECT/IDENTITY", "DIRECT/TRANSFORMATION", "DIRECT/AGGREGATION", "INDIRECT/JOIN")


def realistic_lineage(seed: int, statements: int = 2, columns: int = 24) -> FileLineage:
    """Shaped like a warehouse model: qualified names, 1-5 sources, 1-3 sources per column."""
    r = random.Random(seed)

    def table() -> str:
        return f"{r.choice(SCHEMAS)}.{r.choice(TABLES)}_{r.randint(1, 40)}"

    out = []
    for i in range(statements):
        target = table()
        sources = sorted({table() for _ in range(r.randint(1, 5))})
        edges = tuple(
            ColumnEdge(
                f"{target}.col_{c}",
                tuple(sorted({f"{r.choice(sources)}.col_{r.randint(0, 60)}" for _ in range(3)})),
                r.choice(TRANSFORMS),
            )
            for c in range(columns)
        )
        out.append(StatementLineage(i, 1 + 30 * i, "INSERT", (target,), tuple(sources), edges))
    return FileLineage("snowflake", "1", tuple(out))


def per_call_us(fn: Callable[[], object], n: int = 2000) -> float:
    """Best of 10 rounds of n/10 calls: the machine is shared, the minimum is the cost."""
    rounds = [timeit.timeit(fn, number=n // 10) for _ in range(10)]
    return min(rounds) / (n // 10) * 1e6


def old_json_blob(fl: FileLineage) -> bytes:
    """The pre-msgpack stored form (tag z: zlib'd orjson of to_dict), still decoded."""
    return b"z" + zlib.compress(orjson.dumps(fl.to_dict()), 1)


def bench_codec() -> None:
    print("== encoding (per entry): msgpack (written now) vs the old JSON rows ==")
    print(
        f"{'shape':<14}{'json B':>8}{'stored B':>10}{'ratio':>7}{'enc us':>8}{'dec us':>8}"
        f"{'old dec us':>11}{'old/new':>8}"
    )
    for statements, columns in ((1, 5), (1, 36), (4, 36), (10, 60)):
        fl = realistic_lineage(1, statements, columns)
        raw = orjson.dumps(fl.to_dict())
        blob, old = encode(fl), old_json_blob(fl)
        assert decode(blob) == fl == decode(old)
        new_us = per_call_us(lambda blob=blob: decode(blob))
        old_us = per_call_us(lambda old=old: decode(old))
        print(
            f"{statements}x{columns:<12}{len(raw):>8}{len(blob):>10}"
            f"{len(raw) / len(blob):>6.1f}x{per_call_us(lambda fl=fl: encode(fl)):>8.1f}"
            f"{new_us:>8.1f}{old_us:>11.1f}{old_us / new_us:>7.1f}x"
        )


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def keys_per_s(cache: ParseCache, op: str, keys: list[str], batch: int, lineage) -> float:
    chunks = [keys[i : i + batch] for i in range(0, len(keys), batch)]

    async def run() -> None:
        for chunk in chunks:
            if op == "put":
                await cache.put_many([(k, lineage) for k in chunk])
            else:
                await cache.get_many(chunk)

    return len(keys) / await timed(run)


async def bench_batches(path: Path, entries: int, key_fn: Callable[[int], str], label: str) -> None:
    lineages = [realistic_lineage(i) for i in range(64)]
    hit_keys = [key_fn(i) for i in range(entries)]
    miss_keys = [key_fn(-1 - i) for i in range(entries)]
    async with await ParseCache.open(path, max_entries=10 * entries) as cache:
        for i in range(0, entries, 500):
            await cache.put_many([(k, lineages[hash(k) % 64]) for k in hit_keys[i : i + 500]])
        print(
            f"\n== {label}: {entries:,} entries, file {path.stat().st_size / 2**20:.1f} MiB, "
            f"avg stored {cache.stats().bytes / entries:.0f} B/entry, "
            f"key {len(hit_keys[0])} chars =="
        )
        print(
            f"{'batch':>6}{'hits k/s':>11}{'misses k/s':>12}{'puts k/s':>10}"
            f"{'hit rows k/s (SQL only, no decode)':>37}"
        )
        rates: dict[int, tuple[float, float, float]] = {}
        for batch in (1, 100, 500):
            n = min(entries, 2000 if batch == 1 else entries)
            sample = random.Random(batch).sample(hit_keys, n)
            hits = await keys_per_s(cache, "get", sample, batch, None)
            misses = await keys_per_s(cache, "get", miss_keys[:n], batch, None)
            fresh = [key_fn(10**9 + batch * 10**6 + i) for i in range(n)]
            puts = await keys_per_s(cache, "put", fresh, batch, lineages[0])
            rates[batch] = (hits, misses, puts)
            fetch = await raw_fetch_per_s(cache, sample, batch)
            print(
                f"{batch:>6}{hits / 1e3:>11.1f}{misses / 1e3:>12.1f}{puts / 1e3:>10.1f}"
                f"{fetch / 1e3:>37.1f}"
            )
        for batch in (100, 500):
            ratio = [rates[batch][i] / rates[1][i] for i in range(3)]
            print(
                f"ratio batch {batch} / single: hits {ratio[0]:.0f}x, misses {ratio[1]:.0f}x, "
                f"puts {ratio[2]:.0f}x"
            )


async def raw_fetch_per_s(cache: ParseCache, keys: list[str], batch: int) -> float:
    """The same statement get_many runs, without decoding: the SQL + thread-hop share."""
    conn = cache._store.conn
    chunks = [keys[i : i + batch] for i in range(0, len(keys), batch)]

    async def run() -> None:
        for chunk in chunks:
            marks = ",".join("?" * len(chunk))
            await conn.execute_fetchall(
                f"SELECT key, value, last_used FROM parse_cache WHERE key IN ({marks})", chunk
            )

    return len(keys) / await timed(run)


def make_tree(root: Path, files: int) -> None:
    for i in range(files):
        d = root / f"d{i % 100}"
        d.mkdir(exist_ok=True)
        (d / f"m{i}.sql").write_text(f"insert into t{i} select a, b from s{i % 37};\n" * 20)


def walk(root: Path) -> list[tuple[str, os.stat_result]]:
    out = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            out.append((os.path.relpath(full, root), os.stat(full)))
    return out


async def bench_stat_restart(tmp: Path, files: int) -> None:
    root = tmp / "tree"
    root.mkdir()
    make_tree(root, files)
    path = tmp / "stat.sqlite"
    checked = time.time_ns() + 10 * 10**9  # pretend the hashing ran well after the writes
    cold_start = time.perf_counter()
    entries = {}
    for rel, st in walk(root):
        digest = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        entries[rel] = StatEntry.from_stat(st, digest, checked_ns=checked)
    async with await ParseCache.open(path) as cache:
        await cache.stat_cache.put_many("tree", entries)
    cold = time.perf_counter() - cold_start

    warm_start = time.perf_counter()
    async with await ParseCache.open(path) as cache:
        known = {row[0]: tuple(row[1:4]) for row in await cache.stat_cache.trusted("tree")}
        loaded = time.perf_counter() - warm_start
        changed = [rel for rel, st in walk(root) if known.get(rel) != stat_key(st)]
    warm = time.perf_counter() - warm_start
    print(f"\n== stat cache, {files:,} files ==")
    print(f"cold (walk + read + sha256 + put_many): {cold * 1e3:.0f} ms")
    print(
        f"warm (open + trusted + walk/stat + compare): {warm * 1e3:.0f} ms "
        f"({files / warm:,.0f} files/s; trusted {loaded * 1e3:.0f} ms), "
        f"to re-hash: {len(changed)}; cold/warm {cold / warm:.1f}x"
    )


def hashed_key(i: int) -> str:
    return cache_key(
        hashlib.sha256(str(i).encode()).hexdigest(),
        "snowflake",
        hashlib.sha256(b"schema").hexdigest(),
        "1.0.0",
    )


def joined_key(i: int) -> str:
    # The alternative to hashing: store the parts themselves (~150 chars).
    return ":".join(
        (
            hashlib.sha256(str(i).encode()).hexdigest(),
            "snowflake",
            hashlib.sha256(b"schema").hexdigest(),
            "1.0.0",
        )
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, SQLite {__import__('sqlite3').sqlite_version}")
    bench_codec()
    with tempfile.TemporaryDirectory() as tmp:
        await bench_batches(Path(tmp) / "hashed.sqlite", args.entries, hashed_key, "hashed keys")
        await bench_batches(Path(tmp) / "joined.sqlite", args.entries, joined_key, "joined keys")
        await bench_stat_restart(Path(tmp), args.files)


if __name__ == "__main__":
    asyncio.run(main())
