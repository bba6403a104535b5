"""Values passed between stages: small, immutable, cheap to pickle.

`FileLineage` is what a worker returns for one file's text; it never holds an AST.
`to_dict` / `from_dict` give the public JSON shape (see README, "Extraction JSON").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

# OpenLineage column-lineage vocabulary: "<type>/<subtype>".
TRANSFORMS = (
    "DIRECT/IDENTITY",
    "DIRECT/TRANSFORMATION",
    "DIRECT/AGGREGATION",
    "INDIRECT/JOIN",
    "INDIRECT/FILTER",
    "INDIRECT/GROUP_BY",
    "INDIRECT/SORT",
    "INDIRECT/WINDOW",
    "INDIRECT/CONDITIONAL",
)


@dataclass(frozen=True, slots=True)
class ColumnEdge:
    """`target` (table.column, fully qualified) derives from `sources` via `transform`."""

    target: str
    sources: tuple[str, ...]
    transform: str

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "sources": list(self.sources), "transform": self.transform}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnEdge:
        return cls(d["target"], tuple(d["sources"]), d["transform"])


@dataclass(frozen=True, slots=True)
class IndirectEdge:
    """Statement-wide influence: `sources` shape every row the statement writes (its
    joins, filters, grouping, sorting) via `transform`, so they influence every column in
    the statement's `target_columns` (OpenLineage's dataset-level `dataset` list)."""

    sources: tuple[str, ...]
    transform: str

    def to_dict(self) -> dict[str, Any]:
        return {"sources": list(self.sources), "transform": self.transform}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IndirectEdge:
        return cls(tuple(d["sources"]), d["transform"])


@dataclass(frozen=True, slots=True)
class StatementLineage:
    """Lineage of one statement. `error` is "line L, column C: message" or None.

    `columns` are each target column's own edges; `indirect` applies to every column
    in `target_columns` (the columns the statement writes, with or without own edges)."""

    index: int
    line: int
    kind: str
    targets: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    columns: tuple[ColumnEdge, ...] = ()
    temp_targets: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    error: str | None = None
    target_columns: tuple[str, ...] = ()
    indirect: tuple[IndirectEdge, ...] = ()

    def expanded_columns(self) -> tuple[ColumnEdge, ...]:
        """Every column's edges with the statement-wide ones copied onto each target
        column: the per-column view (and what the graph stored before model 2)."""
        if not self.indirect:
            return self.columns
        merged: dict[tuple[str, str], set[str]] = {}
        for e in self.columns:
            merged.setdefault((e.target, e.transform), set()).update(e.sources)
        for column in self.target_columns:
            for ind in self.indirect:
                merged.setdefault((column, ind.transform), set()).update(ind.sources)
        return tuple(
            ColumnEdge(target, tuple(sorted(sources)), transform)
            for (target, transform), sources in sorted(merged.items())
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "line": self.line,
            "kind": self.kind,
            "targets": list(self.targets),
            "sources": list(self.sources),
            "columns": [c.to_dict() for c in self.columns],
            "temp_targets": list(self.temp_targets),
            "unresolved": list(self.unresolved),
            "error": self.error,
            "target_columns": list(self.target_columns),
            "indirect": [i.to_dict() for i in self.indirect],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StatementLineage:
        return cls(
            index=d["index"],
            line=d["line"],
            kind=d["kind"],
            targets=tuple(d.get("targets", ())),
            sources=tuple(d.get("sources", ())),
            columns=tuple(ColumnEdge.from_dict(c) for c in d.get("columns", ())),
            temp_targets=tuple(d.get("temp_targets", ())),
            unresolved=tuple(d.get("unresolved", ())),
            error=d.get("error"),
            target_columns=tuple(d.get("target_columns", ())),
            indirect=tuple(IndirectEdge.from_dict(i) for i in d.get("indirect", ())),
        )


@dataclass(frozen=True, slots=True)
class TableSchema:
    """A table a file defines for the rest of the corpus (CREATE TABLE, CTAS, view,
    SELECT INTO, ...): its columns in order with their types ("UNKNOWN" where the SQL
    does not say), and the external tables whose columns the file had looked up by
    the time the definition was complete (what the definition may depend on)."""

    table: str
    columns: tuple[tuple[str, str], ...]
    depends_on: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "columns": [{"name": n, "type": t} for n, t in self.columns],
            "depends_on": list(self.depends_on),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableSchema:
        columns = tuple((c["name"], c["type"]) for c in d.get("columns", ()))
        return cls(d["table"], columns, tuple(d.get("depends_on", ())))


@dataclass(frozen=True, slots=True)
class FileLineage:
    """Everything one file's text contributes. `error` is set when the file as a whole
    could not be read or decoded; statement errors live on the statements.

    `defines` feeds the corpus catalog; `schema_used` lists the tables whose columns
    extraction looked up outside the file (found or not), and `schema_fingerprint`
    hashes what those lookups found: the result is current while the catalog gives
    the same fingerprint for the same names."""

    dialect: str
    extractor_version: str
    statements: tuple[StatementLineage, ...] = ()
    error: str | None = None
    defines: tuple[TableSchema, ...] = ()
    schema_used: tuple[str, ...] = ()
    schema_fingerprint: str = "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialect": self.dialect,
            "extractor_version": self.extractor_version,
            "statements": [s.to_dict() for s in self.statements],
            "error": self.error,
            "defines": [t.to_dict() for t in self.defines],
            "schema_used": list(self.schema_used),
            "schema_fingerprint": self.schema_fingerprint,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileLineage:
        return cls(
            dialect=d["dialect"],
            extractor_version=d["extractor_version"],
            statements=tuple(StatementLineage.from_dict(s) for s in d.get("statements", ())),
            error=d.get("error"),
            defines=tuple(TableSchema.from_dict(t) for t in d.get("defines", ())),
            schema_used=tuple(d.get("schema_used", ())),
            schema_fingerprint=d.get("schema_fingerprint", "none"),
        )


@dataclass(frozen=True, slots=True)
class FileRef:
    """Identity of a watched file: the root's name and the POSIX path relative to it."""

    root: str
    path: str

    @property
    def id(self) -> str:
        return f"{self.root}:{self.path}"


