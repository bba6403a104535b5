"""The HTML lineage page (lineaged/export/html_view.py) and its graph-row folding; no
browser, no Neo4j. tests/integration/test_lineage_html.py renders it in Chromium."""

from __future__ import annotations

import re

from lineaged.export.graph_read import table_view
from lineaged.export.html_view import render_html
from lineaged.export.records import ColumnInput, ColumnRef, TableView
from lineaged.graph.lineage import Edge


def _view(**columns: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {k.replace("__", "."): v for k, v in columns.items()}


VIEW = TableView(
    columns=_view(raw__a=("id", "amount", "flag"), stg__b=("id", "amount"), mart__c=("total",)),
    column_inputs=(
        ColumnInput(ColumnRef("stg.b", "id"), ColumnRef("raw.a", "id"), "DIRECT/IDENTITY"),
        ColumnInput(ColumnRef("stg.b", "amount"), ColumnRef("raw.a", "amount"), "DIRECT/IDENTITY"),
        ColumnInput(
            ColumnRef("mart.c", "total"), ColumnRef("stg.b", "amount"), "DIRECT/AGGREGATION"
        ),
        ColumnInput(ColumnRef("mart.c", "total"), ColumnRef("stg.b", "id"), "INDIRECT/CONDITIONAL"),
    ),
    influences=(("stg.b", ColumnRef("raw.a", "flag"), "INDIRECT/FILTER"),),
)
EDGES = [Edge("stg.b", "mart.c", 1, ("wh:c.sql",)), Edge("raw.a", "stg.b", 2, ("wh:b.sql",))]


def test_page_has_every_table_column_and_edge() -> None:
    page = render_html("upstream", "mart.c", EDGES, VIEW)
    assert set(re.findall(r'data-table="([^"]+)"', page)) == {"raw.a", "stg.b", "mart.c"}
    assert '<g class="table center" data-table="mart.c">' in page
    cols = set(re.findall(r'<g class="col" data-id="([^"]+)"', page))
    assert cols == {
        "raw.a.id",
        "raw.a.amount",
        "raw.a.flag",
        "stg.b.id",
        "stg.b.amount",
        "mart.c.total",
    }
    edges = re.findall(
        r'<path class="edge (direct|indirect)[^"]*" data-from="([^"]+)" data-to="([^"]+)"', page
    )
    assert sorted(edges) == [
        ("direct", "raw.a.amount", "stg.b.amount"),
        ("direct", "raw.a.id", "stg.b.id"),
        ("direct", "stg.b.amount", "mart.c.total"),
        ("indirect", "stg.b.id", "mart.c.total"),
    ]
    assert page.count('<path class="table-edge"') == 2
    # Statement-wide influence is listed on the table it shapes, not drawn per column.
    assert "FILTER raw.a.flag" in page


def test_layers_run_from_upstream_to_name() -> None:
    page = render_html("upstream", "mart.c", EDGES, VIEW)
    x = {
        t: float(v)
        for t, v in re.findall(r'data-table="([^"]+)"><rect class="body" x="([0-9.]+)"', page)
    }
    assert x["raw.a"] < x["stg.b"] < x["mart.c"]
    down = render_html(
        "downstream",
        "raw.a",
        [Edge("raw.a", "stg.b", 1), Edge("stg.b", "mart.c", 2)],
        VIEW,
    )
    x = {
        t: float(v)
        for t, v in re.findall(r'data-table="([^"]+)"><rect class="body" x="([0-9.]+)"', down)
    }
    assert x["raw.a"] < x["stg.b"] < x["mart.c"]


def test_self_contained_and_escaped() -> None:
    evil = TableView(
        columns={'x."<script>alert(1)</script>"': ("a&b",)}, column_inputs=(), influences=()
    )
    page = render_html("upstream", 'x."<script>alert(1)</script>"', [], evil)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a&amp;b" in page
    # Nothing to fetch: no external scripts, styles, fonts or images.
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    assert "url(" not in page and "@import" not in page
    assert page.count("<script>") == 1 and page.count("<style>") == 1


def test_column_mode_highlights_the_asked_chain() -> None:
    edges = [Edge("stg.b.amount", "mart.c.total", 1), Edge("raw.a.amount", "stg.b.amount", 2)]
    page = render_html("upstream", "mart.c.total", edges, VIEW, column=True)
    marked = re.findall(
        r'<path class="edge [a-z]+ query" data-from="([^"]+)" data-to="([^"]+)"', page
    )
    assert sorted(marked) == [("raw.a.amount", "stg.b.amount"), ("stg.b.amount", "mart.c.total")]
    assert '<g class="table center" data-table="mart.c">' in page


def test_wide_tables_show_the_columns_with_edges() -> None:
    wide = TableView(
        columns={"raw.a": tuple(f"c{i:03}" for i in range(100)), "stg.b": ("x",)},
        column_inputs=(
            ColumnInput(ColumnRef("stg.b", "x"), ColumnRef("raw.a", "c042"), "DIRECT/IDENTITY"),
        ),
        influences=(),
    )
    page = render_html("upstream", "stg.b", [Edge("raw.a", "stg.b", 1)], wide)
    assert re.findall(r'data-id="raw\.a\.([^"]+)"', page) == ["c042"]
    assert "99 more columns" in page


def test_table_view_folds_model1_statement_wide_edges() -> None:
    rows = [
        {
            "target_table": "t",
            "target": c,
            "source_table": "s",
            "source": "k",
            "transform": "INDIRECT/JOIN",
        }
        for c in ("x", "y", "z")
    ] + [
        {
            "target_table": "t",
            "target": "x",
            "source_table": "s",
            "source": "x",
            "transform": "DIRECT/IDENTITY",
        }
    ]
    view = table_view({"t": ("x", "y", "z"), "s": ("k", "x")}, rows, [])
    assert view.influences == (("t", ColumnRef("s", "k"), "INDIRECT/JOIN"),)
    assert view.column_inputs == (
        ColumnInput(ColumnRef("t", "x"), ColumnRef("s", "x"), "DIRECT/IDENTITY"),
    )
    model2 = table_view(
        {},
        [],
        [{"target_table": "t", "source_table": "s", "source": "k", "transform": "INDIRECT/JOIN"}],
    )
    assert model2.influences == view.influences
