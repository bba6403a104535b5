"""Lineage of one planned statement: targets, sources and column edges.

The query of a write is qualified (ours, then sqlglot's column qualification), walked
once for every output column, and its outputs are paired with the target columns.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify_columns import qualify_columns
from sqlglot.optimizer.qualify_tables import qualify_tables
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

from lineaged.extract.columns import CONDITIONAL, STAR, UNNAMED, Base, ColumnWalker, Lin, merge
from lineaged.extract.context import FileContext
from lineaged.extract.names import is_temp_name, table_name
from lineaged.extract.plan import CONDITION, Plan, expand_merge_star
from lineaged.extract.resolve import attribute_unqualified
from lineaged.extract.schema import UNKNOWN_TYPE
from lineaged.extract.tables import source_tables
from lineaged.model import ColumnEdge, IndirectEdge, StatementLineage
from lineaged.qualified import column_id, quote_part


def statement_lineage(index: int, line: int, p: Plan, ctx: FileContext) -> StatementLineage:
    target = table_name(p.target, ctx.naming) if p.target is not None else None
    temporary = target is not None and (p.temporary or target in ctx.temps or is_temp_name(target))
    base = {"index": index, "line": line, "kind": p.kind}
    if p.kind == "other":
        return StatementLineage(**base)
    if p.kind == "drop":
        names = [table_name(t, ctx.naming) for t in p.dropped]
        temps = sorted(n for n in names if n in ctx.temps or is_temp_name(n))
        kept = sorted(set(names) - set(temps))
        return StatementLineage(**base, targets=tuple(kept), temp_targets=tuple(temps))
    if p.kind == "alter_rename":
        old = table_name(p.renamed_from, ctx.naming)
        learned = ctx.schema.get(old)
        if learned and (target in ctx.temps or is_temp_name(target)):
            ctx.schema.add(target, learned)
        elif learned:
            ctx.schema.define(target, learned)
        return StatementLineage(**base, targets=(target,), sources=(old,))
    if p.kind == "alter_exchange":  # the partition moves from the other table into target
        return StatementLineage(
            **base, targets=(target,), sources=(table_name(p.renamed_from, ctx.naming),)
        )
    if p.kind == "alter_swap":
        pair = tuple(sorted({target, table_name(p.swapped_with, ctx.naming)}))
        _swap_schema(ctx, *pair)
        return StatementLineage(**base, targets=pair, sources=pair)

    unresolved: set[str] = set()
    q = QueryLineage()
    if p.star_from is not None and target is not None:
        _expand_merge_star(p, target, ctx, unresolved)
    if p.query is not None:
        # A bare SELECT reports its output columns too (named by output, no table).
        wants_columns = p.kind == "select" or (
            target is not None and p.kind not in TABLE_LEVEL_KINDS
        )
        q = _query_lineage(p, target, ctx, unresolved, with_columns=wants_columns)
    sources = q.sources
    if target is not None and not p.target_is_source:
        sources.discard(target)
    # Temp tables are known for the rest of this file only; the others are what the
    # file defines for the corpus catalog. Columns behind an unexpanded star are not
    # known, so such a query defines nothing for the corpus rather than a partial list.
    if p.kind == "select" and q.columns and not q.star_from:
        ctx.select_outputs[index] = list(q.columns)
    learn = ctx.schema.add if temporary else ctx.schema.define
    if p.ddl_columns:
        learn(target, dict(p.ddl_columns))
    elif q.columns and p.kind in _DEFINING_QUERIES and (temporary or not q.star_from):
        learn(target, {c: UNKNOWN_TYPE for c in q.columns})
    if temporary:
        if q.columns or sources:
            ctx.temps.fill(target, sources, q.columns, q.indirect, q.star_from)
        else:
            ctx.temps.declare(target)
    result = _targets(base, target, temporary, sources)
    return _with_columns(result, target, q.columns, q.indirect, unresolved, temporary)


# Statements whose query's output columns are the target's columns.
_DEFINING_QUERIES = frozenset({"create_table_as", "create_view", "select_into"})


# Kinds whose column lineage is not reported: DELETE moves no values, a DDL has no
# query, and COPY/UNLOAD move whole files whose columns are not known.
TABLE_LEVEL_KINDS = frozenset({"delete", "create_table", "copy", "unload"})


def _swap_schema(ctx: FileContext, a: str, b: str) -> None:
    first, second = ctx.schema.get(a), ctx.schema.get(b)
    if second:
        ctx.schema.add(a, second)
    if first:
        ctx.schema.add(b, first)


def _expand_merge_star(p: Plan, target: str, ctx: FileContext, unresolved: set[str]) -> None:
    """`UPDATE SET *` / `INSERT *` assign every target column from the source column of
    the same name: known only from the schema (of the target, else of the source)."""
    source = p.star_from
    known = ctx.schema.get(target)
    if not known and isinstance(source, exp.Table):
        known = ctx.schema.get(table_name(source, ctx.naming))
    if known:
        expand_merge_star(p, list(known))
    else:
        unresolved.add(f"{target}.*")


@dataclass(slots=True)
class QueryLineage:
    """What the query of a write produces: its base tables, each target column's own
    lineage, and the statement-level indirect edges that apply to every column."""

    sources: set[str] = field(default_factory=set)
    columns: dict[str, Lin] = field(default_factory=dict)
    indirect: Lin = field(default_factory=dict)
    star_from: set[str] = field(default_factory=set)


def _targets(
    base: dict, target: str | None, temporary: bool, sources: set[str]
) -> StatementLineage:
    targets = () if target is None or temporary else (target,)
    temp_targets = (target,) if target is not None and temporary else ()
    return StatementLineage(
        **base, targets=targets, temp_targets=temp_targets, sources=tuple(sorted(sources))
    )


def _with_columns(
    result: StatementLineage,
    target: str | None,
    edges: dict[str, Lin],
    indirect: Lin,
    unresolved: set[str],
    temporary: bool,
) -> StatementLineage:
    columns: list[ColumnEdge] = []
    statement_wide: list[IndirectEdge] = []
    target_columns: list[str] = []
    # A bare SELECT reports its outputs by name alone (promote.py prefixes a target).
    if (target is not None or result.kind == "select") and not temporary:
        # Sharing one object per distinct name and per distinct sources tuple lets
        # pickle (the pool's transport) write each once and refer back to it after
        # that; the values, and so the JSON, are unchanged.
        names: dict[Base, str] = {}
        tuples: dict[tuple[str, ...], tuple[str, ...]] = {}

        def spelled(bases: set[Base]) -> tuple[str, ...]:
            srcs = tuple(sorted(names.get(b) or names.setdefault(b, column_id(*b)) for b in bases))
            return tuples.setdefault(srcs, srcs)

        for column, lin in edges.items():
            target_column = column_id(target, column) if target else quote_part(column)
            target_columns.append(target_column)
            for transform, bases in lin.items():
                if bases:
                    columns.append(ColumnEdge(target_column, spelled(bases), transform))
        # Statement-wide joins/filters/grouping apply to every column written: stated
        # once, not copied onto each column (on warehouse SQL the copies were most of
        # the graph's rows).
        if target_columns:
            statement_wide = [
                IndirectEdge(spelled(bases), transform)
                for transform, bases in sorted(indirect.items())
                if bases
            ]
    columns.sort(key=lambda e: (e.target, e.transform, e.sources))
    return StatementLineage(
        index=result.index,
        line=result.line,
        kind=result.kind,
        targets=result.targets,
        sources=result.sources,
        columns=tuple(columns),
        temp_targets=result.temp_targets,
        unresolved=tuple(sorted(unresolved)),
        target_columns=tuple(sorted(target_columns)),
        indirect=tuple(statement_wide),
    )


def _query_lineage(
    p: Plan, target: str | None, ctx: FileContext, unresolved: set[str], *, with_columns: bool
) -> QueryLineage:
    query = p.query
    if not isinstance(query, (exp.Query, exp.Values)) or isinstance(query, exp.Values):
        return QueryLineage()
    query = qualify_tables(query, dialect=ctx.dialect)
    # One scope tree for the rest: the one built after qualification (rebuilding it
    # per consumer was a third of the scope-building cost).
    root = _qualify_columns(query, ctx) if with_columns else build_scope(query)
    if root is None:
        return QueryLineage()
    read = source_tables(root, ctx.naming)
    result = QueryLineage(sources=ctx.temps.resolve_tables(read))
    if not with_columns:
        return result
    walker = ColumnWalker(ctx.naming)
    _target_edges(p, target, walker, root, ctx, unresolved, result)
    # Rows the temp tables it reads were shaped by (their joins and filters).
    merge(result.indirect, ctx.temps.indirect_of(read))
    unresolved |= walker.unresolved
    return result


def _qualify_columns(query: exp.Expr, ctx: FileContext) -> Scope | None:
    """Qualify every column we can: ours first (single-source attribution, which
    sqlglot does not do without a schema), then sqlglot's (stars, alias references),
    then ours again for what sqlglot's expansion exposed. Returns the scope tree of
    the qualified query (qualification edits nodes in place, never the scopes)."""
    schema = _statement_schema(query, ctx)
    root = build_scope(query)
    if root is None:
        return None
    attribute_unqualified(root, schema, mark=True)
    # On failure keep what is qualified; the rest is reported unresolved.
    with contextlib.suppress(OptimizeError):
        query = qualify_columns(query, schema, expand_alias_refs=True, expand_stars=True)
    root = build_scope(query)
    if root is not None:
        attribute_unqualified(root, schema)
    return root


def _statement_schema(query: exp.Expr, ctx: FileContext) -> MappingSchema:
    """Columns of the tables this statement reads, keyed by bare table name.

    sqlglot's MappingSchema wants every key at one depth; keying by the last part and
    leaving out names that occur twice (a.t and b.t) keeps lookups exact."""
    mapping: dict[str, dict[str, str]] = {}
    clashes: set[str] = set()
    seen: dict[str, str] = {}
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        full = table_name(table, ctx.naming)
        short = table.name
        if seen.setdefault(short, full) != full:
            clashes.add(short)
            continue
        columns = ctx.schema.get(full)
        if columns:
            mapping[short] = columns
    for short in clashes:
        mapping.pop(short, None)
    return MappingSchema(mapping, dialect=ctx.dialect, normalize=False)


def _target_edges(
    p: Plan,
    target: str | None,
    walker: ColumnWalker,
    root: Scope,
    ctx: FileContext,
    unresolved: set[str],
    into: QueryLineage,
) -> None:
    lineage = walker.lineage(root)
    # A star that reaches the target unexpanded: its columns are unknown, say so.
    into.star_from = ctx.temps.resolve_tables(walker.star_sources(root))
    unresolved.update(f"{t}.*" for t in into.star_from)
    per_column: dict[str, Lin] = {}
    for column, lin in _assign(p, target, lineage.outputs, ctx, unresolved):
        merge(per_column.setdefault(column, {}), lin)
    into.columns = {c: ctx.temps.resolve_lin(lin, unresolved) for c, lin in per_column.items()}
    into.indirect = ctx.temps.resolve_lin(lineage.indirect, unresolved)


def _assign(
    p: Plan,
    target: str | None,
    outputs: list[tuple[str, Lin]],
    ctx: FileContext,
    unresolved: set[str],
) -> list[tuple[str, Lin]]:
    """Pair target columns with the query outputs that fill them."""
    if p.roles is not None:
        pairs = []
        for name, lin in outputs:
            column, role = p.roles.get(name, (None, None))
            if column is not None:
                pairs.append((column, _as_condition(lin) if role == CONDITION else lin))
        return pairs
    names = p.target_columns
    if names is None and p.kind == "insert" and target is not None:
        known = ctx.schema.get(target)
        names = list(known) if known else None
    if names is not None:
        return _by_position(names, outputs, target, unresolved)
    pairs = []
    for position, (name, lin) in enumerate(outputs, 1):
        if name == STAR:
            continue  # reported by _target_edges
        if UNNAMED.match(name):
            unresolved.add(f"{target}.?{position}" if target is not None else f"?{position}")
            continue
        pairs.append((name, lin))
    return pairs


def _by_position(
    names: list[str], outputs: list[tuple[str, Lin]], target: str | None, unresolved: set[str]
) -> list[tuple[str, Lin]]:
    pairs = []
    for position, (column, (name, lin)) in enumerate(zip(names, outputs, strict=False)):
        if name == STAR:
            # Positions after an unexpanded star are unknown: say so, do not guess.
            unresolved.update(f"{target}.{c}" for c in names[position:])
            break
        pairs.append((column, lin))
    return pairs


def _as_condition(lin: Lin) -> Lin:
    out: Lin = {}
    merge(out, lin, CONDITIONAL)
    return out
