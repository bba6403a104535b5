"""lineaged's rendering of the bundled dbt project against dbt-core's own compilation.

dbt compiles examples/dbt_shop offline (dbt-duckdb, an embedded database in a temp
dir, a profiles.yml written here). For every model, snapshot, seed, analysis and
singular test in dbt's manifest, lineaged must name the same relation dbt does, and
read the same tables as the SQL dbt compiled (extracted by the same extractor).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lineaged.config import RootSettings
from lineaged.extract import extract
from lineaged.pipeline import RootContext
from lineaged.render.job import extract_file

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dbt_shop"
DBT_TIMEOUT_S = 600  # dbt's first parse is slow on a loaded 2-core machine (~50 s seen)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("dbt")
    project = tmp / "dbt_shop"
    shutil.copytree(EXAMPLE, project)
    (tmp / "profiles.yml").write_text(
        "dbt_shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {tmp / 'shop.duckdb'}\n      schema: main\n      threads: 1\n"
    )
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PROFILES_DIR": str(tmp),
        "DBT_LOG_PATH": str(tmp / "logs"),
    }
    dbt = Path(sys.executable).parent / "dbt"
    done = subprocess.run(
        [str(dbt), "compile", "--project-dir", str(project), "--target-path", str(tmp / "target")],
        env=env,
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    return project, manifest


def unquote(relation: str) -> str:
    return ".".join(p.strip('"') for p in relation.split("."))


def nodes(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node with a file of its own (generic tests live in YAML: not files)."""
    return [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] in ("model", "snapshot", "seed", "analysis", "test")
        and n["original_file_path"].endswith((".sql", ".csv"))
    ]


def relation_names(manifest: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, n in (*manifest["nodes"].items(), *manifest["sources"].items()):
        if n.get("relation_name"):
            out[key] = unquote(n["relation_name"])
    return out


def test_every_dbt_node_gets_dbt_relation_names_and_tables(
    compiled: tuple[Path, dict[str, Any]],
) -> None:
    project, manifest = compiled
    ctx = RootContext(
        RootSettings(
            "dbt", project, dialect="duckdb", default_catalog="shop", default_schema="main"
        )
    )
    relations = relation_names(manifest)
    checked = set()
    for node in nodes(manifest):
        path = node["original_file_path"]
        job = ctx.render.job_for(path)
        ours = extract_file((project / path).read_bytes(), "duckdb", None, None, None, job)
        assert ours.error is None and not any(s.error for s in ours.statements), path
        targets = sorted({t for s in ours.statements for t in s.targets})
        sources = sorted({t for s in ours.statements for t in s.sources})
        relation = unquote(node["relation_name"]) if node.get("relation_name") else None
        if node["resource_type"] in ("analysis", "test"):
            assert targets == [], path
        else:
            assert targets == [relation], path
        if node["resource_type"] == "seed":
            assert sources == [], path
        elif node.get("compiled_code"):
            theirs = extract(node["compiled_code"], "duckdb", target=relation)
            assert sources == sorted({t for s in theirs.statements for t in s.sources}), path
        # What dbt says the node depends on, as relations (snapshots are not compiled).
        depends = sorted(relations[d] for d in node["depends_on"].get("nodes", []))
        assert sources == depends, path
        checked.add(node["resource_type"])
    assert checked == {"model", "snapshot", "seed", "analysis", "test"}
