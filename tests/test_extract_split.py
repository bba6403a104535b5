"""The splitter's plain-SQL fast path finds exactly the statements the full state
machine finds, on every corpus file and on the benchmark's generated files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlglot.dialects.dialect import Dialect

from lineaged.extract import split as split_mod

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "bench"))

from bench_extract import corpus as bench_corpus  # noqa: E402

FILES = sorted((HERE / "golden").glob("**/*.sql"))


def _shape(chunks: list[split_mod.Chunk]) -> list[tuple]:
    return [
        (tuple((t.token_type, t.text, t.start) for t in c.tokens), c.control, c.line, c.error)
        for c in chunks
    ]


def _both(text: str, dialect: str) -> tuple[list[tuple], list[tuple], bool]:
    engine = Dialect.get_or_raise(dialect)
    fast = split_mod.split(text, engine)
    original = split_mod._Splitter._run_plain
    try:
        split_mod._Splitter._run_plain = lambda self: False
        slow = split_mod.split(text, engine)
    finally:
        split_mod._Splitter._run_plain = original
    took_fast = split_mod._Splitter(engine.tokenize(text), text, engine, 0)._run_plain()
    return _shape(fast), _shape(slow), took_fast


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(HERE / "golden")) for p in FILES])
def test_fast_path_matches_full_splitter(path: Path) -> None:
    dialect = path.parent.name
    try:
        fast, slow, _ = _both(path.read_text(), dialect)
    except Exception as exc:  # untokenizable corpus files are the pipeline's business
        pytest.skip(f"does not tokenize: {exc}")
    assert fast == slow


def test_fast_path_is_taken_for_plain_files_and_not_for_blocks() -> None:
    text = bench_corpus(1)[0]
    fast, slow, took_fast = _both(text, "postgres")
    assert took_fast and fast == slow and len(fast) == 2
    block = "BEGIN\n  INSERT INTO a SELECT 1;\nEND;\nSELECT CASE WHEN x THEN 1 ELSE 2 END FROM t;"
    fast, slow, took_fast = _both(block, "bigquery")
    assert not took_fast and fast == slow
    proc = "CREATE PROCEDURE p() BEGIN INSERT INTO a SELECT 1; END;"
    assert not _both(proc, "mysql")[2]
    assert not _both("SELECT 1; IF x THEN SELECT 2; END IF;", "snowflake")[2]


def test_else_of_a_multi_table_insert_is_not_a_statement_boundary() -> None:
    text = (
        "INSERT ALL\n  WHEN a > 1 THEN INTO t1 (a) VALUES (a)\n"
        "  ELSE INTO t2 (a) VALUES (a)\nSELECT a FROM s;\n"
        "IF x THEN INSERT INTO t3 SELECT 1; ELSE INSERT INTO t4 SELECT 2; END IF;"
    )
    engine = Dialect.get_or_raise("snowflake")
    chunks = split_mod.split(text, engine)
    heads = [c.tokens[0].text.upper() for c in chunks if c.tokens]
    # The INSERT ALL stays whole (up to its SELECT); the IF's ELSE still separates
    # the branches.
    assert "INTO" not in heads
    assert chunks[0].line == 1 and chunks[0].tokens[-1].text == "s"
    assert heads.count("INSERT") == 3
