"""A file's final bare SELECT written into a target given from outside the file (a
path-target rule, a dbt model), and a bare SELECT's own output columns."""

from __future__ import annotations

import pytest

from lineaged.extract import extract


def edges(statement) -> set[tuple[str, str, str]]:
    return {(c.target, s, c.transform) for c in statement.expanded_columns() for s in c.sources}


def test_bare_select_reports_its_output_columns_without_a_table() -> None:
    sql = "SELECT o.id, o.amount * 2 AS doubled FROM sales.orders o"
    (s,) = extract(sql, "postgres").statements
    assert s.kind == "select" and s.targets == ()
    assert edges(s) == {
        ("id", "sales.orders.id", "DIRECT/IDENTITY"),
        ("doubled", "sales.orders.amount", "DIRECT/TRANSFORMATION"),
    }


def test_final_bare_select_becomes_an_insert_into_the_target() -> None:
    sql = "SELECT c.id, COUNT(*) AS n FROM raw.clicks c WHERE c.ok GROUP BY c.id"
    promoted = extract(sql, "bigquery", target="proj.ds.daily").statements[0]
    explicit = extract(f"INSERT INTO proj.ds.daily {sql}", "bigquery").statements[0]
    assert promoted.kind == "insert" and promoted.targets == ("proj.ds.daily",)
    assert promoted.sources == explicit.sources == ("raw.clicks",)
    assert promoted.columns == explicit.columns
    assert ("proj.ds.daily.id", "raw.clicks.ok", "INDIRECT/FILTER") in edges(promoted)


def test_only_the_last_select_is_promoted_and_temp_tables_still_resolve() -> None:
    sql = "CREATE TEMP TABLE t AS SELECT id, v FROM src.a;\nSELECT 1 AS probe;\nSELECT id, v FROM t"
    s = extract(sql, "bigquery", target="ds.out").statements
    assert [x.kind for x in s] == ["create_table_as", "select", "insert"]
    assert s[2].targets == ("ds.out",) and s[2].sources == ("src.a",)
    assert ("ds.out.v", "src.a.v", "DIRECT/IDENTITY") in edges(s[2])


def test_files_with_their_own_target_are_unaffected() -> None:
    sql = "INSERT INTO dw.x SELECT a FROM s.y;\nSELECT count(*) AS n FROM dw.x"
    with_rule = extract(sql, "postgres", target="dw.other")
    assert with_rule == extract(sql, "postgres")


def test_target_is_folded_like_the_dialect_and_gets_defaults() -> None:
    s = extract("SELECT a FROM raw.t", "snowflake", target="marts.orders").statements[0]
    assert s.targets == ("MARTS.ORDERS",)
    assert s.columns[0].target == "MARTS.ORDERS.A"
    s = extract("SELECT a FROM raw.t", "postgres", target="orders", default_schema="dw")
    assert s.statements[0].targets == ("dw.orders",)


def test_unnamed_outputs_are_unresolved_on_the_target() -> None:
    s = extract("SELECT a + 1 FROM raw.t", "postgres", target="dw.x").statements[0]
    assert s.unresolved == ("dw.x.?1",)
    assert extract("SELECT a + 1 FROM raw.t", "postgres").statements[0].unresolved == ("?1",)


def test_a_select_with_an_error_is_not_promoted() -> None:
    s = extract("SELECT a FROM (", "postgres", target="dw.x").statements[0]
    assert s.error and s.targets == ()


@pytest.mark.parametrize("bad", ["a.b.c.d", "."])
def test_malformed_target_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(ValueError, match="target"):
        extract("SELECT 1", "postgres", target=bad)


def test_the_target_is_defined_for_the_corpus_with_the_select_outputs_in_order() -> None:
    lineage = extract("SELECT b, a AS z FROM raw.t", "postgres", target="dw.x")
    (table,) = lineage.defines
    assert table.table == "dw.x"
    assert [c for c, _type in table.columns] == ["b", "z"]
    # Columns behind an unexpanded star are unknown: nothing is defined.
    assert extract("SELECT * FROM raw.t", "postgres", target="dw.x").defines == ()
    # Without a target a bare SELECT defines nothing.
    assert extract("SELECT b FROM raw.t", "postgres").defines == ()
