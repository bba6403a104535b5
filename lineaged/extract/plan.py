"""What a parsed statement does: its kind, what it writes, and the query feeding it.

Every write is reduced to one shape — a target table, optional target column names and
a query whose projections produce those columns — so a single column-lineage walk
serves INSERT, CTAS, views, SELECT INTO, UPDATE and MERGE alike. UPDATE and MERGE are
rewritten into an equivalent SELECT (`FROM target JOIN source ON ...`, one projection
per assignment, WHEN conditions as extra projections) for that purpose only.

Kinds: select, insert, create_table_as, create_view, create_table, select_into, merge,
update, delete, drop, alter_rename, alter_swap, alter_exchange, copy, unload, other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from lineaged.extract.datasets import path_table

# How a projection of a rewritten UPDATE/MERGE relates to its target column.
VALUE, CONDITION = "value", "condition"


@dataclass(slots=True)
class Plan:
    kind: str
    target: exp.Table | None = None
    query: exp.Expr | None = None
    # Target column names as written (INSERT (a, b), CREATE VIEW v (a, b)); None = by query.
    target_columns: list[str] | None = None
    # For rewritten UPDATE/MERGE: projection alias -> (target column, VALUE|CONDITION).
    roles: dict[str, tuple[str, str]] | None = None
    temporary: bool = False
    # UPDATE/MERGE/DELETE read their own target; it is the target, not a source.
    target_is_source: bool = True
    ddl_columns: list[tuple[str, str]] = field(default_factory=list)
    # ALTER TABLE a RENAME TO b / a EXCHANGE PARTITION ... WITH TABLE b: the old / other.
    renamed_from: exp.Table | None = None
    # ALTER TABLE a SWAP WITH b: b.
    swapped_with: exp.Table | None = None
    # Spark MERGE ... UPDATE SET * / INSERT *: the USING relation whose columns (those
    # the schema knows for the target) fill the target's columns of the same name.
    star_from: exp.Expr | None = None
    dropped: list[exp.Table] = field(default_factory=list)


def plan(stmt: exp.Expr) -> Plan:
    for kind, handler in _HANDLERS:
        if isinstance(stmt, kind):
            return handler(stmt)
    return Plan("other")


def _select(stmt: exp.Expr) -> Plan:
    # `SELECT ... INTO t FROM a UNION ALL SELECT ... FROM b`: the INTO sits on the
    # first branch but applies to the whole set operation.
    first = stmt
    while isinstance(first, exp.SetOperation):
        first = first.this
    into = first.args.get("into") if isinstance(first, exp.Select) else None
    if into is None or not isinstance(into.this, exp.Table):
        return Plan("select", query=stmt)
    query = stmt.copy()
    first = query
    while isinstance(first, exp.SetOperation):
        first = first.this
    first.set("into", None)
    temporary = bool(into.args.get("temporary")) or _has_temp_flag(into.this)
    return Plan("select_into", target=into.this, query=query, temporary=temporary)


def _insert(stmt: exp.Insert) -> Plan:
    target, columns = _split_schema(stmt.this)
    directory = stmt.this
    if isinstance(directory, exp.Directory) and isinstance(directory.this, exp.Literal):
        target = path_table(directory.this.name)  # INSERT OVERWRITE [LOCAL] DIRECTORY
    if target is None:
        return Plan("other")
    query = stmt.expression
    while isinstance(query, exp.Subquery) and not query.alias:
        query = query.this  # INSERT INTO t (a, b) (SELECT ...) / (WITH ... SELECT ...)
    if isinstance(query, exp.Values) and query.find(exp.Subquery):
        query = _values_as_select(query)
    with_ = stmt.args.get("with_")
    if with_ is not None and isinstance(query, exp.Query) and not query.args.get("with_"):
        query = query.copy()
        query.set("with_", with_.copy())  # `WITH c AS (...) INSERT ...` belongs to the query
    return Plan("insert", target=target, query=query, target_columns=columns)


def _create(stmt: exp.Create) -> Plan:
    kind = (stmt.args.get("kind") or "").upper()
    target, columns = _split_schema(stmt.this)
    if target is None or kind not in {"TABLE", "VIEW"}:
        return Plan("other")
    temporary = _is_temporary(stmt, target)
    query = stmt.expression
    clone = stmt.args.get("clone")
    if clone is not None and isinstance(clone.this, exp.Table):
        query = exp.select("*").from_(clone.this.copy())  # Snowflake/BigQuery CLONE: a copy
    if isinstance(query, exp.Subquery):
        query = query.unnest()
    if isinstance(query, exp.Query):
        plan_kind = "create_view" if kind == "VIEW" else "create_table_as"
        with_ = stmt.args.get("with_")
        if with_ is not None and not query.args.get("with_"):
            query = query.copy()
            query.set("with_", with_.copy())
        return Plan(
            plan_kind, target=target, query=query, target_columns=columns, temporary=temporary
        )
    if kind != "TABLE":
        return Plan("other")
    like = stmt.find(exp.LikeProperty)
    return Plan(
        "create_table",
        target=target,
        temporary=temporary,
        ddl_columns=_column_defs(stmt.this),
        query=exp.select("*").from_(like.this.copy()) if like is not None else None,
    )


def _update(stmt: exp.Update) -> Plan:
    target, target_joins = _detach_joins(stmt.this)
    if not isinstance(target, exp.Table):
        return Plan("other")
    from_ = stmt.args.get("from_")
    relation, joins = _detach_joins(from_.this) if from_ else (None, [])
    joins = target_joins + joins  # MySQL: UPDATE t JOIN s ON ... SET ...
    # T-SQL `UPDATE a SET ... FROM t a JOIN ...`: `a` names a FROM alias, not a table.
    target = _resolve_alias(target, [relation, *[j.this for j in joins]])
    query = exp.Select().from_(_relation(target))
    if relation is not None and relation is not target:
        query = query.join(relation, join_type="CROSS")
    for join in joins:
        query = query.join(join)
    roles: dict[str, tuple[str, str]] = {}
    for eq in stmt.expressions:
        if isinstance(eq, exp.EQ) and isinstance(eq.this, exp.Column):
            _project(query, roles, eq.this.name, eq.expression, VALUE)
    if stmt.args.get("where"):
        query.set("where", stmt.args["where"].copy())
    _carry_with(stmt, query)
    return Plan("update", target=_bare(target), query=query, roles=roles, target_is_source=False)


def _merge(stmt: exp.Merge) -> Plan:
    target, using = stmt.this, stmt.args.get("using")
    if not isinstance(target, exp.Table) or using is None:
        return Plan("other")
    query = exp.Select().from_(_relation(target))
    query = query.join(using.copy(), on=stmt.args.get("on").copy() if stmt.args.get("on") else None)
    roles: dict[str, tuple[str, str]] = {}
    whens = stmt.args.get("whens")
    star_from = None
    for when in whens.expressions if whens else []:
        if _assigns_star(when.args.get("then")):
            star_from = using
            continue
        assigned = _when_assignments(when.args.get("then"))
        for column, value in assigned:
            _project(query, roles, column, value, VALUE)
            if when.args.get("condition") is not None:
                _project(query, roles, column, when.args["condition"], CONDITION)
    _carry_with(stmt, query)
    return Plan(
        "merge",
        target=_bare(target),
        query=query,
        roles=roles,
        target_is_source=False,
        star_from=star_from,
    )


def _assigns_star(then: exp.Expr | None) -> bool:
    """Spark/Delta `UPDATE SET *` and `INSERT *`."""
    if isinstance(then, exp.Update):
        return any(isinstance(e, exp.Star) for e in then.expressions)
    return isinstance(then, exp.Insert) and isinstance(then.this, exp.Star)


def _when_assignments(then: exp.Expr | None) -> list[tuple[str, exp.Expr]]:
    if isinstance(then, exp.Update):
        return [
            (eq.this.name, eq.expression)
            for eq in then.expressions
            if isinstance(eq, exp.EQ) and isinstance(eq.this, exp.Column)
        ]
    if isinstance(then, exp.Insert):
        cols, vals = then.this, then.expression
        if isinstance(cols, exp.Tuple) and isinstance(vals, exp.Tuple):
            return [(c.name, v) for c, v in zip(cols.expressions, vals.expressions, strict=False)]
    return []


def _values_as_select(values: exp.Values) -> exp.Query:
    """`VALUES (1, (SELECT max(id) FROM u)), ...` as `SELECT 1, (SELECT ...) UNION ALL
    ...`: the same rows, in a shape whose subqueries the lineage walk reads."""
    rows = [
        exp.select(*(v.copy() for v in row.expressions))
        for row in values.expressions
        if isinstance(row, exp.Tuple)
    ]
    query: exp.Query = rows[0]
    for row in rows[1:]:
        query = exp.union(query, row, distinct=False)
    return query


def _delete(stmt: exp.Delete) -> Plan:
    target = stmt.this
    tables = stmt.args.get("tables") or []
    if not isinstance(target, exp.Table) and len(tables) == 1:
        target = tables[0]  # T-SQL `DELETE dbo.t WHERE ...` (FROM is optional)
        stmt = stmt.copy()
        stmt.set("tables", None)
    if not isinstance(target, exp.Table):
        return Plan("other")
    relation, joins = _detach_joins(target)
    aliases = stmt.args.get("tables") or []
    if aliases:  # T-SQL `DELETE a FROM t a JOIN s ...`
        target = _resolve_alias(aliases[0], [relation, *[j.this for j in joins]])
    query = exp.Select(expressions=[exp.Literal.number(1)]).from_(relation)
    for join in joins:
        query = query.join(join)
    using = stmt.args.get("using")
    for extra in using if isinstance(using, list) else []:
        query = query.join(extra.copy(), join_type="CROSS")
    if stmt.args.get("where"):
        query.set("where", stmt.args["where"].copy())
    _carry_with(stmt, query)
    return Plan("delete", target=_bare(target), query=query, target_is_source=False)


def _drop(stmt: exp.Drop) -> Plan:
    kind = (stmt.args.get("kind") or "").upper()
    tables = [t for t in stmt.args.get("tables") or [stmt.this] if isinstance(t, exp.Table)]
    if kind not in {"TABLE", "VIEW"} or not tables:
        return Plan("other")
    return Plan("drop", target=tables[0], dropped=tables)


def _alter(stmt: exp.Alter) -> Plan:
    actions = stmt.args.get("actions") or []
    swap = next((a for a in actions if isinstance(a, exp.SwapTable)), None)
    if swap is not None and isinstance(stmt.this, exp.Table) and isinstance(swap.this, exp.Table):
        return Plan("alter_swap", target=stmt.this, swapped_with=swap.this)
    rename = next((a for a in actions if isinstance(a, exp.AlterRename)), None)
    if rename is None or not isinstance(stmt.this, exp.Table):
        return Plan("other")
    new = rename.this.copy()
    old = stmt.this
    # `ALTER TABLE s.a RENAME TO b` keeps the table in schema s.
    for part in ("db", "catalog"):
        if not new.args.get(part) and old.args.get(part):
            new.set(part, old.args[part].copy())
    return Plan("alter_rename", target=new, renamed_from=old)


def _copy(stmt: exp.Copy) -> Plan:
    """COPY [INTO] x FROM y / COPY x TO y: x is a table (or a stage), y files, a stage
    or a query. Table-level only: which columns a file holds is not known."""
    table, columns = _split_schema(stmt.this)
    files = stmt.args.get("files") or []
    if stmt.args.get("kind"):  # FROM: load into `this`
        source = next((f for f in files if isinstance(f, (exp.Table, exp.Subquery))), None)
        literal = next((f for f in files if isinstance(f, exp.Literal) and f.is_string), None)
        if source is None and literal is not None:
            source = path_table(literal.name)
        query = _reading(source)
        return Plan("copy", target=table, query=query) if table else Plan("other")
    literal = next((f for f in files if isinstance(f, exp.Literal) and f.is_string), None)
    if literal is None:
        return Plan("other")  # COPY t TO STDOUT
    if table is not None:
        query = exp.select(*(columns or ["*"])).from_(table.copy())
    else:
        query = _reading(stmt.this)
    return Plan("copy", target=path_table(literal.name), query=query)


def _reading(source: exp.Expr | None) -> exp.Expr | None:
    if isinstance(source, exp.Subquery):
        return source.unnest().copy()
    if isinstance(source, exp.Table):
        return exp.select("*").from_(source.copy())
    return None


_HANDLERS: tuple[tuple[type, object], ...] = (
    (exp.Query, _select),
    (exp.Insert, _insert),
    (exp.Create, _create),
    (exp.Update, _update),
    (exp.Merge, _merge),
    (exp.Delete, _delete),
    (exp.Drop, _drop),
    (exp.Alter, _alter),
    (exp.Copy, _copy),
)


# -- helpers ---------------------------------------------------------------------------


def _split_schema(node: exp.Expr | None) -> tuple[exp.Table | None, list[str] | None]:
    """`t` or `t (a, b)` (an exp.Schema) -> (table, [a, b] or None)."""
    if isinstance(node, exp.Schema) and isinstance(node.this, exp.Table):
        names = [e.name for e in node.expressions if isinstance(e, (exp.Identifier, exp.Column))]
        return node.this, names or None
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
        return node, None
    return None, None


def _column_defs(node: exp.Expr | None) -> list[tuple[str, str]]:
    if not isinstance(node, exp.Schema):
        return []
    return [
        (d.name, d.args["kind"].sql() if d.args.get("kind") else "UNKNOWN")
        for d in node.expressions
        if isinstance(d, exp.ColumnDef)
    ]


def _is_temporary(stmt: exp.Create, target: exp.Table) -> bool:
    props = stmt.args.get("properties")
    flags = (exp.TemporaryProperty, exp.VolatileProperty)
    if props is not None and any(isinstance(p, flags) for p in props.expressions):
        return True
    return _has_temp_flag(target)


def _has_temp_flag(table: exp.Table) -> bool:
    ident = table.this
    return bool(isinstance(ident, exp.Identifier) and ident.args.get("temporary")) or (
        table.name.startswith("#")
    )


def _detach_joins(relation: exp.Expr) -> tuple[exp.Expr, list[exp.Join]]:
    """T-SQL hangs `JOIN`s off the FROM table of UPDATE/DELETE; lift them out."""
    relation = relation.copy()
    joins = list(relation.args.get("joins") or [])
    relation.set("joins", None)
    return relation, joins


def _resolve_alias(target: exp.Table, relations: list[exp.Expr | None]) -> exp.Table:
    if target.db:
        return target
    for rel in relations:
        if isinstance(rel, exp.Table) and rel.alias and rel.alias == target.name:
            return rel
    return target


def _relation(target: exp.Table) -> exp.Table:
    return target.copy()


def _bare(table: exp.Table) -> exp.Table:
    """The table without alias/joins: the name a write goes to."""
    return exp.Table(
        **{k: table.args[k].copy() for k in ("this", "db", "catalog") if table.args.get(k)}
    )


def _project(query: exp.Select, roles: dict, column: str, value: exp.Expr, role: str) -> None:
    # Quoted synthetic aliases survive identifier normalisation unchanged.
    alias = f"__lineaged_{len(roles)}"
    query.select(exp.alias_(value.copy(), exp.to_identifier(alias, quoted=True)), copy=False)
    roles[alias] = (column, role)


def _carry_with(stmt: exp.Expr, query: exp.Select) -> None:
    with_ = stmt.args.get("with_")
    if with_ is not None:
        query.set("with_", with_.copy())


def expand_merge_star(p: Plan, columns: list[str]) -> None:
    """MERGE ... UPDATE SET * / INSERT *: each of `columns` (the target's) is assigned
    from the USING relation's column of the same name, unless a WHEN names it."""
    assigned = {column for column, _ in (p.roles or {}).values()}
    alias = exp.to_identifier(p.star_from.alias_or_name)
    for name in columns:
        if name not in assigned:
            value = exp.Column(this=exp.to_identifier(name, quoted=True), table=alias)
            _project(p.query, p.roles, name, value, VALUE)
