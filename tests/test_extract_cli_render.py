"""`lineaged extract` renders and names targets exactly as the daemon would: a dbt
project above PATH is found by itself, `-c config.toml` applies the root containing
PATH, and flags give the path-target rule and generic Jinja."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import orjson

from lineaged.cli import extract as cli
from lineaged.cli.extract import to_record
from lineaged.config import load_settings
from lineaged.pipeline import RootContext
from lineaged.worker import extract_task

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "dbt_shop"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["extract", *argv])
    return args.func(args)


def one(capsysbinary) -> dict:
    return orjson.loads(capsysbinary.readouterr().out)


def test_dbt_project_above_the_path_is_found_and_matches_the_daemon(
    tmp_path: Path, capsysbinary
) -> None:
    project = tmp_path / "shop"
    shutil.copytree(EXAMPLE, project)
    model = project / "models" / "marts" / "finance" / "revenue_daily.sql"
    assert run([str(model), "--json", "--dialect", "duckdb"]) == 0
    got = one(capsysbinary)
    assert got["statements"][0]["targets"] == ["main_finance.daily_revenue"]

    # What the daemon's worker stores for the same file in a root at the project.
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[[roots]]\nname = "d"\npath = "{project}"\ndialect = "duckdb"\n')
    ctx = RootContext(load_settings(cfg, env={}).roots[0])
    rel = "models/marts/finance/revenue_daily.sql"
    data = model.read_bytes()
    stored = extract_task(data, "duckdb", None, None, None, render=ctx.render.job_for(rel))
    expected = to_record(str(model), data, stored)
    expected["extractor_version"] += ctx.render.version_suffix(rel)
    assert got == expected

    assert run([str(model), "--json", "-c", str(cfg)]) == 0
    assert one(capsysbinary) == expected


def test_config_root_applies_its_target_rule_and_dialect(capsysbinary) -> None:
    query = (
        REPO / "examples" / "bqetl" / "analytics" / "derived" / "plan_engagement_v1" / "query.sql"
    )
    assert run([str(query), "--json", "-c", str(REPO / "config.toml")]) == 0
    got = one(capsysbinary)
    assert got["dialect"] == "bigquery"
    assert got["statements"][0]["kind"] == "insert"
    assert got["statements"][0]["targets"] == ["analytics.derived.plan_engagement_v1"]


def test_target_rule_flag_relative_to_root(tmp_path: Path, capsysbinary) -> None:
    (tmp_path / "p" / "ds" / "t").mkdir(parents=True)
    (tmp_path / "p" / "ds" / "t" / "query.sql").write_text("SELECT a FROM src.x")
    argv = [str(tmp_path), "--json", "--target-rule", "{1}.{2}.{3}", "--dialect", "bigquery"]
    assert run(argv) == 0
    assert one(capsysbinary)["statements"][0]["targets"] == ["p.ds.t"]


def test_generic_jinja_with_vars(tmp_path: Path, capsysbinary) -> None:
    sql = tmp_path / "a.sql"
    sql.write_text("INSERT INTO {{ env }}.t SELECT x FROM {{ env }}.s")
    assert run([str(sql), "--json", "--template", "jinja", "--var", "env=prod"]) == 0
    s = one(capsysbinary)["statements"][0]
    assert (s["targets"], s["sources"]) == (["prod.t"], ["prod.s"])
    assert run([str(sql), "--json", "--template", "jinja"]) == 1  # env undefined: an error


def test_bad_flags_exit_2(tmp_path: Path, capsys) -> None:
    sql = tmp_path / "a.sql"
    sql.write_text("SELECT 1")
    assert run([str(sql), "--var", "novalue"]) == 2
    assert "--var expects key=value" in capsys.readouterr().err
    assert run([str(sql), "--target-rule", "{nope}"]) == 2
