"""Column lineage: one walk over the scopes of a qualified query.

Each scope (the query, its CTEs, derived tables, subqueries, set-operation branches)
is visited once and memoised; a projection's lineage is the set of base-table columns
it reads, keyed by the OpenLineage transform through which it reads them. Columns
of a CTE or derived table resolve through that scope's own lineage, composing
transforms, so CTEs and subqueries never appear as tables.

Transforms (OpenLineage column-lineage vocabulary):
- DIRECT/IDENTITY: the projection is the column itself;
- DIRECT/TRANSFORMATION: an expression of it; DIRECT/AGGREGATION: inside an aggregate;
- INDIRECT/CONDITIONAL: a CASE/IF condition; INDIRECT/WINDOW: PARTITION BY / ORDER BY;
- statement level (applied to every target column): INDIRECT/JOIN (ON), FILTER (WHERE,
  HAVING, QUALIFY and filtering subqueries), GROUP_BY, SORT (ORDER BY).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from lineaged.extract.names import Naming, table_name
from lineaged.extract.resolve import UNRESOLVED

Base = tuple[str, str]  # (normalised table name, column name)
Lin = dict[str, set[Base]]  # transform -> base columns

IDENTITY = "DIRECT/IDENTITY"
TRANSFORMATION = "DIRECT/TRANSFORMATION"
AGGREGATION = "DIRECT/AGGREGATION"
JOIN = "INDIRECT/JOIN"
FILTER = "INDIRECT/FILTER"
GROUP_BY = "INDIRECT/GROUP_BY"
SORT = "INDIRECT/SORT"
WINDOW = "INDIRECT/WINDOW"
CONDITIONAL = "INDIRECT/CONDITIONAL"

_RANK = {IDENTITY: 0, TRANSFORMATION: 1, AGGREGATION: 2}
# Navigation functions read one other row's value: a transformation, not an aggregate.
_NAVIGATION = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)
# qualify_columns names unnamed projections `_col_<n>`: such a name is not a real column.
UNNAMED = re.compile(r"_col_\d+$", re.IGNORECASE)
STAR = "*"


def compose(outer: str, inner: str) -> str:
    """Transform of `outer(inner(x))`: indirect wins, else the stronger direct one."""
    if outer.startswith("INDIRECT"):
        return outer
    if inner.startswith("INDIRECT"):
        return inner
    return outer if _RANK[outer] >= _RANK[inner] else inner


def merge(into: Lin, other: Lin, via: str | None = None) -> None:
    for transform, bases in other.items():
        key = compose(via, transform) if via else transform
        into.setdefault(key, set()).update(bases)


@dataclass(slots=True)
class ScopeLineage:
    # Output name -> lineage, in projection order; an unexpanded star is named "*".
    outputs: list[tuple[str, Lin]] = field(default_factory=list)
    indirect: Lin = field(default_factory=dict)
    # Table functions (UNNEST, LATERAL FLATTEN ...): every column comes from their input.
    wildcard: Lin | None = None
    # Qualifiers of unexpanded stars ("" for a bare `*`), for columns asked of this scope.
    stars: list[str] = field(default_factory=list)

    def output(self, name: str) -> Lin | None:
        for out_name, lin in self.outputs:
            if out_name == name:
                return lin
        return self.wildcard


@dataclass(slots=True)
class ColumnWalker:
    naming: Naming
    unresolved: set[str] = field(default_factory=set)
    _memo: dict[int, ScopeLineage] = field(default_factory=dict)
    _subqueries: dict[int, Scope] = field(default_factory=dict)
    _names: dict[int, str] = field(default_factory=dict)

    def lineage(self, scope: Scope) -> ScopeLineage:
        key = id(scope.expression)
        found = self._memo.get(key)
        if found is not None:
            return found
        result = ScopeLineage()
        # Registered before the walk: a recursive CTE reading itself sees what its
        # anchor branch contributed so far instead of recursing forever.
        self._memo[key] = result
        for sub in scope.subquery_scopes:
            self._subqueries[id(sub.expression)] = sub
        inner = _lateral_subquery(scope)
        if inner is not None:
            # LATERAL (SELECT ...) x: x's columns are the subquery's, unchanged.
            part = self.lineage(inner)
            result.outputs, result.indirect, result.stars = part.outputs, part.indirect, part.stars
        elif isinstance(scope.expression, exp.SetOperation):
            self._set_operation(scope, result)
        elif isinstance(scope.expression, exp.Select):
            self._select(scope, result)
        else:
            result.wildcard = self._walk_all(scope.expression, TRANSFORMATION, scope)
        return result

    # -- scope kinds -------------------------------------------------------------------

    def _set_operation(self, scope: Scope, result: ScopeLineage) -> None:
        # `a EXCEPT b`: b's values never reach the output, they only remove rows.
        excluding = isinstance(scope.expression, exp.Except)
        for position, branch in enumerate(scope.set_operation_scopes):
            part = self.lineage(branch)
            if excluding and position > 0:
                for _, out in part.outputs:
                    merge(result.indirect, out, FILTER)
                merge(result.indirect, part.indirect, FILTER)
                continue
            if not result.outputs:
                result.outputs = [(name, dict(lin)) for name, lin in part.outputs]
            else:
                for (_, mine), (_, theirs) in zip(result.outputs, part.outputs, strict=False):
                    merge(mine, theirs)
            merge(result.indirect, part.indirect)

    def _select(self, scope: Scope, result: ScopeLineage) -> None:
        select = scope.expression
        for projection in select.expressions:
            expr = projection.unalias()
            if _is_star(expr):
                result.stars.append(expr.table if isinstance(expr, exp.Column) else "")
                result.outputs.append((STAR, {}))
                continue
            # A scalar subquery passes its one value through unchanged.
            root = IDENTITY if isinstance(expr, (exp.Column, exp.Subquery)) else TRANSFORMATION
            result.outputs.append((projection.alias_or_name, self._walk_all(expr, root, scope)))
        self._indirect(scope, select, result)

    def _indirect(self, scope: Scope, select: exp.Select, result: ScopeLineage) -> None:
        into = result.indirect
        # ORDER BY (and, in some dialects, GROUP BY / HAVING) may name an output alias,
        # which qualify_columns leaves bare: it stands for that projection's lineage.
        aliases = {name: lin for name, lin in result.outputs if name != STAR}
        for join in select.args.get("joins") or []:
            if join.args.get("on") is not None:
                merge(into, self._walk_all(join.args["on"], JOIN, scope))
            for ident in join.args.get("using") or []:
                self._using(scope, join, ident.name, into)
        for arg, transform in (
            ("where", FILTER),
            ("having", FILTER),
            ("qualify", FILTER),
            ("group", GROUP_BY),
            ("order", SORT),
        ):
            node = select.args.get(arg)
            if node is not None:
                merge(into, self._walk_all(node, transform, scope, aliases))
        # Rows a derived table or CTE drops (its joins, filters) shape this query too.
        for _, source in scope.selected_sources.values():
            if isinstance(source, Scope):
                merge(into, self.lineage(source).indirect)

    def _using(self, scope: Scope, join: exp.Join, name: str, into: Lin) -> None:
        for alias in (join.this.alias_or_name, *list(scope.selected_sources)[:1]):
            self._column(alias, name, JOIN, into, scope)

    def _column(self, alias: str, name: str, ctx: str, lin: Lin, scope: Scope) -> None:
        pivoted = _pivot(scope, alias)
        if pivoted is not None:
            self._pivot_column(*pivoted, name, ctx, lin, scope)
        else:
            self._source_column(alias, name, ctx, lin, scope)

    def _source_column(self, alias: str, name: str, ctx: str, lin: Lin, scope: Scope) -> None:
        source = _resolve(scope, alias)
        if isinstance(source, exp.Table):
            if isinstance(source.this, exp.Identifier):
                lin.setdefault(ctx, set()).add((self._table_name(source), name))
            return
        if isinstance(source, Scope):
            child = self.lineage(source)
            found = child.output(name)
            if found is not None:
                merge(lin, found, ctx)
                return
            through = _star_source(child, source)
            if through is not None:
                # `SELECT * FROM one_source`: whatever the outer query asks of it passes
                # through to that source, schema or not.
                self._column(through, name, ctx, lin, source)
                return
        self.unresolved.add(f"{alias}.{name}")

    def _pivot_column(
        self, source: str, pivot: exp.Pivot, name: str, ctx: str, lin: Lin, scope: Scope
    ) -> None:
        """A column of `source PIVOT (agg(v) FOR k IN (...)) AS alias`.

        A pivoted column is the aggregate of the value column over the rows whose `k`
        matched: AGGREGATION from v, CONDITIONAL from k. Every other column is one of
        the source's, passed through (the implicit grouping keys)."""
        pivoted = [c.name for c in pivot.args.get("columns") or []]
        renamed = pivot.alias_column_names
        if renamed and len(renamed) >= len(pivoted):
            # `AS p (a, b, q1, q2)` renames the whole output: the pivoted columns last.
            split = len(renamed) - len(pivoted)
            renames = dict(zip(renamed[split:], pivoted, strict=True))
            if name not in renames:
                name = self._implicit_name(source, pivot, renamed[:split], name, scope)
            else:
                name = renames[name]
        if name not in pivoted:
            # Straight to the source: an unaliased pivot answers to the source's name.
            self._source_column(source, name, ctx, lin, scope)
            return
        for agg in _aggregations_for(pivot, name):
            merge(lin, self._walk_all(agg, TRANSFORMATION, scope), ctx)
        for pivot_for in pivot.args.get("fields") or []:
            keys = pivot_for.this if isinstance(pivot_for, exp.In) else pivot_for
            merge(lin, self._walk_all(keys, CONDITIONAL, scope), ctx)

    def _implicit_name(
        self, source: str, pivot: exp.Pivot, renamed: list[str], name: str, scope: Scope
    ) -> str:
        """The source column that alias column `name` renames: the source's columns
        not read by the PIVOT, in order. Unknown order: assume the name is unchanged."""
        child = _resolve(scope, source)
        if not isinstance(child, Scope):
            return name
        outputs = [n for n, _ in self.lineage(child).outputs]
        used = {c.name for c in pivot.find_all(exp.Column) if c.table == source}
        implicit = [n for n in outputs if n not in used]
        if STAR in outputs or len(implicit) != len(renamed) or name not in renamed:
            return name
        return implicit[renamed.index(name)]

    def _table_name(self, table: exp.Table) -> str:
        # Every column read resolves its table's name: once per table node is enough.
        key = id(table)
        found = self._names.get(key)
        if found is None:
            found = self._names[key] = table_name(table, self.naming)
        return found

    def star_sources(self, scope: Scope) -> set[str]:
        """Base tables behind the unexpanded stars of `scope`'s output."""
        found: set[str] = set()
        for qualifier in self.lineage(scope).stars:
            for alias, (_, source) in scope.selected_sources.items():
                if qualifier and alias != qualifier:
                    continue
                if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
                    found.add(table_name(source, self.naming))
                elif isinstance(source, Scope):
                    found |= self.star_sources(source)
        return found

    # -- expressions -------------------------------------------------------------------

    def _walk_all(
        self, root: exp.Expr, ctx: str, scope: Scope, aliases: dict[str, Lin] | None = None
    ) -> Lin:
        lin: Lin = {}
        for node, node_ctx in self._nodes(root, ctx):
            if isinstance(node, exp.Column):
                if _is_star(node):
                    pass  # COUNT(t.*) and the like: no column to attribute
                elif node.table and node.table != UNRESOLVED:
                    self._column(node.table, node.name, node_ctx, lin, scope)
                elif aliases and not node.table and node.name in aliases:
                    merge(lin, aliases[node.name], node_ctx)
                else:
                    self.unresolved.add(node.name)
                continue
            sub = self._subqueries.get(id(node))
            if sub is not None:
                part = self.lineage(sub)
                for _, out in part.outputs:
                    merge(lin, out, node_ctx)
                merge(lin, part.indirect, node_ctx)
        return lin

    def _nodes(self, root: exp.Expr, ctx: str) -> Iterator[tuple[exp.Expr, str]]:
        """Leaves (columns, subqueries) under `root`, each with the transform that
        reaches it. Iterative: long expression chains must not hit the recursion limit."""
        stack = [(root, ctx)]
        while stack:
            node, ctx = stack.pop()
            if isinstance(node, exp.Column) or id(node) in self._subqueries:
                yield node, ctx
                continue
            if isinstance(node, exp.Query) and not isinstance(node, exp.Subquery):
                continue  # a query outside this scope's subqueries: walked elsewhere
            if ctx == IDENTITY and not isinstance(node, exp.Subquery):
                ctx = TRANSFORMATION  # a subquery's parentheses change nothing
            stack.extend(_children(node, ctx))


