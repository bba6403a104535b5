"""FileUpdates → parameter rows for the writer's UNWIND queries (pure, unit-tested)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lineaged.model import FileUpdate


def split_column_id(column_id: str) -> tuple[str, str]:
    """`db.sch.tbl.col` → (`db.sch.tbl`, `col`)."""
    table, _, name = column_id.rpartition(".")
    return table, name


@dataclass
class WriteRows:
    delete_ids: list[str] = field(default_factory=list)  # files whose old lineage goes
    removed_ids: list[str] = field(default_factory=list)  # files deleted from disk
    files: list[dict[str, Any]] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    columns: list[dict[str, Any]] = field(default_factory=list)  # distinct, with tables
    column_edges: list[dict[str, Any]] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return (
            len(self.delete_ids)
            + len(self.files)
            + len(self.statements)
            + len(self.reads)
            + len(self.writes)
            + len(self.columns)
            + len(self.column_edges)
        )


def update_rows(update: FileUpdate) -> int:
    """Rows one update contributes; used to size transactions by a row budget."""
    if update.lineage is None:
        return 1
    n = 2
    for st in update.lineage.statements:
        n += 1 + len(st.targets) + len(st.sources)
        n += sum(len(c.sources) for c in st.columns)
    return n


def build_rows(updates: Sequence[FileUpdate], failures: dict[str, str] | None = None) -> WriteRows:
    """`failures` maps file id → error for files recorded as failed (no lineage)."""
    rows = WriteRows()
    # A column typically appears in many edges (every INDIRECT edge repeats the filter
    # and join columns): MERGE each once, then edges only MATCH both ends by id.
    column_ids: set[str] = set()
    for u in updates:
        fid = u.ref.id
        rows.delete_ids.append(fid)
        if u.lineage is None:
            rows.removed_ids.append(fid)
            continue
        lineage = u.lineage
        failed = (failures or {}).get(fid)
        rows.files.append(
            {
                "id": fid,
                "root": u.ref.root,
                "path": u.ref.path,
                "sha256": None if failed else u.sha256,
                "failed_sha256": u.sha256 if failed else None,
                "dialect": u.dialect,
                "extractor_version": lineage.extractor_version,
                "error": failed or lineage.error,
            }
        )
        if failed:
            continue
        for st in lineage.statements:
            sid = f"{fid}#{st.index}"
            rows.statements.append(
                {
                    "id": sid,
                    "file": fid,
                    "index": st.index,
                    "line": st.line,
                    "kind": st.kind,
                    "error": st.error,
                }
            )
            rows.reads.extend({"statement": sid, "table": t} for t in st.sources)
            rows.writes.extend({"statement": sid, "table": t} for t in st.targets)
            for edge in st.columns:
                column_ids.add(edge.target)
                column_ids.update(edge.sources)
                rows.column_edges.extend(
                    {
                        "file": fid,
                        "statement": sid,
                        "transform": edge.transform,
                        "target": edge.target,
                        "source": source,
                    }
                    for source in edge.sources
                )
    # Taking locks on shared Table/Column nodes in one global order keeps concurrent
    # transactions from deadlocking each other on them.
    rows.reads.sort(key=lambda r: r["table"])
    rows.writes.sort(key=lambda r: r["table"])
    for column_id in sorted(column_ids):
        table, name = split_column_id(column_id)
        rows.columns.append({"id": column_id, "table": table, "name": name})
    rows.column_edges.sort(key=lambda r: (r["target"], r["source"]))
    return rows
