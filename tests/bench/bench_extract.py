"""Extraction cost vs a bare sqlglot.parse of the same files, on one core.

Run: .venv/bin/python tests/bench/bench_extract.py [--files N] [--repeat R]
Generates a deterministic warehouse-style corpus (5-10 KB files: CTEs, joins, CASE,
window functions, 30+ columns), then times both loops in this process and prints
the ratio, files/s and MB/s, and the pickled size of one result.

Times are this process's CPU time (time.process_time), best of R alternating runs:
on a shared 2-core machine wall-clock time mostly measures the neighbours, while
both loops are single-threaded and CPU-bound.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import random
import time

import sqlglot

from lineaged.extract import extract
from lineaged.worker import init_worker


def make_file(rng: random.Random) -> str:
    cols = ["cust_id", *(f"column_number_{i}" for i in range(rng.randint(34, 44)))]
    ctes = []
    for k in range(rng.randint(3, 5)):
        picked = ",\n    ".join(f"s.{c}" for c in cols)
        ctes.append(
            f"stage_{k} AS (\n  SELECT {picked},\n"
            f"    CASE WHEN s.status = 'x{k}' THEN s.amount ELSE 0 END AS amt_{k},\n"
            f"    ROW_NUMBER() OVER (PARTITION BY s.cust_id ORDER BY s.updated_at DESC) AS rn\n"
            f"  FROM raw.source_{rng.randint(1, 50)} s\n"
            f"  JOIN raw.dim_{rng.randint(1, 20)} d ON s.dim_id = d.id\n"
            f"  WHERE s.updated_at > '2024-01-01' AND d.active = 1\n)"
        )
    last = f"stage_{len(ctes) - 1}"
    outs = ",\n  ".join(
        f"COALESCE(a.{c}, b.{c}) AS {c}" if i % 3 == 0 else f"a.{c}" for i, c in enumerate(cols)
    )
    body = (
        f"INSERT INTO dw.fact_{rng.randint(1, 100)} ({', '.join(cols)})\n"
        f"WITH {', '.join(ctes)}\n"
        f"SELECT {outs}\nFROM stage_0 a\nLEFT JOIN {last} b ON a.cust_id = b.cust_id\n"
        f"WHERE a.rn = 1;\n"
    )
    return (
        body
        + f"DELETE FROM dw.staging WHERE id IN (SELECT id FROM raw.done_{rng.randint(1, 9)});\n"
    )


def corpus(n: int) -> list[str]:
    rng = random.Random(42)
    return [make_file(rng) for _ in range(n)]


def run(files: list[str], fn) -> float:
    start = time.process_time()
    for text in files:
        fn(text)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--dialect", default="postgres")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    files = corpus(args.files)
    mb = sum(len(f.encode()) for f in files) / 1e6
    init_worker()  # what a pool worker does: imports, then gc.freeze()
    gc.collect()
    parse_s = extract_s = float("inf")
    for _ in range(args.repeat):  # alternate, so both see the same machine
        parse_s = min(parse_s, run(files, lambda t: sqlglot.parse(t, read=args.dialect)))
        extract_s = min(extract_s, run(files, lambda t: extract(t, args.dialect)))
    avg_kb = mb * 1000 / len(files)
    print(f"corpus: {len(files)} files, {mb:.2f} MB ({avg_kb:.1f} KB/file), dialect {args.dialect}")
    for label, secs in (("sqlglot.parse", parse_s), ("extract", extract_s)):
        print(
            f"{label:>14}: {secs:6.2f} s  {len(files) / secs:7.1f} files/s  {mb / secs:5.2f} MB/s"
        )
    print(f"ratio extract/parse: {extract_s / parse_s:.2f}x")
    result = extract(files[0], args.dialect)
    size = len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    edges = sum(len(s.columns) for s in result.statements)
    print(
        f"result of one {len(files[0].encode()) / 1000:.1f} KB file: {edges} column entries, "
        f"pickled {size / 1000:.1f} KB"
    )


if __name__ == "__main__":
    main()
