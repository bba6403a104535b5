"""`lineaged extract`: JSON shape, JSON Lines for many files, exit codes."""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from lineaged.cli import extract as cli

KEYS = {
    "path", "sha256", "dialect", "extractor_version", "statements", "error", "defines",
    "schema_used", "schema_fingerprint",
}  # fmt: skip
STATEMENT_KEYS = {
    "index", "line", "kind", "targets", "sources", "columns", "temp_targets", "unresolved",
    "error", "target_columns", "indirect",
}  # fmt: skip


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["extract", *argv])
    return args.func(args)


def test_single_file_json(tmp_path, capsysbinary) -> None:
    sql = b"INSERT INTO t (a) SELECT x FROM s;"
    (tmp_path / "a.sql").write_bytes(sql)
    assert run([str(tmp_path / "a.sql"), "--json"]) == 0
    doc = orjson.loads(capsysbinary.readouterr().out)
    assert set(doc) == KEYS
    assert doc["sha256"] == hashlib.sha256(sql).hexdigest()
    assert set(doc["statements"][0]) == STATEMENT_KEYS
    assert doc["statements"][0]["columns"] == [
        {"target": "t.a", "sources": ["s.x"], "transform": "DIRECT/IDENTITY"}
    ]


def test_directory_gives_json_lines_and_exit_1_on_errors(tmp_path, capsysbinary) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.sql").write_text("SELECT 1 FROM a;")
    (tmp_path / "sub" / "b.sql").write_text("SELECT FROM (;")
    (tmp_path / "ignored.txt").write_text("SELECT 1")
    assert run([str(tmp_path), "--json", "--dialect", "tsql"]) == 1
    lines = capsysbinary.readouterr().out.splitlines()
    assert [orjson.loads(line)["path"].rsplit("/", 1)[-1] for line in lines] == ["a.sql", "b.sql"]


def test_summary_mentions_tables(tmp_path, capsys) -> None:
    (tmp_path / "a.sql").write_text("CREATE TABLE t AS SELECT x FROM s;")
    assert run([str(tmp_path / "a.sql")]) == 0
    out = capsys.readouterr().out
    assert "create_table_as" in out and "writes: t" in out and "t.x <- s.x" in out


