"""Load the bundled examples/ warehouse into a Neo4j the way a user does: `lineaged scan`.

Used by the tests that read the example's lineage back (Browser/HTTP, OpenLineage
export, HTML view). The roots and dialects come from the project's own config.toml, so
the tests see what `make run` shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lineaged.catalog.catalog import Catalog
from lineaged.catalog.fixpoint import CorpusFile, settle
from lineaged.extract import extract
from lineaged.model import FileLineage

from .configs import neo4j_env

PROJECT_DIR = Path(__file__).resolve().parents[2]
LINEAGED = Path(sys.executable).with_name("lineaged")

# A root with a file that does not parse, so "files with errors" has an answer.
BROKEN_ROOT = "scratch"
BROKEN_SQL = "INSERT INTO scratch.t SELECT FROM WHERE ((\n"


# Root settings beyond these change how files are read (path targets, dbt/Jinja
# rendering, YAML/CSV inputs); such roots are left out here: their lineage is what
# rendering makes of them, tested where rendering is (tests/integration/test_dbt_*).
_PLAIN_KEYS = {"name", "path", "dialect", "include", "exclude", "critical", "follow_symlinks"}


def example_roots() -> list[dict[str, str]]:
    """[{name, path (absolute), dialect}] of config.toml's plain-SQL roots."""
    config = tomllib.loads((PROJECT_DIR / "config.toml").read_text())
    return [
        {"name": r["name"], "path": str(PROJECT_DIR / r["path"]), "dialect": r["dialect"]}
        for r in config["roots"]
        if set(r) <= _PLAIN_KEYS and r.get("include", ["**/*.sql"]) == ["**/*.sql"]
    ]


def examples_lineage() -> dict[str, FileLineage]:
    """File id ("<root>:<path>") → the lineage `lineaged scan` stores for it: every file
    extracted with its root's dialect, resolved against the other files' definitions
    by the same fixpoint the daemon runs (lineaged/catalog)."""
    dialects = {r["name"]: r["dialect"] for r in example_roots()}
    corpus = [
        CorpusFile(f"{r['name']}:{p.relative_to(r['path']).as_posix()}", r["name"], p.read_bytes())
        for r in example_roots()
        for p in sorted(Path(r["path"]).rglob("*.sql"))
    ]

    def one(f: CorpusFile, catalog: Mapping[str, Mapping[str, str]]) -> FileLineage:
        return extract(f.data, dialects[f.root], catalog=catalog)

    settled = settle(corpus, one, Catalog())
    assert not settled.unsettled and not settled.conflicts
    return settled.results


def scan_examples(server: Any, tmp: Path, *, broken_file: bool = False) -> None:
    """Empty the graph, then scan examples/ (plus, optionally, a root with a bad file)."""
    tmp.mkdir(parents=True, exist_ok=True)
    roots = example_roots()
    if broken_file:
        scratch = tmp / BROKEN_ROOT
        scratch.mkdir(parents=True, exist_ok=True)
        (scratch / "broken.sql").write_text(BROKEN_SQL)
        roots.append({"name": BROKEN_ROOT, "path": str(scratch), "dialect": "postgres"})
    sections = "".join(
        f'[[roots]]\nname = "{r["name"]}"\npath = "{r["path"]}"\ndialect = "{r["dialect"]}"\n\n'
        for r in roots
    )
    config = tmp / "config.toml"
    config.write_text(
        f'{sections}[pool]\nworkers = 1\n\n[state]\ndir = "{tmp / "state"}"\n\n'
        '[service]\nmetrics_address = "0"\n'
    )
    _empty_graph(server)
    proc = run_lineaged(
        neo4j_env(server), "scan", "-c", str(config), "--progress", "never", timeout=300
    )
    # Exit 1 = "files with errors", which is what broken_file asks for.
    assert proc.returncode in ((0, 1) if broken_file else (0,)), proc.stderr[-3000:]


def run_lineaged(
    neo4j: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`lineaged ARGS` as a user runs it, connected through NEO4J_* alone (no config
    file: LINEAGED_CONFIG dropped, and run from / so no ./config.toml is found)."""
    env = {**os.environ, **neo4j}
    env.pop("LINEAGED_CONFIG", None)
    return subprocess.run(
        [str(LINEAGED), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        check=False,
    )


def _empty_graph(server: Any) -> None:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(server.uri, auth=server.auth) as driver:
        driver.execute_query("MATCH (n) DETACH DELETE n", database_=server.database)
