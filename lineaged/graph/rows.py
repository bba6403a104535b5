"""FileUpdates → parameter rows for the writer's UNWIND queries (pure, unit-tested)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lineaged.gcpause import gc_paused
from lineaged.graph.schema import GRAPH_MODEL
from lineaged.model import FileUpdate
from lineaged.qualified import split_column_id


@dataclass
class WriteRows:
    delete_ids: list[str] = field(default_factory=list)  # files whose old lineage goes
    # Files the graph held nothing of when the pipeline asked (FileUpdate.in_graph):
    # written without a delete first. A rebuild or cold ingest deletes nothing.
    new_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)  # files deleted from disk
    # WRITE_NEW makes each File, Statement, Table and Column node once and collects
    # them into lists in the order of these lists; every other row names its nodes by
    # their POSITION in them (`f`, `s`, `t`, `c` below), never by id: a seek by id per
    # edge end was ~30 % of Neo4j's CPU in a rebuild (queries.py).
    files: list[dict[str, Any]] = field(default_factory=list)
    # Statements, each with its file's position in `files` (`f`).
    statements: list[dict[str, Any]] = field(default_factory=list)
    # Distinct table names, sorted (one global lock order).
    tables: list[str] = field(default_factory=list)
    # Statement -> Table, READS and WRITES in one list (`rel`), in table order:
    # {"s": statement position, "t": table position, "rel"}.
    table_edges: list[dict[str, Any]] = field(default_factory=list)
    # Distinct columns sorted by id, each with its table's position (`t`) and the
    # positions of the statements that write it (`w`).
    columns: list[dict[str, Any]] = field(default_factory=list)
    # {"t": target column position, "s": source column position, "st": statement
    # position (its file and id become the edge's properties), transform}, in
    # (target, source) order.
    column_edges: list[dict[str, Any]] = field(default_factory=list)
    # Statement-wide influence: {"st": statement position, "s": source column
    # position, transform}, in source order.
    influences: list[dict[str, Any]] = field(default_factory=list)
    # Orphan candidates known up front (the start-up sweep), besides those the
    # deletion of old lineage reports.
    orphan_columns: list[str] = field(default_factory=list)
    orphan_tables: list[str] = field(default_factory=list)

    def replacing_all(self) -> WriteRows:
        """The same write with every file's old lineage deleted first. After a transient
        failure a commit may have landed unseen, so "nothing to delete" no longer holds
        for the retry."""
        if not self.new_ids:
            return self
        return replace(self, delete_ids=self.delete_ids + self.new_ids, new_ids=[])

    def write_new_params(self) -> dict[str, Any]:
        """Parameters of queries.WRITE_NEW."""
        return {
            "files": self.files,
            "statements": self.statements,
            "tables": self.tables,
            "table_edges": self.table_edges,
            "columns": self.columns,
            "column_edges": self.column_edges,
            "influences": self.influences,
        }

    @property
    def row_count(self) -> int:
        """UNWIND rows sent (a column's `w` list rides on its one row; a table name is
        counted with the rows that name it)."""
        return (
            len(self.delete_ids)
            + len(self.files)
            + len(self.statements)
            + len(self.table_edges)
            + len(self.columns)
            + len(self.column_edges)
            + len(self.influences)
        )

    @property
    def element_count(self) -> int:
        """Nodes and relationships these rows write at most (File, Statement + CONTAINS,
        READS/WRITES, Column + HAS_COLUMN, WRITTEN_BY, DERIVES_FROM, INFLUENCED_BY):
        the graph-size measure next to `row_count`."""
        return (
            len(self.files)
            + 2 * len(self.statements)
            + len(self.table_edges)
            + 2 * len(self.columns)
            + sum(len(c["w"]) for c in self.columns)
            + len(self.column_edges)
            + len(self.influences)
        )


def update_rows(update: FileUpdate) -> int:
    """Rows one update contributes; used to size transactions by a row budget."""
    if update.lineage is None:
        return 1
    n = 2
    for st in update.lineage.statements:
        n += 1 + len(st.targets) + len(st.sources) + len(st.target_columns)
        n += sum(len(c.sources) for c in st.columns)
        n += sum(len(i.sources) for i in st.indirect)
    return n


def build_rows(updates: Sequence[FileUpdate], failures: dict[str, str] | None = None) -> WriteRows:
    """`failures` maps file id → error for files recorded as failed (no lineage)."""
    # ~20 dicts per file: with the collector on, its passes over the daemon's whole heap
    # took about half of this function's time in a rebuild. Rows hold no cycles.
    with gc_paused():
        return _build_rows(updates, failures)


def _build_rows(updates: Sequence[FileUpdate], failures: dict[str, str] | None) -> WriteRows:
    rows = WriteRows()
    # A column typically appears in many edges: MERGE each once (with the statements
    # that write it), then edges name both ends by position. Rows are made with ids
    # first and turned into positions once every table and column is known.
    written_by: dict[str, list[int]] = {}
    table_edges: list[tuple[str, str, int]] = []
    column_edges: list[tuple[str, str, int, str]] = []
    influences: list[tuple[str, int, str]] = []
    for u in updates:
        fid = u.ref.id
        lineage = u.lineage
        failed = (failures or {}).get(fid)
        # Written as new only when its statements would clash with any left over
        # (Statement ids are unique): a wrong "nothing there" then fails loudly and the
        # writer retries it as a replace instead of leaving old lineage behind.
        new = not u.in_graph and lineage is not None and bool(lineage.statements) and not failed
        (rows.new_ids if new else rows.delete_ids).append(fid)
        if lineage is None:
            rows.removed_ids.append(fid)
            continue
        file_pos = len(rows.files)
        rows.files.append(
            {
                "id": fid,
                "root": u.ref.root,
                "path": u.ref.path,
                "sha256": None if failed else u.sha256,
                "failed_sha256": u.sha256 if failed else None,
                "dialect": u.dialect,
                "extractor_version": lineage.extractor_version,
                "graph_model": GRAPH_MODEL,
                "error": failed or lineage.error,
            }
        )
        if failed:
            continue
        for st in lineage.statements:
            sid = f"{fid}#{st.index}"
            pos = len(rows.statements)
            rows.statements.append(
                {
                    "id": sid,
                    "file": fid,
                    "f": file_pos,
                    "index": st.index,
                    "line": st.line,
                    "kind": st.kind,
                    "error": st.error,
                }
            )
            # Once per (statement, table, rel): the writer CREATEs these edges.
            table_edges.extend((t, "READS", pos) for t in dict.fromkeys(st.sources))
            table_edges.extend((t, "WRITES", pos) for t in dict.fromkeys(st.targets))
            if not st.targets:
                # A bare SELECT's columns name outputs, not table columns: the graph
                # has no Column to hang them on (the JSON contract still reports them).
                continue
            for column in st.target_columns:
                written_by.setdefault(column, []).append(pos)
            for edge in st.columns:
                written_by.setdefault(edge.target, [])
                for source in edge.sources:
                    written_by.setdefault(source, [])
                    column_edges.append((edge.target, source, pos, edge.transform))
            for ind in st.indirect:
                for source in ind.sources:
                    written_by.setdefault(source, [])
                    influences.append((source, pos, ind.transform))
    # Taking locks on shared Table/Column nodes in one global order keeps concurrent
    # transactions from deadlocking each other on them: tables and columns are sorted,
    # and so are the edges by the shared node they lock.
    column_ids = sorted(written_by)
    split = [split_column_id(column_id) for column_id in column_ids]
    rows.tables = sorted({t for t, _, _ in table_edges}.union(t for t, _ in split))
    table_pos = {t: i for i, t in enumerate(rows.tables)}
    column_pos = {c: i for i, c in enumerate(column_ids)}
    rows.table_edges = [
        {"s": s, "t": t, "rel": rel}
        for t, rel, s in sorted((table_pos[t], rel, s) for t, rel, s in table_edges)
    ]
    rows.columns = [
        {
            "id": column_id,
            "table": table,
            "name": name,
            "t": table_pos[table],
            "w": written_by[column_id],
        }
        for column_id, (table, name) in zip(column_ids, split, strict=True)
    ]
    column_edges.sort(key=lambda e: (e[0], e[1]))
    rows.column_edges = [
        {"t": column_pos[t], "s": column_pos[s], "st": st, "transform": x}
        for t, s, st, x in column_edges
    ]
    influences.sort()
    rows.influences = [{"st": st, "s": column_pos[s], "transform": x} for s, st, x in influences]
    return rows