@pytest.mark.parametrize(
    "argv", [["missing.sql"], ["--dialect", "nope", "x.sql"], ["--schema", "/nonexistent", "x"]]
)
def test_usage_errors_exit_2(argv, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.sql").write_text("SELECT 1")
    assert run(argv) == 2


def test_directory_resolves_stars_across_files_and_reports_conflicts(
    tmp_path, capsysbinary
) -> None:
    (tmp_path / "a_reader.sql").write_text("INSERT INTO rep.t SELECT * FROM stg.v;")
    (tmp_path / "b_view.sql").write_text("CREATE VIEW stg.v AS SELECT * FROM raw.t;")
    (tmp_path / "c_table.sql").write_text("CREATE TABLE raw.t (id int, amount int);")
    (tmp_path / "d_other.sql").write_text("CREATE VIEW stg.v AS SELECT id FROM raw.t;")
    assert run([str(tmp_path), "--json"]) == 0
    captured = capsysbinary.readouterr()
    docs = {orjson.loads(line)["path"].rsplit("/", 1)[-1]: orjson.loads(line) for line in
            captured.out.splitlines()}  # fmt: skip
    reader = docs["a_reader.sql"]["statements"][0]
    assert [c["target"] for c in reader["columns"]] == ["rep.t.amount", "rep.t.id"]
    assert reader["unresolved"] == []
    assert docs["b_view.sql"]["defines"][0]["columns"] == [
        {"name": "id", "type": "UNKNOWN"},
        {"name": "amount", "type": "UNKNOWN"},
    ]
    assert b"stg.v is defined differently in" in captured.err
    assert b"d_other.sql; using" in captured.err


def test_unreadable_schema_file_exits_2_with_one_line(tmp_path, capsys) -> None:
    (tmp_path / "x.sql").write_text("SELECT 1")
    (tmp_path / "s.yaml").write_text("t:\n  a: !include-field-description x\n")
    assert run([str(tmp_path / "x.sql"), "--schema", str(tmp_path / "s.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s.yaml" in err and "Traceback" not in err


def _docs(out: bytes) -> dict[str, dict]:
    return {orjson.loads(line)["path"].rsplit("/", 1)[-1]: orjson.loads(line) for line in
            out.splitlines()}  # fmt: skip


def test_config_roots_give_dialect_globs_and_defaults_by_path(
    tmp_path, capsysbinary, monkeypatch
) -> None:
    monkeypatch.delenv("LINEAGED_CONFIG", raising=False)
    (tmp_path / "ms").mkdir()
    (tmp_path / "sf").mkdir()
    (tmp_path / "ms" / "a.sql").write_text("INSERT INTO dbo.t SELECT [x] FROM dbo.s")
    (tmp_path / "ms" / "skip.sql").write_text("INSERT INTO dbo.u SELECT y FROM dbo.s")
    (tmp_path / "sf" / "b.sql").write_text("INSERT INTO t SELECT x FROM s")
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[[roots]]\nname = "ms"\npath = "ms"\ndialect = "tsql"\nexclude = ["skip.sql"]\n'
        '[[roots]]\nname = "sf"\npath = "sf"\ndialect = "snowflake"\n'
        'default_schema = "stage"\n'
    )
    assert run(["-c", str(cfg), str(tmp_path), "--json"]) == 0
    captured = capsysbinary.readouterr()
    docs = _docs(captured.out)
    assert set(docs) == {"a.sql", "b.sql"}  # skip.sql is excluded by its root's globs
    assert docs["a.sql"]["dialect"] == "tsql"
    assert docs["a.sql"]["statements"][0]["sources"] == ["dbo.s"]
    assert docs["b.sql"]["dialect"] == "snowflake"
    assert docs["b.sql"]["statements"][0]["targets"] == ["STAGE.T"]
    assert b"reading them as" not in captured.err


def test_upper_case_extension_counts_and_a_missing_dialect_is_said(
    tmp_path, capsysbinary, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LINEAGED_CONFIG", raising=False)
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "LOAD.SQL").write_text("INSERT INTO t SELECT a FROM s")
    assert run(["sql", "--json"]) == 0
    captured = capsysbinary.readouterr()
    assert set(_docs(captured.out)) == {"LOAD.SQL"}
    assert b"no --dialect and no config root" in captured.err


def test_unknown_dialect_suggests_and_lists(tmp_path, capsys) -> None:
    (tmp_path / "x.sql").write_text("SELECT 1")
    assert run([str(tmp_path / "x.sql"), "--dialect", "mssql"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'tsql'" in err and "snowflake" in err and err.count("\n") == 1


def test_extract_does_not_import_the_neo4j_driver(tmp_path) -> None:
    # `lineaged extract` needs no database; importing the driver was most of its start-up.
    sql = tmp_path / "x.sql"
    sql.write_text("INSERT INTO t SELECT a FROM s")
    code = (
        "import sys\n"
        "from lineaged.cli import main\n"
        f"rc = main(['extract', {str(sql)!r}, '--dialect', 'postgres', '--json'])\n"
        "print('neo4j' in sys.modules, rc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path
    ).stdout.splitlines()
    assert out[-1] == "False 0"


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge", "unreadable"])
def test_a_path_that_cannot_be_read_whole_is_one_line_and_exit_2(tmp_path, kind) -> None:
    """Named on the command line: a FIFO (open() would wait for a writer forever),
    /dev/zero (never ends), a file over the size limit (a 64 GiB sparse file), a file
    the user may not read. Read as the daemon reads: one line, exit 2, never blocking.
    In a child with a deadline and bounded memory; old code blocked or ran out."""
    import resource

    from unprivileged import drop_file_mode_override

    path = tmp_path / "x.sql"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "huge":
        with path.open("wb") as fh:
            fh.truncate(64 << 30)
    else:
        path.write_text("SELECT 1")
        path.chmod(0)
    drop = drop_file_mode_override()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        if drop is not None:
            drop()

    proc = subprocess.run(
        [sys.executable, "-m", "lineaged.cli", "extract", str(path), "--dialect", "postgres"],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert str(path) in proc.stderr
