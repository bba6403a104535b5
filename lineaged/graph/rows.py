"""FileUpdates → parameter rows for the writer's UNWIND queries (pure, unit-tested).

Every row is a list read by position in queries.WRITE_NEW, never a dict: a dict row
sends, and Neo4j's Bolt thread decodes, every key as a string on every row, and Cypher
then looks each up by name. The positions of each kind of row are the constants below;
queries.py reads them by the same numbers (tests/integration/test_writer_rows.py
compares the graph they write with one built from the lineage directly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from lineaged.gcpause import gc_paused
from lineaged.graph.schema import GRAPH_MODEL
from lineaged.model import FileUpdate
from lineaged.qualified import split_column_id

# files[i] = [id, path, sha256, failed_sha256, error, m]; m = position in file_meta,
# whose rows are [root, dialect, extractor_version, graph_model] (one per distinct
# triple: a batch of one root has one).
FILE_ID, FILE_PATH, FILE_SHA256, FILE_FAILED_SHA256, FILE_ERROR, FILE_META = range(6)
META_ROOT, META_DIALECT, META_EXTRACTOR_VERSION, META_GRAPH_MODEL = range(4)
# statements[i] = [id, f, index, line, kind, error]; f = its file's position in `files`
# (the Statement's `file` property is that file's id, not sent again).
STATEMENT_ID, STATEMENT_FILE, STATEMENT_INDEX, STATEMENT_LINE, STATEMENT_KIND = range(5)
STATEMENT_ERROR: Final = 5
# table_edges[i] = [t, rel, s]: table position, "READS" | "WRITES", statement position.
TABLE_EDGE_TABLE, TABLE_EDGE_REL, TABLE_EDGE_STATEMENT = range(3)
# columns[i] = [id, t, name, w]: its table's position in `tables` (the Column's `table`
# property is that name, not sent again), its name, the positions of the statements
# that write it.
COLUMN_ID, COLUMN_TABLE, COLUMN_NAME, COLUMN_WRITTEN_BY = range(4)
# column_edges[i] = [t, s, st, x]: target and source column positions, statement
# position (its id and its file's id become the edge's properties), transform position
# in `transforms`.
EDGE_TARGET, EDGE_SOURCE, EDGE_STATEMENT, EDGE_TRANSFORM = range(4)
# influences[i] = [s, st, x]: source column, statement, transform positions.
INFLUENCE_SOURCE, INFLUENCE_STATEMENT, INFLUENCE_TRANSFORM = range(3)


@dataclass
class WriteRows:
    delete_ids: list[str] = field(default_factory=list)  # files whose old lineage goes
    # Files the graph held nothing of when the pipeline asked (FileUpdate.in_graph):
    # written without a delete first. A rebuild or cold ingest deletes nothing.
    new_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)  # files deleted from disk
    # WRITE_NEW makes each File, Statement, Table and Column node once and collects
    # them into lists in the order of these lists; every other row names its nodes by
    # their POSITION in them, never by id: a seek by id per edge end was ~30 % of
    # Neo4j's CPU in a rebuild (queries.py). Row layouts: the constants above.
    files: list[list[Any]] = field(default_factory=list)
    file_meta: list[list[Any]] = field(default_factory=list)
    statements: list[list[Any]] = field(default_factory=list)
    # Distinct table names, sorted (one global lock order).
    tables: list[str] = field(default_factory=list)
    # Statement -> Table, READS and WRITES in one list, in table order.
    table_edges: list[list[Any]] = field(default_factory=list)
    # Distinct columns sorted by id.
    columns: list[list[Any]] = field(default_factory=list)
    # Distinct transforms (DIRECT/IDENTITY, INDIRECT/JOIN, ...), which the edges name
    # by position.
    transforms: list[str] = field(default_factory=list)
    # Column -> column, in (target, source) order.
    column_edges: list[list[int]] = field(default_factory=list)
    # Statement-wide influence, in source order.
    influences: list[list[int]] = field(default_factory=list)
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
            "file_meta": self.file_meta,
            "statements": self.statements,
            "tables": self.tables,
            "table_edges": self.table_edges,
            "columns": self.columns,
            "transforms": self.transforms,
            "column_edges": self.column_edges,
            "influences": self.influences,
        }

    def column_ids(self) -> list[str]:
        """The columns these rows MERGE, sorted."""
        return [c[COLUMN_ID] for c in self.columns]

    @property
    def row_count(self) -> int:
        """UNWIND rows sent (a column's written-by list rides on its one row; a table
        name, a file's meta and a transform are counted with the rows that name them)."""
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
            + sum(len(c[COLUMN_WRITTEN_BY]) for c in self.columns)
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
    # Several lists per file: with the collector on, its passes over the daemon's whole
    # heap took about half of this function's time in a rebuild. Rows hold no cycles.
    with gc_paused():
        return _build_rows(updates, failures or {})


class _Positions(dict[Any, int]):
    """Numbers keys 0, 1, 2, ... in the order first looked up (`positions[key]`)."""

    __slots__ = ()

    def __missing__(self, key: Any) -> int:
        n = self[key] = len(self)
        return n


def _build_rows(updates: Sequence[FileUpdate], failures: dict[str, str]) -> WriteRows:
    rows = WriteRows()
    files, statements = rows.files, rows.statements
    meta = _Positions()
    transforms = _Positions()
    # A column typically appears in many edges: MERGE each once (with the statements
    # that write it), then edges name both ends by position. Columns are numbered in
    # the order first seen while the rows are made, and renumbered in id order (the
    # lock order) once every column is known.
    seen = _Positions()
    written_by: dict[int, list[int]] = {}
    table_edges: list[tuple[str, str, int]] = []
    column_edges: list[list[int]] = []
    influences: list[list[int]] = []
    for u in updates:
        ref = u.ref
        fid = ref.id
        lineage = u.lineage
        failed = failures.get(fid)
        # Written as new only when its statements would clash with any left over
        # (Statement ids are unique): a wrong "nothing there" then fails loudly and the
        # writer retries it as a replace instead of leaving old lineage behind.
        new = not u.in_graph and lineage is not None and bool(lineage.statements) and not failed
        (rows.new_ids if new else rows.delete_ids).append(fid)
        if lineage is None:
            rows.removed_ids.append(fid)
            continue
        file_pos = len(files)
        files.append(
            [
                fid,
                ref.path,
                None if failed else u.sha256,
                u.sha256 if failed else None,
                failed or lineage.error,
                meta[ref.root, u.dialect, lineage.extractor_version],
            ]
        )
        if failed:
            continue
        for st in lineage.statements:
            pos = len(statements)
            statements.append([f"{fid}#{st.index}", file_pos, st.index, st.line, st.kind, st.error])
            # Once per (statement, table, rel): the writer CREATEs these edges. Plain
            # loops here and below: most edges have one source, and extend() of a
            # generator made this function ~1.4x slower (35-41 vs 49-58 ms per 2,000
            # bench files).
            for t in dict.fromkeys(st.sources):
                table_edges.append((t, "READS", pos))
            for t in dict.fromkeys(st.targets):
                table_edges.append((t, "WRITES", pos))
            if not st.targets:
                # A bare SELECT's columns name outputs, not table columns: the graph
                # has no Column to hang them on (the JSON contract still reports them).
                continue
            for column in st.target_columns:
                c = seen[column]
                if c in written_by:
                    written_by[c].append(pos)
                else:
                    written_by[c] = [pos]
            for edge in st.columns:
                target = seen[edge.target]
                x = transforms[edge.transform]
                for source in edge.sources:
                    column_edges.append([target, seen[source], pos, x])
            for ind in st.indirect:
                x = transforms[ind.transform]
                for source in ind.sources:
                    influences.append([seen[source], pos, x])
    rows.file_meta = [[root, dialect, version, GRAPH_MODEL] for root, dialect, version in meta]
    rows.transforms = list(transforms)
    # Taking locks on shared Table/Column nodes in one global order keeps concurrent
    # transactions from deadlocking each other on them: tables and columns are sorted,
    # and so are the edges by the shared node they lock.
    ids = list(seen)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    rank = [0] * len(ids)
    for position, c in enumerate(order):
        rank[c] = position
    split = [split_column_id(ids[c]) for c in order]
    rows.tables = sorted({t for t, _, _ in table_edges}.union(t for t, _ in split))
    table_pos = {t: i for i, t in enumerate(rows.tables)}
    rows.table_edges = sorted([table_pos[t], rel, s] for t, rel, s in table_edges)
    rows.columns = [
        [ids[c], table_pos[table], name, written_by.get(c, [])]
        for c, (table, name) in zip(order, split, strict=True)
    ]
    # Renumbered in place, then sorted: (target, source) order is id order.
    for e in column_edges:
        e[0] = rank[e[0]]
        e[1] = rank[e[1]]
    column_edges.sort()
    rows.column_edges = column_edges
    for e in influences:
        e[0] = rank[e[0]]
    influences.sort()
    rows.influences = influences
    return rows
