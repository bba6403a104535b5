"""A file's final bare SELECT as a write into a target the file does not name itself.

bigquery-etl's `sql/<project>/<dataset>/<table>/query.sql` and a dbt model are a
SELECT whose target is implied by the file (its path, its model name). Given that
target, the file's last bare SELECT becomes `INSERT INTO target SELECT ...`: the
target is written and each output column derives from what the SELECT's output of the
same name derives from, and the target is defined for the corpus catalog with the
SELECT's output columns (as a CTAS would). A file that writes a table itself (DDL/DML
with a permanent target) is left as it is.
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from lineaged.extract.names import Naming, table_name
from lineaged.model import ColumnEdge, StatementLineage


def target_name(target: str, naming: Naming) -> str:
    """`proj.ds.tbl` from a rule, spelled as the dialect spells an unquoted name in SQL
    (so that the statements reading it agree); defaults fill missing parts."""
    parts = [exp.to_identifier(p) for p in target.split(".") if p]
    if not parts or len(parts) > 3:
        raise ValueError(f"target {target!r}: expected 1 to 3 dot-separated parts")
    table = exp.Table(this=parts[-1])
    if len(parts) > 1:
        table.set("db", parts[-2])
    if len(parts) > 2:
        table.set("catalog", parts[-3])
    return table_name(table, naming, normalized=False)


def promote_final_select(
    statements: tuple[StatementLineage, ...], target: str
) -> tuple[tuple[StatementLineage, ...], int | None]:
    """`statements` with the last bare SELECT turned into a write into `target`, and
    that statement's index (None when the file writes a table itself, or has no
    SELECT that extracted without error)."""
    if any(s.targets for s in statements):
        return statements, None
    last = next(
        (i for i in range(len(statements) - 1, -1, -1) if statements[i].kind == "select"),
        None,
    )
    if last is None or statements[last].error is not None:
        return statements, None
    promoted = _as_insert(statements[last], target)
    return (*statements[:last], promoted, *statements[last + 1 :]), last


def _as_insert(s: StatementLineage, target: str) -> StatementLineage:
    columns = tuple(
        sorted(
            (ColumnEdge(f"{target}.{c.target}", c.sources, c.transform) for c in s.columns),
            key=lambda e: (e.target, e.transform, e.sources),
        )
    )
    # Unnamed outputs were reported as `?N`; as a write they are `target.?N`.
    unresolved = tuple(sorted(f"{target}.{u}" if u.startswith("?") else u for u in s.unresolved))
    target_columns = tuple(sorted(f"{target}.{c}" for c in s.target_columns))
    return replace(
        s,
        kind="insert",
        targets=(target,),
        columns=columns,
        unresolved=unresolved,
        target_columns=target_columns,
    )
