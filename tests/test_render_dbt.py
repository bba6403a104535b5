"""dbt rendering before extraction: relations, ref/source/var/env_var/config/this,
is_incremental, project macros, unresolved package macros and template errors.

Expectations for the bundled example (examples/dbt_shop) were written from dbt's
documented rules before lineaged was run on it; tests/integration/test_dbt_compile.py
checks the same names against dbt-core's own compilation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lineaged.config import RootSettings
from lineaged.model import FileLineage
from lineaged.pipeline import RootContext
from lineaged.render.job import extract_file

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dbt_shop"

# path -> (targets, sources) with target schema "main", no database.
EXPECTED = {
    "models/staging/stg_customers.sql": (
        ["main.stg_customers"],
        ["main_reference.country_codes", "raw.customers"],
    ),
    "models/staging/stg_orders.sql": (["main.stg_orders"], ["raw.orders"]),
    "models/staging/stg_payments.sql": (["main.stg_payments"], ["raw.payment_events"]),
    "models/marts/core/fct_orders.sql": (
        ["main.fct_orders"],
        ["main.stg_orders", "main.stg_payments"],
    ),
    "models/marts/core/dim_customers.sql": (
        ["main.dim_customers"],
        ["main.fct_orders", "main.stg_customers", "snapshots.customers_snapshot"],
    ),
    "models/marts/finance/revenue_daily.sql": (["main_finance.daily_revenue"], ["main.fct_orders"]),
    "snapshots/customers_snapshot.sql": (["snapshots.customers_snapshot"], ["raw.customers"]),
    "seeds/country_codes.csv": (["main_reference.country_codes"], []),
    "analyses/orders_per_status.sql": ([], ["main.fct_orders"]),
    "tests/assert_revenue_not_negative.sql": ([], ["main_finance.daily_revenue"]),
}


def lineage_of(root: Path, path: str, dialect: str = "duckdb", **settings) -> FileLineage:
    ctx = RootContext(RootSettings("r", root, dialect=dialect, **settings))
    job = ctx.render.job_for(path)
    return extract_file((root / path).read_bytes(), dialect, None, None, None, job)


def tables(lineage: FileLineage) -> tuple[list[str], list[str]]:
    targets = sorted({t for s in lineage.statements for t in s.targets})
    sources = sorted({t for s in lineage.statements for t in s.sources})
    return targets, sources


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_example_project_relations_and_sources(path: str) -> None:
    lineage = lineage_of(EXAMPLE, path)
    assert lineage.error is None
    assert all(s.error is None for s in lineage.statements)
    assert tables(lineage) == (sorted(EXPECTED[path][0]), sorted(EXPECTED[path][1]))


def test_macro_files_are_context_not_sql() -> None:
    lineage = lineage_of(EXAMPLE, "macros/cents_to_amount.sql")
    assert lineage.statements == () and lineage.error is None


def test_project_macro_renders_for_real() -> None:
    (s,) = lineage_of(EXAMPLE, "models/staging/stg_payments.sql").statements
    amount = {(c.target, c.transform): c.sources for c in s.columns}
    assert amount[("main.stg_payments.amount", "DIRECT/TRANSFORMATION")] == (
        "raw.payment_events.amount_cents",
    )


def test_incremental_model_lineage_includes_both_branches_without_itself() -> None:
    (s,) = lineage_of(EXAMPLE, "models/marts/core/fct_orders.sql").statements
    sources = {src for c in s.expanded_columns() for src in c.sources}
    assert "main.stg_orders.updated_at" in sources  # only the incremental branch filters on it
    assert not any(src.startswith("main.fct_orders.") for src in sources)


def test_seed_header_gives_its_columns() -> None:
    (s,) = lineage_of(EXAMPLE, "seeds/country_codes.csv").statements
    assert s.kind == "create_table" and s.targets == ("main_reference.country_codes",)


def test_target_database_and_schema_come_from_the_root() -> None:
    lineage = lineage_of(
        EXAMPLE, "models/marts/finance/revenue_daily.sql", default_catalog="wh", default_schema="dw"
    )
    assert tables(lineage) == (["wh.dw_finance.daily_revenue"], ["wh.dw.fct_orders"])


# -- constructs, one small project each ------------------------------------------------


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    files = {"dbt_project.yml": "name: p\nconfig-version: 2\n", **files}
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


def test_ref_with_package_and_versions(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "models/orders_v1.sql": "select 1 as id",
            "models/orders_v2.sql": "select 2 as id",
            "models/a.sql": "select id from {{ ref('p', 'orders') }}",
            "models/b.sql": "select id from {{ ref('orders', v=1) }}",
            "models/c.sql": "select id from {{ ref('orders', version=2) }}",
        },
    )
    assert tables(lineage_of(root, "models/a.sql"))[1] == ["main.orders_v2"]  # latest
    assert tables(lineage_of(root, "models/b.sql"))[1] == ["main.orders_v1"]
    assert tables(lineage_of(root, "models/c.sql"))[1] == ["main.orders_v2"]


def test_configs_from_project_properties_and_file_in_dbt_precedence(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "dbt_project.yml": """\
                name: p
                models:
                  p:
                    +schema: from_project
                    sub:
                      +database: other_db
                """,
            "models/sub/x.sql": "select 1 as a",
            "models/sub/y.sql": "{{ config(schema='from_file') }}\nselect a from {{ ref('x') }}",
            "models/sub/props.yml": "models:\n  - name: x\n    config:\n      alias: x_alias\n",
        },
    )
    lineage = lineage_of(root, "models/sub/y.sql")
    assert tables(lineage) == (
        ["other_db.main_from_file.y"],
        ["other_db.main_from_project.x_alias"],
    )


def test_custom_generate_schema_name_macro_is_used(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "macros/schema.sql": """\
                {% macro generate_schema_name(custom_schema_name, node) -%}
                    {%- if custom_schema_name is none -%}{{ target.schema }}
                    {%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
                {%- endmacro %}
                """,
            "models/m.sql": "{{ config(schema='marts') }}\nselect 1 as a",
        },
    )
    assert tables(lineage_of(root, "models/m.sql"))[0] == ["marts.m"]


def test_sources_var_env_var_target_and_this(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LINEAGED_TEST_SCHEMA", "from_env")
    root = project(
        tmp_path,
        {
            "dbt_project.yml": "name: p\nvars:\n  tbl: events\n",
            "models/src.yml": """\
                sources:
                  - name: app
                    database: lake
                    schema: "{{ 'ignored' }}"
                    tables:
                      - name: events
                        identifier: events_v2
                """,
            "models/m.sql": """\
                select e.id, '{{ this }}' as me, '{{ target.name }}' as t
                from {{ source('app', var('tbl')) }} as e
                join {{ env_var('LINEAGED_TEST_SCHEMA') }}.{{ var('other', 'fallback') }} as f
                  on f.id = e.id
                where '{{ env_var('NOT_SET_ANYWHERE', 'dflt') }}' = 'dflt'
                """,
        },
    )
    (s,) = lineage_of(root, "models/m.sql", vars={"other": "configured"}).statements
    assert s.error is None
    assert s.sources == ("from_env.configured", "lake.ignored.events_v2")
    me = next(c for c in s.expanded_columns() if c.target == "main.m.me")
    assert me.sources  # only the join/filter columns: '{{ this }}' rendered to a literal


def test_missing_var_is_an_error_naming_it_and_the_line(tmp_path: Path) -> None:
    root = project(tmp_path, {"models/m.sql": "select 1 as a\nfrom t\nwhere x = {{ var('nope') }}"})
    (s,) = lineage_of(root, "models/m.sql").statements
    assert s.error.startswith("line 3, column 1: template m.sql:")
    assert "nope" in s.error and s.targets == ()


def test_undefined_name_is_an_error_never_a_table(tmp_path: Path) -> None:
    root = project(tmp_path, {"models/m.sql": "select a\nfrom {{ schema_name }}.orders"})
    (s,) = lineage_of(root, "models/m.sql").statements
    assert "schema_name" in s.error and "undefined" in s.error
    assert s.line == 2 and s.sources == ()


def test_unknown_ref_is_an_error(tmp_path: Path) -> None:
    root = project(tmp_path, {"models/m.sql": "select a from {{ ref('ghost') }}"})
    (s,) = lineage_of(root, "models/m.sql").statements
    assert "ref('ghost')" in s.error


def test_syntax_error_in_template_names_the_line(tmp_path: Path) -> None:
    root = project(tmp_path, {"models/m.sql": "select 1\n{% if %}\n"})
    (s,) = lineage_of(root, "models/m.sql").statements
    assert s.error.startswith("line 2, column 1: template m.sql:")


def test_missing_package_macro_is_an_unresolved_marker_not_a_crash(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "models/m.sql": """\
                with spine as (
                    {{ dbt_date.get_date_dimension('2020-01-01', '2021-01-01') }}
                )
                select s.date_day, {{ some_pkg.fancy_hash('o.id') }} as h
                from spine as s join {{ source('raw', 'o') }} as o on o.day = s.date_day
                """,
            "models/s.yml": "sources:\n  - name: raw\n    tables:\n      - name: o\n",
        },
    )
    (s,) = lineage_of(root, "models/m.sql").statements
    assert s.error is None and s.targets == ("main.m",)
    assert s.sources == ("raw.o",)  # the CTE over the missing macro is not a table
    assert {"macro:dbt_date.get_date_dimension", "macro:some_pkg.fancy_hash"} <= set(s.unresolved)
    h = {c.transform: c.sources for c in s.columns if c.target == "main.m.h"}
    assert h["DIRECT/TRANSFORMATION"] == ("raw.o.id",)


def test_adapter_dispatch_picks_the_adapter_implementation(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "macros/m.sql": """\
                {% macro to_day(c) %}{{ return(adapter.dispatch('to_day')(c)) }}{% endmacro %}
                {% macro default__to_day(c) %}cast({{ c }} as date){% endmacro %}
                {% macro snowflake__to_day(c) %}to_date({{ c }}){% endmacro %}
                """,
            "models/m.sql": "select {{ to_day('ts') }} as d from raw.t",
        },
    )
    (s,) = lineage_of(root, "models/m.sql", dialect="snowflake").statements
    assert s.targets == ("MAIN.M",) and s.columns[0].sources == ("RAW.T.TS",)


def test_pure_jinja_model_says_there_is_nothing_to_extract(tmp_path: Path) -> None:
    root = project(tmp_path, {"models/m.sql": "{% set x = 1 %}\n{# nothing here #}\n"})
    lineage = lineage_of(root, "models/m.sql")
    assert lineage.statements == ()
    assert lineage.error == "template models/m.sql renders to no SQL: nothing to extract"


def test_project_that_cannot_be_read_is_a_file_error_not_a_crash(tmp_path: Path) -> None:
    root = project(tmp_path, {"dbt_project.yml": "name: [unclosed\n", "models/m.sql": "select 1"})
    lineage = lineage_of(root, "models/m.sql")
    assert lineage.error.startswith("dbt project not loaded:") and "invalid YAML" in lineage.error


# -- generic Jinja and plain roots ----------------------------------------------------


def test_generic_jinja_uses_configured_vars_and_names_unknown_ones(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("insert into {{ env }}.t select x from {{ env }}.s")
    (tmp_path / "b.sql").write_text("select 1;\nselect x\nfrom {{ missing }}.s")
    a = lineage_of(tmp_path, "a.sql", template="jinja", vars={"env": "prod"})
    assert tables(a) == (["prod.t"], ["prod.s"])
    (b,) = lineage_of(tmp_path, "b.sql", template="jinja", vars={"env": "prod"}).statements
    assert b.error.startswith("line 3, column 1: template b.sql: undefined name:")
    assert "missing" in b.error


def test_plain_root_never_puts_template_text_into_table_names(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("insert into x.t select a from `{{ project }}.ds.src`")
    (s,) = lineage_of(tmp_path, "a.sql", dialect="bigquery").statements
    assert s.error and "template" in s.error
    assert not any("{" in n for n in (*s.targets, *s.sources))


def test_manifest_newer_than_the_model_is_authoritative(tmp_path: Path) -> None:
    import json
    import os

    root = project(
        tmp_path,
        {
            "models/m.sql": "select a from {{ source('s', 't') }}",
            "models/s.yml": "sources:\n  - name: s\n    tables:\n      - name: t\n",
        },
    )
    manifest = root / "target" / "manifest.json"
    manifest.parent.mkdir()
    node = {
        "original_file_path": "models/m.sql",
        "compiled_code": "select a from warehouse.raw_s.t",
        "relation_name": '"warehouse"."prod"."m"',
    }
    manifest.write_text(json.dumps({"nodes": {"model.p.m": node}}))
    model = root / "models" / "m.sql"
    os.utime(model, ns=(1_000_000_000, 1_000_000_000))
    assert tables(lineage_of(root, "models/m.sql")) == (["warehouse.prod.m"], ["warehouse.raw_s.t"])
    # The model edited after dbt compiled it: lineaged renders it itself.
    os.utime(model, ns=(manifest.stat().st_mtime_ns + 10**9,) * 2)
    assert tables(lineage_of(root, "models/m.sql")) == (["main.m"], ["s.t"])
    render = RootContext(RootSettings("r", root)).render
    assert render.is_context_file("target/manifest.json")
    assert render.affected_by(render, "target/manifest.json") == ["models/m.sql"]


def test_seed_header_expands_star_in_the_models_reading_it(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "seeds/codes.csv": "code,label\nA,Alpha\n",
            "models/m.sql": "select * from {{ ref('codes') }}",
        },
    )
    (s,) = lineage_of(root, "models/m.sql").statements
    assert {(c.target, c.sources) for c in s.columns} == {
        ("main.m.code", ("main.codes.code",)),
        ("main.m.label", ("main.codes.label",)),
    }