def _children(node: exp.Expr, ctx: str) -> list[tuple[exp.Expr, str]]:
    indirect = ctx.startswith("INDIRECT")
    if isinstance(node, exp.Window):
        spec = [(p, ctx if indirect else WINDOW) for p in node.args.get("partition_by") or []]
        if node.args.get("order") is not None:
            spec.append((node.args["order"], ctx if indirect else WINDOW))
        return [(node.this, ctx), *spec]
    if isinstance(node, exp.AggFunc) and not isinstance(node, _NAVIGATION) and not indirect:
        ctx = AGGREGATION
    cond = ctx if indirect else CONDITIONAL
    if isinstance(node, exp.Case):
        out = [(node.this, cond)] if node.this is not None else []
        for if_ in node.args.get("ifs") or []:
            out += [(if_.this, cond), (if_.args.get("true"), ctx)]
        out.append((node.args.get("default"), ctx))
        return [(n, c) for n, c in out if n is not None]
    if isinstance(node, exp.If):
        out = [(node.this, cond), (node.args.get("true"), ctx), (node.args.get("false"), ctx)]
        return [(n, c) for n, c in out if n is not None]
    return [(child, ctx) for child in node.iter_expressions()]


def _is_star(node: exp.Expr) -> bool:
    return isinstance(node, exp.Star) or (isinstance(node, exp.Column) and node.is_star)


