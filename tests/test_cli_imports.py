"""What each command imports (structural, not timed): a CLI call pays only for what it
uses, so `--help` imports no engine, `extract` no database stack and `lineage` no
parser. Each case runs the real `main()` in a fresh interpreter and reads sys.modules.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

RUN = """
import json, sys
from lineaged.cli.app import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""

PARSER = {"sqlglot", "sqlglotc"}
DATABASE = {"neo4j", "anyio", "aiosqlite"}
DAEMON = {"watchdog", "structlog", "asyncio", "jinja2", "yaml"}


def loaded(tmp_path: Path, *argv: str) -> tuple[int, set[str]]:
    report = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", RUN, str(report), *argv],
        cwd=tmp_path,
        env={**os.environ, "NEO4J_PASSWORD": "not-used"},
        capture_output=True,
        check=False,
        timeout=120,
    )
    data = json.loads(report.read_text())
    # Both the full names and the top-level packages, so either can be asked about.
    return data["code"], {*data["modules"], *(m.partition(".")[0] for m in data["modules"])}


def config_with_a_root(tmp_path: Path, port: int) -> Path:
    (tmp_path / "sql").mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[neo4j]\nuri = "bolt://127.0.0.1:{port}"\n\n'
        f'[[roots]]\nname = "sql"\npath = "{tmp_path / "sql"}"\ndialect = "snowflake"\n'
    )
    return config


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["lineage", "--help"],
        ["extract", "--help"],
        ["status", "--help"],
        ["cache", "--help"],
        ["dump", "--help"],
        ["export", "--help"],
    ],
)
def test_help_imports_no_parser_database_or_daemon(tmp_path: Path, argv: list[str]) -> None:
    code, modules = loaded(tmp_path, *argv)
    assert code == 0
    assert modules.isdisjoint(PARSER | DATABASE | DAEMON), modules & (PARSER | DATABASE | DAEMON)


def test_extract_imports_the_parser_and_nothing_of_the_database(tmp_path: Path) -> None:
    (tmp_path / "one.sql").write_text("INSERT INTO b SELECT x FROM a;\n")
    code, modules = loaded(tmp_path, "extract", "one.sql", "--dialect", "postgres", "--json")
    assert code == 0
    assert "sqlglot.dialects.postgres" in modules  # the case really extracted
    assert "sqlglot.dialects.tsql" not in modules  # only T-SQL files need it
    assert modules.isdisjoint(DATABASE | {"watchdog", "structlog", "asyncio"})


def test_lineage_loads_settings_with_roots_without_the_parser(tmp_path: Path) -> None:
    # Loading a config validates each root's dialect: that must not need sqlglot.
    config = config_with_a_root(tmp_path, closed_port())
    code, modules = loaded(tmp_path, "lineage", "upstream", "t", "-c", str(config))
    assert code == 3  # nothing listens there: "cannot reach Neo4j", after settings loaded
    assert "neo4j" in modules
    assert modules.isdisjoint(PARSER | {"watchdog", "aiosqlite", "jinja2", "yaml"})


def test_status_and_check_config_import_no_parser_or_database(tmp_path: Path) -> None:
    config = config_with_a_root(tmp_path, closed_port())
    code, modules = loaded(tmp_path, "check-config", "-c", str(config))
    assert code == 0
    assert modules.isdisjoint(PARSER | DATABASE | DAEMON)
    code, modules = loaded(tmp_path, "status", "--url", f"http://127.0.0.1:{closed_port()}")
    assert code == 3
    assert modules.isdisjoint(PARSER | DATABASE | DAEMON)
