"""FileUpdates → parameter rows for the writer's UNWIND queries (pure, unit-tested).

Rows are read by position in queries.WRITE_NEW, never by key: a dict per row sent,
and Neo4j's Bolt thread decoded, every key as a string on every row, and Cypher then
looked each up by name. A file's, a statement's and a table edge's row is a list; the
columns, the column edges and the influences (~80 % of the rows) are parallel lists,
one per field. The positions are the constants below; queries.py reads them by the
same numbers (tests/integration/test_writer_rows.py compares the graph they write
with one built from the lineage directly).

bench_rebuild, 20k files, 2026-12-02 09:11-09:16 UTC, medians of 2 rounds in one run:
dict rows 8.22 s (Neo4j's Bolt threads 8.6-9.0 CPU s, lineaged 3.8), list rows
7.76 s (8.1-8.3, 3.6-3.8), parallel lists for the column kinds 7.60 s (8.1-8.2, 3.5).
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
# Columns and their edges as parallel lists, `columns[COLUMN_ID][i]` being column i's
# id: unlike a dict of strings and ints, a list is always tracked by Python's cyclic
# collector, and a list per row (~7,600 per 190-file transaction) set off the daemon's
# young collections: 129-131 per rebuild with a list per row, 89-90 without.
# columns = [ids, t, names, bounds, writers]: column i's id, its table's position in
# `tables` (the Column's `table` property is that name, not sent again) and name; the
# positions of the statements that write it are writers[bounds[i]:bounds[i + 1]].
COLUMN_ID, COLUMN_TABLE, COLUMN_NAME, COLUMN_BOUNDS, COLUMN_WRITERS = range(5)
# column_edges = [t, s, st, x]: target and source column positions, statement position
# (its id and its file's id become the edge's properties), transform position in
# `transforms`.
EDGE_TARGET, EDGE_SOURCE, EDGE_STATEMENT, EDGE_TRANSFORM = range(4)
# influences = [s, st, x]: source column, statement, transform positions.
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
    # Distinct columns sorted by id (parallel lists).
    columns: list[list[Any]] = field(default_factory=lambda: [[], [], [], [0], []])
    # Distinct transforms (DIRECT/IDENTITY, INDIRECT/JOIN, ...), which the edges name
    # by position.
    transforms: list[str] = field(default_factory=list)
    # Column -> column, in (target, source) order (parallel lists).
    column_edges: list[list[int]] = field(default_factory=lambda: [[], [], [], []])
    # Statement-wide influence, in source order (parallel lists).
    influences: list[list[int]] = field(default_factory=lambda: [[], [], []])
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
        return self.columns[COLUMN_ID]

    @property
    def row_count(self) -> int:
        """UNWIND rows sent (a column's writers ride on its row; a table name, a file's
        meta and a transform are counted with the rows that name them)."""
        return (
            len(self.delete_ids)
            + len(self.files)
            + len(self.statements)
            + len(self.table_edges)
            + len(self.columns[COLUMN_ID])
            + len(self.column_edges[EDGE_TARGET])
            + len(self.influences[INFLUENCE_SOURCE])
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
            + 2 * len(self.columns[COLUMN_ID])
            + len(self.columns[COLUMN_WRITERS])
            + len(self.column_edges[EDGE_TARGET])
            + len(self.influences[INFLUENCE_SOURCE])
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
    targets: list[int] = []
    sources: list[int] = []
    edge_statements: list[int] = []
    edge_transforms: list[int] = []
    influence_sources: list[int] = []
    influence_statements: list[int] = []
    influence_transforms: list[int] = []
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
                    targets.append(target)
                    sources.append(seen[source])
                    edge_statements.append(pos)
                    edge_transforms.append(x)
            for ind in st.indirect:
                x = transforms[ind.transform]
                for source in ind.sources:
                    influence_sources.append(seen[source])
                    influence_statements.append(pos)
                    influence_transforms.append(x)
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
    bounds = [0]
    writers: list[int] = []
    for c in order:
        if c in written_by:
            writers += written_by[c]
        bounds.append(len(writers))
    rows.columns = [
        [ids[c] for c in order],
        [table_pos[table] for table, _ in split],
        [name for _, name in split],
        bounds,
        writers,
    ]
    # Renumbered and sorted: (target, source) order is the order of the columns' new
    # positions.
    n = len(ids)
    by = _order_by([rank[t] * n + rank[s] for t, s in zip(targets, sources, strict=True)])
    rows.column_edges = [
        [rank[targets[i]] for i in by],
        [rank[sources[i]] for i in by],
        [edge_statements[i] for i in by],
        [edge_transforms[i] for i in by],
    ]
    by = _order_by([rank[s] for s in influence_sources])
    rows.influences = [
        [rank[influence_sources[i]] for i in by],
        [influence_statements[i] for i in by],
        [influence_transforms[i] for i in by],
    ]
    return rows


def _order_by(keys: list[int]) -> list[int]:
    """Indexes of `keys` by ascending key, equal keys in index order: a sort of plain
    ints, each key with its index folded in, rather than of a tuple per item."""
    m = len(keys)
    return [k % m for k in sorted([key * m + i for i, key in enumerate(keys)])]