def _star_source(child: ScopeLineage, scope: Scope) -> str | None:
    """The one source a column can come from through the stars of `scope`, if unique."""
    if not child.stars:
        return None
    aliases = {
        alias
        for qualifier in child.stars
        for alias in scope.selected_sources
        if not qualifier or alias == qualifier
    }
    return aliases.pop() if len(aliases) == 1 else None


def _pivot(scope: Scope, alias: str) -> tuple[str, exp.Pivot] | None:
    """(source alias, PIVOT) when `alias` names the output of a PIVOT in `scope`'s FROM
    or JOINs (by the pivot's alias, else by its source's). UNPIVOT is not followed."""
    for source_alias, (node, _) in scope.selected_sources.items():
        for pivot in node.args.get("pivots") or []:
            if pivot.args.get("unpivot") or not pivot.args.get("columns"):
                continue
            if (pivot.alias or source_alias) == alias:
                return source_alias, pivot
    return None


def _aggregations_for(pivot: exp.Pivot, column: str) -> list[exp.Expr]:
    """The aggregates behind one pivoted column. With several (`SUM(a) AS s, AVG(b) AS
    av`), sqlglot names the columns `<value>_<alias>` (or `<alias>_<value>`): pick by
    that; when no alias matches, all of them (over-reporting beats losing lineage)."""
    aggs = list(pivot.expressions)
    if len(aggs) > 1:
        named = [
            a
            for a in aggs
            if a.alias and (column.endswith(f"_{a.alias}") or column.startswith(f"{a.alias}_"))
        ]
        aggs = named or aggs
    return [a.unalias() for a in aggs]


def _lateral_subquery(scope: Scope) -> Scope | None:
    if not isinstance(scope.expression, exp.Lateral):
        return None
    if not isinstance(scope.expression.this, exp.Subquery):
        return None
    return next((s for s in scope.sources.values() if isinstance(s, Scope)), None)


def _resolve(scope: Scope | None, alias: str) -> exp.Expr | Scope | None:
    """The source an alias names, looking outwards for correlated references."""
    while scope is not None:
        source = scope.sources.get(alias)
        if source is not None:
            return source
        scope = scope.parent
    return None
