"""Writer rows for graph model 2: statement-wide influence once per statement."""

from __future__ import annotations

import gc

from lineaged.graph import rows as r
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
    return rows.columns[r.COLUMN_ID][pos]


def _statement(rows: WriteRows, pos: int) -> str:
    return rows.statements[pos][r.STATEMENT_ID]


def _transform(rows: WriteRows, pos: int) -> str:
    return rows.transforms[pos]


def _written_by(rows: WriteRows) -> dict[str, list[str]]:
    bounds, writers = rows.columns[r.COLUMN_BOUNDS], rows.columns[r.COLUMN_WRITERS]
    return {
        column: [_statement(rows, s) for s in writers[bounds[i] : bounds[i + 1]]]
        for i, column in enumerate(rows.columns[r.COLUMN_ID])
    }


def _columns(rows: WriteRows) -> list[tuple[str, int, str]]:
    """(id, table position, name) per column (parallel lists)."""
    return list(zip(*rows.columns[: r.COLUMN_BOUNDS], strict=True))


def test_statement_wide_edges_are_written_once_not_per_column() -> None:
    rows = build_rows([_update(FILTERED)])
    assert [
        (_column(rows, e[r.EDGE_TARGET]), _column(rows, e[r.EDGE_SOURCE]))
        for e in zip(*rows.column_edges, strict=True)
    ] == [("dw.t.a", "raw.s.a")]
    assert [
        (_column(rows, e[r.INFLUENCE_SOURCE]), _transform(rows, e[r.INFLUENCE_TRANSFORM]))
        for e in zip(*rows.influences, strict=True)
    ] == [
        ("raw.s.a", "INDIRECT/SORT"),
        ("raw.s.k", "INDIRECT/FILTER"),
        ("raw.s.z", "INDIRECT/FILTER"),
    ]
    written = _written_by(rows)
    assert written == {
        "dw.t.a": ["r:a.sql#0"],
        "dw.t.flag": ["r:a.sql#0"],  # a literal column: no own edge, still influenced
        "raw.s.a": [],
        "raw.s.k": [],
        "raw.s.z": [],
    }
    assert rows.column_ids() == sorted(written)  # one lock order
    assert rows.tables == ["dw.t", "raw.s"]  # one lock order
    assert [e[r.TABLE_EDGE_REL] for e in rows.table_edges] == ["WRITES", "READS"]  # by table
    assert [(rows.tables[c[r.COLUMN_TABLE]], c[r.COLUMN_NAME]) for c in _columns(rows)] == [
        ("dw.t", "a"),
        ("dw.t", "flag"),
        ("raw.s", "a"),
        ("raw.s", "k"),
        ("raw.s", "z"),
    ]


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
    assert sorted(
        (rows.tables[e[r.TABLE_EDGE_TABLE]], e[r.TABLE_EDGE_REL]) for e in rows.table_edges
    ) == [
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
    assert [f[r.FILE_ID] for f in rows.files] == ["r:a.sql", "r:new.sql"]
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


def _graph(rows: WriteRows) -> dict[str, object]:
    """What WRITE_NEW makes of `rows`, read back through the row layouts: every
    position replaced by the node or string it names."""
    meta = [rows.file_meta[f[r.FILE_META]] for f in rows.files]
    files = {
        f[r.FILE_ID]: (
            m[r.META_ROOT],
            f[r.FILE_PATH],
            f[r.FILE_SHA256],
            f[r.FILE_FAILED_SHA256],
            m[r.META_DIALECT],
            m[r.META_EXTRACTOR_VERSION],
            m[r.META_GRAPH_MODEL],
            f[r.FILE_ERROR],
        )
        for f, m in zip(rows.files, meta, strict=True)
    }

    def file_of(statement: int) -> str:
        return rows.files[rows.statements[statement][r.STATEMENT_FILE]][r.FILE_ID]

    return {
        "files": files,
        "statements": [
            (
                s[r.STATEMENT_ID],
                file_of(i),
                s[r.STATEMENT_INDEX],
                s[r.STATEMENT_LINE],
                s[r.STATEMENT_KIND],
                s[r.STATEMENT_ERROR],
            )
            for i, s in enumerate(rows.statements)
        ],
        "table_edges": sorted(
            (
                _statement(rows, e[r.TABLE_EDGE_STATEMENT]),
                e[r.TABLE_EDGE_REL],
                rows.tables[e[r.TABLE_EDGE_TABLE]],
            )
            for e in rows.table_edges
        ),
        "columns": [
            (c[r.COLUMN_ID], rows.tables[c[r.COLUMN_TABLE]], c[r.COLUMN_NAME])
            for c in _columns(rows)
        ],
        "written_by": _written_by(rows),
        "column_edges": [
            (
                _column(rows, e[r.EDGE_TARGET]),
                _column(rows, e[r.EDGE_SOURCE]),
                file_of(e[r.EDGE_STATEMENT]),
                _statement(rows, e[r.EDGE_STATEMENT]),
                _transform(rows, e[r.EDGE_TRANSFORM]),
            )
            for e in zip(*rows.column_edges, strict=True)
        ],
        "influences": [
            (
                _statement(rows, e[r.INFLUENCE_STATEMENT]),
                _column(rows, e[r.INFLUENCE_SOURCE]),
                _transform(rows, e[r.INFLUENCE_TRANSFORM]),
            )
            for e in zip(*rows.influences, strict=True)
        ],
    }


def test_every_row_names_its_nodes_by_their_position_in_the_node_lists() -> None:
    """WRITE_NEW joins edges to the nodes it collected, by position, and takes the
    strings another row already holds from there: a position off by one would hang an
    edge on another file's statement or another column, or give a node another's
    property, silently. Several files of two roots and two extractor versions (one
    removed, one recorded as failed, in between), a shared source table, a quoted
    column: every position must lead back to what the lineage names."""
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
    second = Stmt(
        1,
        9,
        "update",
        ("dw.t",),
        ("raw.s",),
        (ColumnEdge('dw.t."x.y"', ("raw.s.a",), "DIRECT/IDENTITY"),),
        target_columns=("dw.t.a", 'dw.t."x.y"'),
        error="line 9, column 1: partly read",
    )
    updates = [
        FileUpdate(FileRef("r", "gone.sql"), None, "postgres", None),
        _update(FILTERED),
        FileUpdate(
            FileRef("r", "bad.sql"), "x", "postgres", FileLineage("postgres", "v", (other,))
        ),
        FileUpdate(
            FileRef("q", "b.sql"), "y", "duckdb", FileLineage("duckdb", "v2", (other, second))
        ),
    ]
    rows = build_rows(updates, failures={"r:bad.sql": "refused"})
    assert _graph(rows) == {
        "files": {
            "r:a.sql": ("r", "a.sql", "s", None, "postgres", "v", 2, None),
            "r:bad.sql": ("r", "bad.sql", None, "x", "postgres", "v", 2, "refused"),
            "q:b.sql": ("q", "b.sql", "y", None, "duckdb", "v2", 2, None),
        },
        "statements": [
            ("r:a.sql#0", "r:a.sql", 0, 1, "insert", None),
            ("q:b.sql#0", "q:b.sql", 0, 3, "insert", None),
            ("q:b.sql#1", "q:b.sql", 1, 9, "update", "line 9, column 1: partly read"),
        ],
        "table_edges": [
            ("q:b.sql#0", "READS", "dw.t"),
            ("q:b.sql#0", "READS", "raw.s"),
            ("q:b.sql#0", "WRITES", "dw.u"),
            ("q:b.sql#1", "READS", "raw.s"),
            ("q:b.sql#1", "WRITES", "dw.t"),
            ("r:a.sql#0", "READS", "raw.s"),
            ("r:a.sql#0", "WRITES", "dw.t"),
        ],
        "columns": [
            ('dw.t."x.y"', "dw.t", "x.y"),
            ("dw.t.a", "dw.t", "a"),
            ("dw.t.flag", "dw.t", "flag"),
            ("dw.u.b", "dw.u", "b"),
            ("raw.s.a", "raw.s", "a"),
            ("raw.s.k", "raw.s", "k"),
            ("raw.s.z", "raw.s", "z"),
        ],
        "written_by": {
            'dw.t."x.y"': ["q:b.sql#1"],
            "dw.t.a": ["r:a.sql#0", "q:b.sql#1"],
            "dw.t.flag": ["r:a.sql#0"],
            "dw.u.b": ["q:b.sql#0"],
            "raw.s.a": [],
            "raw.s.k": [],
            "raw.s.z": [],
        },
        "column_edges": [
            ('dw.t."x.y"', "raw.s.a", "q:b.sql", "q:b.sql#1", "DIRECT/IDENTITY"),
            ("dw.t.a", "raw.s.a", "r:a.sql", "r:a.sql#0", "DIRECT/IDENTITY"),
            ("dw.u.b", "dw.t.a", "q:b.sql", "q:b.sql#0", "DIRECT/TRANSFORMATION"),
            ("dw.u.b", "raw.s.a", "q:b.sql", "q:b.sql#0", "DIRECT/TRANSFORMATION"),
        ],
        "influences": [
            ("r:a.sql#0", "raw.s.a", "INDIRECT/SORT"),
            ("r:a.sql#0", "raw.s.k", "INDIRECT/FILTER"),
            ("q:b.sql#0", "raw.s.k", "INDIRECT/JOIN"),
            ("r:a.sql#0", "raw.s.z", "INDIRECT/FILTER"),
        ],
    }
    assert [f[r.FILE_META] for f in rows.files] == [0, 0, 1]  # one meta row per kind
    # Shared nodes are locked in one global order: tables and columns by name, edges by
    # the shared node they lock.
    assert rows.tables == sorted(rows.tables)
    assert rows.column_ids() == sorted(rows.column_ids())
    assert [e[r.TABLE_EDGE_TABLE] for e in rows.table_edges] == sorted(
        e[r.TABLE_EDGE_TABLE] for e in rows.table_edges
    )
    assert [e[: r.EDGE_SOURCE + 1] for e in zip(*rows.column_edges, strict=True)] == sorted(
        e[: r.EDGE_SOURCE + 1] for e in zip(*rows.column_edges, strict=True)
    )
    assert [e[r.INFLUENCE_SOURCE] for e in zip(*rows.influences, strict=True)] == sorted(
        e[r.INFLUENCE_SOURCE] for e in zip(*rows.influences, strict=True)
    )


def test_rows_are_lists_not_tuples_or_maps() -> None:
    """A dict sends its keys with every row, and the driver packs a tuple only through
    a Python hook, if at all: everything the writer sends is a list (of lists, for
    row-wise kinds and parallel lists alike) or a string."""
    params = build_rows([_update(FILTERED)]).write_new_params()
    for name, values in params.items():
        assert isinstance(values, list), name
        for row in values:
            assert isinstance(row, list | str), (name, row)
