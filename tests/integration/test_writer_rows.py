"""The writer's positional rows write exactly the graph the lineage describes.

WRITE_NEW reads every row by position (`f[0]`, `e[2]`, rows.py's layouts) and takes
strings another row holds from there (a Statement's `file`, an edge's `file` and
`statement`, a Column's `table`, a File's root/dialect/version, a transform). A
position that points one slot off writes a well-formed graph with the wrong node at an
edge's end or the wrong string in a property, which no integrity query notices. So the
graph is compared, node by node and relationship by relationship with every property,
with one built here from the lineage alone (README "Graph model"), on both write paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from lineaged.deadletters import DeadLetters
from lineaged.graph.dump import dump_lines, integrity_problems
from lineaged.graph.rows import build_rows
from lineaged.graph.schema import GRAPH_MODEL
from lineaged.graph.writer import GraphWriter
from lineaged.model import ColumnEdge, FileLineage, FileRef, FileUpdate, IndirectEdge
from lineaged.model import StatementLineage as Stmt
from lineaged.qualified import split_column_id

LOAD = Stmt(
    0,
    2,
    "insert",
    ("dw.t",),
    ("raw.s", "raw.d"),
    (
        ColumnEdge("dw.t.a", ("raw.s.a",), "DIRECT/IDENTITY"),
        ColumnEdge('dw.t."x.y"', ("raw.s.a", "raw.d.n"), "DIRECT/TRANSFORMATION"),
    ),
    target_columns=("dw.t.a", 'dw.t."x.y"', "dw.t.flag"),
    indirect=(
        IndirectEdge(("raw.s.k", "raw.d.id"), "INDIRECT/JOIN"),
        IndirectEdge(("raw.s.ds",), "INDIRECT/FILTER"),
    ),
)
MART = Stmt(
    0,
    4,
    "create_table_as",
    ("dw.u",),
    ("dw.t", "raw.s"),
    (ColumnEdge("dw.u.b", ("dw.t.a", "raw.s.a"), "DIRECT/AGGREGATION"),),
    target_columns=("dw.u.b",),
    indirect=(IndirectEdge(("dw.t.flag",), "INDIRECT/GROUP_BY"),),
)
PATCH = Stmt(
    1,
    9,
    "update",
    ("dw.t",),
    ("dw.t",),
    (ColumnEdge("dw.t.a", ("dw.t.a",), "DIRECT/TRANSFORMATION"),),
    target_columns=("dw.t.a",),
    error="line 9, column 3: partly read",
)
PEEK = Stmt(2, 12, "select", (), ("dw.u",), (ColumnEdge("b", ("dw.u.b",), "DIRECT/IDENTITY"),))

UPDATES = [
    FileUpdate(FileRef("r", "gone.sql"), None, "postgres", None),
    FileUpdate(FileRef("r", "load.sql"), "s1", "postgres", FileLineage("postgres", "v1", (LOAD,))),
    FileUpdate(FileRef("r", "bad.sql"), "s2", "postgres", FileLineage("postgres", "v1", (MART,))),
    FileUpdate(
        FileRef("q", "mart.sql"),
        "s3",
        "duckdb",
        FileLineage("duckdb", "v2", (MART, PATCH, PEEK), error="file: partly decoded"),
    ),
    FileUpdate(FileRef("q", "empty.sql"), "s4", "duckdb", FileLineage("duckdb", "v2", ())),
]
FAILURES = {"r:bad.sql": "refused: too big"}


def _node(labels: list[str], key: str, **props: Any) -> dict[str, Any]:
    return {"node": labels, "key": key, "props": {k: v for k, v in props.items() if v is not None}}


def _rel(rel: str, start: str, end: str, **props: Any) -> dict[str, Any]:
    return {"rel": rel, "start": start, "end": end, "props": props}


def expected_graph(updates: list[FileUpdate], failures: dict[str, str]) -> list[str]:
    """The README's graph model, straight from the lineage: what `dump_lines` must say."""
    nodes: dict[str, dict[str, Any]] = {}
    rels: list[dict[str, Any]] = []
    for u in updates:
        lineage, fid = u.lineage, u.ref.id
        if lineage is None:
            continue
        failed = failures.get(fid)
        nodes[fid] = _node(
            ["File"],
            fid,
            id=fid,
            root=u.ref.root,
            path=u.ref.path,
            sha256=None if failed else u.sha256,
            failed_sha256=u.sha256 if failed else None,
            dialect=u.dialect,
            extractor_version=lineage.extractor_version,
            graph_model=GRAPH_MODEL,
            error=failed or lineage.error,
        )
        if failed:
            continue
        for st in lineage.statements:
            sid = f"{fid}#{st.index}"
            nodes[sid] = _node(
                ["Statement"],
                sid,
                id=sid,
                file=fid,
                index=st.index,
                line=st.line,
                kind=st.kind,
                error=st.error,
            )
            rels.append(_rel("CONTAINS", fid, sid))
            for rel, tables in (("READS", st.sources), ("WRITES", st.targets)):
                for table in dict.fromkeys(tables):
                    nodes[table] = _node(["Table"], table, name=table)
                    rels.append(_rel(rel, sid, table))
            if not st.targets:
                continue  # a bare SELECT's output columns are no table's columns
            columns = [*st.target_columns]
            for edge in st.columns:
                columns += [edge.target, *edge.sources]
                rels += [
                    _rel("DERIVES_FROM", edge.target, s, file=fid, statement=sid,
                         transform=edge.transform)
                    for s in edge.sources
                ]  # fmt: skip
            for ind in st.indirect:
                columns += ind.sources
                rels += [
                    _rel("INFLUENCED_BY", sid, s, transform=ind.transform) for s in ind.sources
                ]
            rels += [_rel("WRITTEN_BY", c, sid) for c in st.target_columns]
            for column in columns:
                table, name = split_column_id(column)
                nodes[column] = _node(["Column"], column, id=column, name=name, table=table)
                nodes[table] = _node(["Table"], table, name=table)
    for key, node in list(nodes.items()):
        if node["node"] == ["Column"]:
            rels.append(_rel("HAS_COLUMN", node["props"]["table"], key))
    dumps = [orjson.dumps(x, option=orjson.OPT_SORT_KEYS).decode() for x in nodes.values()]
    return sorted(dumps) + sorted(
        orjson.dumps(x, option=orjson.OPT_SORT_KEYS).decode() for x in rels
    )


