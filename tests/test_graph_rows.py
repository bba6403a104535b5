"""Writer rows for graph model 2: statement-wide influence once per statement."""

from __future__ import annotations

import gc

from lineaged.graph.rows import WriteRows, build_rows
from lineaged.model import ColumnEdge, FileLineage, FileRef, FileUpdate, IndirectEdge
from lineaged.model import StatementLineage as Stmt


def _update(*statements: Stmt) -> FileUpdate:
    return FileUpdate(
        FileRef("r", "a.sql"), "s", "postgres", FileLineage("postgres", "v", statements)
    )


FILTERED = Stmt(
    0,
    1,
    "insert",
    ("dw.t",),
    ("raw.s",),
    (ColumnEdge("dw.t.a", ("raw.s.a",), "DIRECT/IDENTITY"),),
    target_columns=("dw.t.a", "dw.t.flag"),
    indirect=(
        IndirectEdge(("raw.s.k", "raw.s.z"), "INDIRECT/FILTER"),
        IndirectEdge(("raw.s.a",), "INDIRECT/SORT"),
    ),
)


def _column(rows: WriteRows, pos: int) -> str:
    return rows.columns[pos]["id"]


def _statement(rows: WriteRows, pos: int) -> str:
    return rows.statements[pos]["id"]


def test_statement_wide_edges_are_written_once_not_per_column() -> None:
    rows = build_rows([_update(FILTERED)])
    assert [(_column(rows, e["t"]), _column(rows, e["s"])) for e in rows.column_edges] == [
        ("dw.t.a", "raw.s.a")
    ]
    assert [(_column(rows, e["s"]), e["transform"]) for e in rows.influences] == [
        ("raw.s.a", "INDIRECT/SORT"),
        ("raw.s.k", "INDIRECT/FILTER"),
        ("raw.s.z", "INDIRECT/FILTER"),
    ]
    written = {c["id"]: [_statement(rows, s) for s in c["w"]] for c in rows.columns}
    assert written == {
        "dw.t.a": ["r:a.sql#0"],
        "dw.t.flag": ["r:a.sql#0"],  # a literal column: no own edge, still influenced
        "raw.s.a": [],
        "raw.s.k": [],
        "raw.s.z": [],
    }
    assert [c["id"] for c in rows.columns] == sorted(written)  # one lock order
    assert rows.tables == ["dw.t", "raw.s"]  # one lock order
    assert [e["rel"] for e in rows.table_edges] == ["WRITES", "READS"]  # by table name
    assert [rows.tables[c["t"]] for c in rows.columns] == [c["table"] for c in rows.columns]


def test_expanded_columns_is_the_per_column_view() -> None:
    expanded = {(e.target, e.transform): e.sources for e in FILTERED.expanded_columns()}
    assert expanded == {
        ("dw.t.a", "DIRECT/IDENTITY"): ("raw.s.a",),
        ("dw.t.a", "INDIRECT/FILTER"): ("raw.s.k", "raw.s.z"),
        ("dw.t.a", "INDIRECT/SORT"): ("raw.s.a",),
        ("dw.t.flag", "INDIRECT/FILTER"): ("raw.s.k", "raw.s.z"),
        ("dw.t.flag", "INDIRECT/SORT"): ("raw.s.a",),
    }


def test_json_round_trip_keeps_the_statement_list() -> None:
    lineage = _update(FILTERED).lineage
    assert lineage is not None
    data = lineage.to_dict()
    assert data["statements"][0]["indirect"][0] == {
        "sources": ["raw.s.k", "raw.s.z"],
        "transform": "INDIRECT/FILTER",
    }
    assert FileLineage.from_dict(data) == lineage


def test_a_statement_reaches_each_table_once_per_relationship() -> None:
    """The writer CREATEs READS/WRITES edges (a statement is always new), so a table
    named twice must still give one row per (statement, table, rel)."""
    lineage = FileLineage(
        "postgres",
        "1",
        (Stmt(0, 1, "INSERT", ("mart.t", "mart.t"), ("raw.a", "raw.a", "mart.t")),),
    )
    rows = build_rows([FileUpdate(FileRef("r", "a.sql"), "sha", "postgres", lineage)])
    assert sorted((rows.tables[e["t"]], e["rel"]) for e in rows.table_edges) == [
        ("mart.t", "READS"),
        ("mart.t", "WRITES"),
        ("raw.a", "READS"),
    ]


