"""What an export knows about one file, as read back from the graph (small values).

The exporters (OpenLineage, ...) build on these and never see Cypher; the graph
reads that fill them live in `graph_read.py` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Statement-wide influence: the joins, filters, grouping and sorting of a statement shape
# every row it writes, so they belong to the whole output dataset (OpenLineage's
# dataset-level `dataset` list), not to one column.
STATEMENT_WIDE = frozenset(
    {"INDIRECT/JOIN", "INDIRECT/FILTER", "INDIRECT/GROUP_BY", "INDIRECT/SORT"}
)


@dataclass(frozen=True, slots=True, order=True)
class ColumnRef:
    table: str
    name: str


@dataclass(frozen=True, slots=True, order=True)
class ColumnInput:
    """`target` takes input from `source` via `transform` ("DIRECT/IDENTITY", ...)."""

    target: ColumnRef
    source: ColumnRef
    transform: str


@dataclass(frozen=True, slots=True, order=True)
class Influence:
    """`source` influences every row the statement writes (a STATEMENT_WIDE transform)."""

    source: ColumnRef
    transform: str


@dataclass(frozen=True, slots=True)
class StatementRecord:
    index: int
    kind: str
    error: str | None
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    # Columns the statement writes, whether or not they have inputs of their own.
    target_columns: tuple[ColumnRef, ...] = ()
    column_inputs: tuple[ColumnInput, ...] = ()
    influences: tuple[Influence, ...] = ()


@dataclass(frozen=True, slots=True)
class FileRecord:
    root: str
    path: str
    sha256: str | None
    dialect: str | None
    ingested_at: str  # ISO 8601, from the graph
    error: str | None
    statements: tuple[StatementRecord, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.root}:{self.path}"


@dataclass(frozen=True, slots=True)
class TableView:
    """The tables of a lineage answer with their columns and the column edges between
    them: what `lineage --format html` draws."""

    columns: dict[str, tuple[str, ...]]  # table -> its columns in the graph, sorted
    column_inputs: tuple[ColumnInput, ...]  # each column's own edges (DIRECT, CASE, ...)
    # (target table, source column, transform): statement-wide influence on a table
    influences: tuple[tuple[str, ColumnRef, str], ...]