@pytest.mark.parametrize("urgent", [False, True], ids=["backfill", "live"])
async def test_the_rows_write_the_graph_the_lineage_describes(
    graph: Any, tmp_path: Path, urgent: bool
) -> None:
    writer = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))
    rows = build_rows(UPDATES, failures=FAILURES)
    assert len(rows.file_meta) == 2 and len(rows.transforms) == 6  # shared, by position
    assert await writer._write_with_retry(rows, urgent) is None
    expected = expected_graph(UPDATES, FAILURES)
    actual = await dump_lines(graph)
    assert [line for line in actual if line not in expected] == []
    assert [line for line in expected if line not in actual] == []
    assert actual == expected  # duplicates too
    assert await integrity_problems(graph) == {}


async def test_a_second_batch_joins_the_nodes_the_first_one_made(
    graph: Any, tmp_path: Path
) -> None:
    """Positions are per transaction: a later batch that MERGEs the same tables and
    columns at other positions must still hang its edges on the right ones."""
    writer = GraphWriter(graph, "neo4j", DeadLetters(tmp_path / "dead.jsonl"))
    first, second = UPDATES[:2], UPDATES[2:]
    assert await writer._write_with_retry(build_rows(first)) is None
    assert await writer._write_with_retry(build_rows(second, failures=FAILURES)) is None
    assert await dump_lines(graph) == expected_graph(UPDATES, FAILURES)
