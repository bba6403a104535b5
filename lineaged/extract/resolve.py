"""Attribute unqualified columns that sqlglot's qualify_columns left alone.

Without a schema sqlglot cannot tell which table an unqualified column belongs to, so
it leaves it bare. We attribute it only when there is exactly one candidate: the
single source of its scope, or the single source whose columns are not known to
exclude it. Anything else stays unqualified and is reported as unresolved — never
guessed.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, walk_in_scope
from sqlglot.schema import MappingSchema

# Marks a column we could not attribute, so qualify_columns leaves it alone instead of
# raising "Cannot resolve ... due to missing source schemas" for the whole statement.
UNRESOLVED = "__lineaged_unresolved__"


def attribute_unqualified(root: Scope, schema: MappingSchema, *, mark: bool = False) -> None:
    for scope in root.traverse():
        # scope.columns leaves out e.g. columns inside aggregates in HAVING: walk instead.
        bare = [
            c
            for c in walk_in_scope(scope.expression)
            if isinstance(c, exp.Column) and not c.table and not c.is_star
        ]
        if not bare:
            continue
        known = {alias: _known_columns(src, schema) for alias, src in _sources(_owning(scope))}
        pivots = _pivots(scope)
        for alias, pivot in pivots.items():
            if known.get(alias) is not None:
                known[alias] |= _pivot_outputs(pivot)
        projections = (
            scope.expression.expressions if isinstance(scope.expression, exp.Select) else []
        )
        aliases = {p.alias for p in projections if isinstance(p, exp.Alias)}
        for column in bare:
            alias_ref = column.name in aliases and not _in_own_projection(column, projections)
            owner = None if alias_ref else _owner(column.name, known)
            if owner in pivots and not _inside(column, pivots[owner]):
                # Above a PIVOT the columns are the pivot's: name them by its alias.
                owner = pivots[owner].alias or owner
            if owner is not None:
                column.set("table", exp.to_identifier(owner))
            elif mark and scope.can_be_correlated and not alias_ref:
                column.set("table", exp.to_identifier(UNRESOLVED))


def _owning(scope: Scope) -> Scope:
    """Where a bare column of `scope` comes from: the scope itself, or for a subquery
    with no FROM (`SELECT (SELECT a + b) FROM t`) the nearest enclosing scope that
    has sources, as the column can only be a correlated reference."""
    while not _sources(scope) and scope.can_be_correlated and scope.parent is not None:
        scope = scope.parent
    return scope


def _in_own_projection(column: exp.Column, projections: list[exp.Expr]) -> bool:
    """`TRIM(name) AS name`: inside the projection that defines the alias, the name
    can only mean the source column (an alias cannot refer to itself)."""
    node: exp.Expr | None = column
    while node is not None and node.parent is not None:
        if isinstance(node, exp.Alias) and any(node is p for p in projections):
            return node.alias == column.name
        node = node.parent
    return False


def _pivots(scope: Scope) -> dict[str, exp.Pivot]:
    """Source alias -> the PIVOT applied to it (UNPIVOT is not followed)."""
    if not isinstance(scope.expression, exp.Select):
        return {}
    found = {}
    for alias, (node, _) in scope.selected_sources.items():
        for pivot in node.args.get("pivots") or []:
            if not pivot.args.get("unpivot") and pivot.args.get("columns"):
                found[alias] = pivot
    return found


def _pivot_outputs(pivot: exp.Pivot) -> set[str]:
    return {c.name for c in pivot.args["columns"]} | set(pivot.alias_column_names)


def _inside(column: exp.Column, node: exp.Expr) -> bool:
    parent = column.parent
    while parent is not None:
        if parent is node:
            return True
        parent = parent.parent
    return False


def _sources(scope: Scope) -> list[tuple[str, exp.Expr | Scope]]:
    if isinstance(scope.expression, exp.Select):
        return [(alias, src) for alias, (_, src) in scope.selected_sources.items()]
    # A table function's scope (UNNEST(col), LATERAL ...) reads from its outer sources.
    return [(alias, src) for alias, src in scope.sources.items() if alias]


def _owner(name: str, known: dict[str, set[str] | None]) -> str | None:
    if name in known and known[name] is None:
        return name  # BigQuery `UNNEST(arr) AS x ... SELECT x`: the alias is the value
    candidates = [alias for alias, cols in known.items() if cols is None or name in cols]
    return candidates[0] if len(candidates) == 1 else None


def _known_columns(source: exp.Expr | Scope, schema: MappingSchema) -> set[str] | None:
    """Columns a source is known to have; None when unknown (could have any)."""
    if isinstance(source, exp.Table):
        if not isinstance(source.this, exp.Identifier):
            return None
        names = schema.column_names(source) if schema.find(source, raise_on_missing=False) else []
        return set(names) or None
    if isinstance(source, Scope) and isinstance(source.expression, exp.UDTF):
        alias = source.expression.args.get("alias")
        names = {c.name for c in alias.columns} if alias is not None else set()
        return names or None
    if isinstance(source, Scope) and isinstance(source.expression, exp.Query):
        selects = source.expression.named_selects
        return None if "*" in selects or not selects else set(selects)
    return None