@dataclass(frozen=True, slots=True)
class FileUpdate:
    """One unit of work for the graph writer: write `lineage` for `ref` (content hash
    `sha256`), or, when `lineage` is None, remove everything `ref` contributed."""

    ref: FileRef
    sha256: str | None
    dialect: str
    lineage: FileLineage | None = None
    enqueued_at: float = field(default=0.0, compare=False)
    # False: the graph held nothing of this file when the pipeline asked (a new file,
    # or a rebuild after the graph was lost), so its write has nothing to delete first.
    in_graph: bool = field(default=True, compare=False)

    @property
    def deleted(self) -> bool:
        return self.lineage is None


class Change(StrEnum):
    CHANGED = "changed"
    DELETED = "deleted"


# While someone edits (live work within this many seconds), backfill parses on one
# worker fewer and writes one transaction at a time: on a small host two parsers, Neo4j
# and the daemon oversubscribe the cores, and every stage of a live edit (watch, read,
# its transaction) then waits for CPU. Short, so that the backfill is back at full
# speed soon after the last save.
EDITING_WINDOW_S = 5.0


class Priority(IntEnum):
    """Lower value is served first."""

    CRITICAL = 0
    HIGH = 1  # live edits
    LOW = 2  # reconcile / backfill


@dataclass(frozen=True, slots=True)
class FileEvent:
    """Something happened to `ref` (absolute path `abs_path`) at monotonic time `at`.
    `created` marks a file that did not exist before this event, so that a create
    followed by a delete inside one debounce window can cancel out. `complete` says the
    file's new content is all there (its writer closed it, or it was renamed into
    place), so a realtime batch need not wait for more events of it."""

    ref: FileRef
    abs_path: str
    change: Change
    priority: Priority = Priority.HIGH
    at: float = 0.0
    created: bool = False
    complete: bool = False


@dataclass(frozen=True, slots=True)
class FileState:
    """What the graph's File node says about a file: the content its lineage came from
    (and the extractor version that made it), and the content the graph refused."""

    sha256: str | None
    extractor_version: str | None
    failed_sha256: str | None

    def is_current(
        self,
        sha256: str,
        extractor_version: str,
        *,
        schema_current: Callable[[], bool] | None = None,
    ) -> bool:
        """True when content `sha256` needs nothing written: its lineage from this
        extractor version is in the graph (and, when `schema_current` is given, was
        computed with the columns the schema catalog holds now), or the graph refused
        exactly this content (a known rejection stays put until the file is edited or
        `lineaged replay` re-drives it)."""
        if self.failed_sha256 == sha256:
            return True
        if self.sha256 != sha256 or self.extractor_version != extractor_version:
            return False
        return schema_current is None or schema_current()


# What the graph holds of one file as a root's listing gives it (GraphWriter.root_files):
# the content hash its lineage came from, the extractor version that made it (None when
# written under another graph model) and the content the graph refused -- FileState's
# fields as a plain tuple: a warm restart reads one per file of the root, and 100k
# dataclass instances cost more than the rest of the comparison.
GraphFile = tuple[str | None, str | None, str | None]
GRAPH_SHA, GRAPH_VERSION, GRAPH_FAILED = 0, 1, 2