def test_a_file_the_graph_never_held_has_nothing_to_delete_until_a_retry() -> None:
    new = FileUpdate(
        FileRef("r", "new.sql"),
        "s",
        "postgres",
        FileLineage("postgres", "v", (FILTERED,)),
        in_graph=False,
    )
    gone = FileUpdate(FileRef("r", "gone.sql"), None, "postgres", None)
    rows = build_rows([_update(FILTERED), new, gone])
    assert rows.delete_ids == ["r:a.sql", "r:gone.sql"]
    assert rows.new_ids == ["r:new.sql"]
    assert [f["id"] for f in rows.files] == ["r:a.sql", "r:new.sql"]
    # A retry cannot know whether the failed attempt's commit landed: it deletes first.
    retry = rows.replacing_all()
    assert sorted(retry.delete_ids) == ["r:a.sql", "r:gone.sql", "r:new.sql"]
    assert retry.new_ids == [] and retry.files == rows.files


def test_building_rows_sets_off_no_collection_and_leaves_the_collector_on() -> None:
    """~20 dicts per file: with the collector on, its passes over the daemon's heap took
    about half of build_rows in a rebuild. Rows hold no cycles: it is paused inside."""
    updates = [
        FileUpdate(FileRef("r", f"f{i}.sql"), "s", "postgres", _update(FILTERED).lineage)
        for i in range(1000)
    ]
    collections: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        rows = build_rows(updates)
    finally:
        gc.callbacks.remove(count)
    assert len(rows.statements) == 1000
    assert len(collections) <= 1  # once, on the young objects, after the pause
    assert gc.isenabled()


def test_every_row_names_its_nodes_by_their_position_in_the_node_lists() -> None:
    """WRITE_NEW joins edges to the nodes it collected, by position: a position off by
    one would hang an edge on another file's statement or another column, silently.
    Several files (one removed, one recorded as failed, in between) and a shared
    source table: every position must lead back to what the lineage names."""
    other = Stmt(
        0,
        3,
        "insert",
        ("dw.u",),
        ("raw.s", "dw.t"),
        (ColumnEdge("dw.u.b", ("raw.s.a", "dw.t.a"), "DIRECT/TRANSFORMATION"),),
        target_columns=("dw.u.b",),
        indirect=(IndirectEdge(("raw.s.k",), "INDIRECT/JOIN"),),
    )
    second = Stmt(1, 9, "insert", ("dw.t",), ("raw.s",), target_columns=("dw.t.a",))
    updates = [
        FileUpdate(FileRef("r", "gone.sql"), None, "postgres", None),
        _update(FILTERED),
        FileUpdate(
            FileRef("r", "bad.sql"), "x", "postgres", FileLineage("postgres", "v", (other,))
        ),
        FileUpdate(
            FileRef("r", "b.sql"), "y", "postgres", FileLineage("postgres", "v", (other, second))
        ),
    ]
    rows = build_rows(updates, failures={"r:bad.sql": "refused"})
    assert [f["id"] for f in rows.files] == ["r:a.sql", "r:bad.sql", "r:b.sql"]
    assert [(s["id"], rows.files[s["f"]]["id"]) for s in rows.statements] == [
        ("r:a.sql#0", "r:a.sql"),
        ("r:b.sql#0", "r:b.sql"),
        ("r:b.sql#1", "r:b.sql"),
    ]
    assert sorted(
        (_statement(rows, e["s"]), rows.tables[e["t"]], e["rel"]) for e in rows.table_edges
    ) == [
        ("r:a.sql#0", "dw.t", "WRITES"),
        ("r:a.sql#0", "raw.s", "READS"),
        ("r:b.sql#0", "dw.t", "READS"),
        ("r:b.sql#0", "dw.u", "WRITES"),
        ("r:b.sql#0", "raw.s", "READS"),
        ("r:b.sql#1", "dw.t", "WRITES"),
        ("r:b.sql#1", "raw.s", "READS"),
    ]
    assert [rows.tables[e["t"]] for e in rows.table_edges] == sorted(
        rows.tables[e["t"]] for e in rows.table_edges
    )  # edges to shared tables in one lock order
    assert {c["id"]: [_statement(rows, s) for s in c["w"]] for c in rows.columns} == {
        "dw.t.a": ["r:a.sql#0", "r:b.sql#1"],
        "dw.t.flag": ["r:a.sql#0"],
        "dw.u.b": ["r:b.sql#0"],
        "raw.s.a": [],
        "raw.s.k": [],
        "raw.s.z": [],
    }
    assert [
        (_column(rows, e["t"]), _column(rows, e["s"]), _statement(rows, e["st"]))
        for e in rows.column_edges
    ] == [
        ("dw.t.a", "raw.s.a", "r:a.sql#0"),
        ("dw.u.b", "dw.t.a", "r:b.sql#0"),
        ("dw.u.b", "raw.s.a", "r:b.sql#0"),
    ]
    assert [(_column(rows, e["s"]), _statement(rows, e["st"])) for e in rows.influences] == [
        ("raw.s.a", "r:a.sql#0"),
        ("raw.s.k", "r:a.sql#0"),
        ("raw.s.k", "r:b.sql#0"),
        ("raw.s.z", "r:a.sql#0"),
    ]
