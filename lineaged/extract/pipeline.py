"""extract(): decode, split, and turn each statement into a StatementLineage.

Composition only; every step lives in its own module. Each statement runs inside its
own try/except so that one bad statement carries its error and the others survive.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import attrgetter

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.dialects.tsql import TSQL
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, TokenError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify_columns import qualify_columns
from sqlglot.optimizer.qualify_tables import qualify_tables
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema
from sqlglot.tokens import TokenType

from lineaged.extract.columns import CONDITIONAL, STAR, UNNAMED, Base, ColumnWalker, Lin, merge
from lineaged.extract.names import (
    Naming,
    column_name,
    is_temp_name,
    name_table_variables,
    table_name,
)
from lineaged.extract.plan import CONDITION, Plan, plan
from lineaged.extract.resolve import attribute_unqualified
from lineaged.extract.schema import UNKNOWN_TYPE, SchemaIndex, usage_fingerprint
from lineaged.extract.split import Chunk, split
from lineaged.extract.tables import source_tables
from lineaged.extract.temps import TempRegistry
from lineaged.model import ColumnEdge, FileLineage, StatementLineage, TableSchema

# Bounds that keep one pathological input from going quadratic or recursing into the
# C stack (sqlglot is compiled with mypyc). Real statements stay far below them.
MAX_FILE_CHARS = 5_000_000
MAX_STATEMENT_TOKENS = 250_000
MAX_NESTING = 120
# Operators chained in one expression (a + b + ... / x AND y AND ...) build a tree as
# deep as the chain, and several sqlglot passes are quadratic in that depth: 5,000 ANDs
# cost ~2.5 s, 20,000 pluses ~35 s. Generated SQL may chain a few hundred.
MAX_OPERATOR_CHAIN = 1_000
_OPERATORS = frozenset(
    {TokenType.AND, TokenType.OR, TokenType.PLUS, TokenType.DASH, TokenType.SLASH}
    | {TokenType.DPIPE, TokenType.EQ, TokenType.NEQ, TokenType.LT, TokenType.GT}
)
_TOKEN_TYPE = attrgetter("token_type")
_OPENING = (TokenType.L_PAREN, TokenType.CASE, TokenType.NOT)
_CHAIN_BREAKS = frozenset(
    {TokenType.COMMA, TokenType.SELECT, TokenType.FROM, TokenType.WHERE, TokenType.ON}
)


@dataclass(slots=True)
class FileContext:
    """State one extract() call accumulates while it walks the file's statements."""

    dialect: Dialect
    naming: Naming
    schema: SchemaIndex
    temps: TempRegistry = field(default_factory=TempRegistry)
    # Script variables (BigQuery/Snowflake `DECLARE x ...`): a bare `x` later in the
    # file is the variable, not a column of whatever table the query reads.
    variables: set[str] = field(default_factory=set)
    parser_opts: dict = field(default_factory=lambda: {"error_level": ErrorLevel.IMMEDIATE})

    @property
    def table_variables(self) -> bool:
        """T-SQL (and its descendants): `@t` in a table's place is a table variable."""
        return isinstance(self.dialect, TSQL)


def extract_text(
    text: str,
    dialect: Dialect,
    version: str,
    schema: Mapping[str, Mapping[str, str]] | None,
    catalog: str | None,
    db: str | None,
    file_error: str | None = None,
    corpus: Mapping[str, Mapping[str, str]] | None = None,
) -> FileLineage:
    name = _dialect_name(dialect)
    if len(text) > MAX_FILE_CHARS:
        msg = f"file too large: {len(text)} characters (limit {MAX_FILE_CHARS}); not extracted"
        return FileLineage(name, version, (), msg)
    if "\x00" in text[:8192]:
        return FileLineage(name, version, (), "binary file (NUL bytes); not extracted")
    naming = Naming.build(dialect, catalog, db)
    ctx = FileContext(dialect, naming, SchemaIndex.build(schema, naming, corpus))
    statements = tuple(
        _statement(index, chunk, ctx) for index, chunk in enumerate(_chunks(text, dialect))
    )
    return FileLineage(
        name,
        version,
        statements,
        file_error,
        defines=_definitions(ctx.schema),
        schema_used=tuple(sorted(ctx.schema.used)),
        schema_fingerprint=usage_fingerprint(ctx.schema.used),
    )


def _definitions(schema: SchemaIndex) -> tuple[TableSchema, ...]:
    return tuple(
        TableSchema(table, tuple(columns.items()), tuple(sorted(deps)))
        for table, (columns, deps) in sorted(schema.defined.items())
    )


def _dialect_name(dialect: Dialect) -> str:
    return type(dialect).__name__.lower()


def _chunks(text: str, dialect: Dialect) -> list[Chunk]:
    try:
        return split(text, dialect)
    except TokenError:
        return _chunks_lenient(text, dialect)


def _chunks_lenient(text: str, dialect: Dialect) -> list[Chunk]:
    """The whole file would not tokenize (an unterminated string or comment): split it
    at lines ending in `;` and tokenize the pieces one by one, so only the piece with
    the bad token is lost."""
    chunks: list[Chunk] = []
    line = 0
    for piece in _semicolon_pieces(text):
        if piece.strip():
            try:
                inner = split(piece, dialect)
            except TokenError as exc:
                inner = [Chunk([], piece, error=f"line {line + 1}, column 1: {_short(exc)}")]
            for c in inner:
                c.line_base += line
            chunks.extend(inner)
        line += piece.count("\n")
    return chunks


def _semicolon_pieces(text: str) -> list[str]:
    pieces, start = [], 0
    for i, ch in enumerate(text):
        if ch == "\n" and text[:i].rstrip(" \t\r").endswith(";"):
            pieces.append(text[start : i + 1])
            start = i + 1
    pieces.append(text[start:])
    return pieces


# -- one statement ----------------------------------------------------------------------


def _statement(index: int, chunk: Chunk, ctx: FileContext) -> StatementLineage:
    line = chunk.line
    if chunk.error:
        return StatementLineage(index, line, "other", error=chunk.error)
    if chunk.control:
        _learn_variables(chunk, ctx)
        if ctx.table_variables:
            _declare_table_variables(chunk, ctx)
        return StatementLineage(index, line, "other")
    try:
        too_big = _check_bounds(chunk)
        if too_big:
            return StatementLineage(index, line, "other", error=too_big)
        stmt = _parse(chunk, ctx)
        if stmt is None:
            return StatementLineage(index, line, "other")
        return _lineage(index, line, plan(stmt), ctx)
    except ParseError as exc:
        return StatementLineage(index, line, "other", error=_parse_error(exc, chunk))
    except RecursionError:
        return StatementLineage(index, line, "other", error=_at(chunk, "nesting too deep"))
    except Exception as exc:
        return StatementLineage(index, line, "other", error=_at(chunk, _short(exc)))


def _learn_variables(chunk: Chunk, ctx: FileContext) -> None:
    """`DECLARE a, b INT64 ...`: remember a and b (folded like column names)."""
    toks = chunk.tokens
    if not toks or toks[0].text.upper() != "DECLARE":
        return
    i = 1
    while i < len(toks) and toks[i].token_type in (TokenType.VAR, TokenType.IDENTIFIER):
        ctx.variables.add(column_name(toks[i].text, ctx.naming))
        if i + 1 >= len(toks) or toks[i + 1].token_type != TokenType.COMMA:
            break
        i += 2


def _declare_table_variables(chunk: Chunk, ctx: FileContext) -> None:
    """T-SQL `DECLARE @t TABLE (a INT, ...)`: a temp table from here on (a read before
    any INSERT has no sources), whose declared columns expand `SELECT *`."""
    if not chunk.tokens or chunk.tokens[0].token_type != TokenType.DECLARE:
        return
    try:
        tree = _parse(chunk, ctx)
    except ParseError:
        return  # not a shape we know; the statement stays `other` either way
    if not isinstance(tree, exp.Declare):
        return
    for item in tree.expressions:
        schema = item.args.get("kind")
        names = item.this if isinstance(item.this, list) else [item.this]
        if not isinstance(schema, exp.Schema) or len(names) != 1:
            continue
        if not isinstance(names[0], exp.Parameter) or not names[0].name:
            continue
        table = exp.Table(this=exp.Identifier(this=f"@{names[0].name}", quoted=False))
        name = table_name(table, ctx.naming, normalized=False)
        ctx.temps.declare(name)
        # Column names went through _parse's normalisation with the rest of the tree.
        ctx.schema.add(name, dict(_declared_columns(schema)))


def _declared_columns(schema: exp.Schema) -> list[tuple[str, str]]:
    return [
        (d.name, d.args["kind"].sql() if d.args.get("kind") else UNKNOWN_TYPE)
        for d in schema.expressions
        if isinstance(d, exp.ColumnDef)
    ]


def _unbind_variables(tree: exp.Expr, variables: set[str]) -> exp.Expr:
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.name in variables:
            column.replace(exp.Var(this=column.name))
    return tree


def _check_bounds(chunk: Chunk) -> str | None:
    if len(chunk.tokens) > MAX_STATEMENT_TOKENS:
        return _at(chunk, f"statement too long ({len(chunk.tokens)} tokens); not extracted")
    # Fast path: nesting and operator chains cannot exceed the total number of tokens
    # that open a level / chain an operator. list.count compares by identity in C;
    # hashing TokenType (an Enum: Python-level __hash__) per token would cost more.
    types = list(map(_TOKEN_TYPE, chunk.tokens))
    opening = sum(map(types.count, _OPENING))
    if opening <= MAX_NESTING and sum(map(types.count, _OPERATORS)) <= MAX_OPERATOR_CHAIN:
        return None
    depth = peak = chain = longest = 0
    for tok in chunk.tokens:
        tt = tok.token_type
        if tt in (TokenType.L_PAREN, TokenType.CASE, TokenType.NOT):
            depth += 1
            peak = max(peak, depth)
        elif tt in (TokenType.R_PAREN, TokenType.END):
            depth -= 1
        if tt in _OPERATORS:
            chain += 1
            longest = max(longest, chain)
        elif tt in _CHAIN_BREAKS:
            chain = 0
    if peak > MAX_NESTING:
        return _at(chunk, f"nesting deeper than {MAX_NESTING} levels; not extracted")
    if longest > MAX_OPERATOR_CHAIN:
        return _at(chunk, f"more than {MAX_OPERATOR_CHAIN} chained operators; not extracted")
    return None


def _parse(chunk: Chunk, ctx: FileContext) -> exp.Expr | None:
    parser = ctx.dialect.parser(**ctx.parser_opts)
    trees = [t for t in parser.parse(chunk.tokens, chunk.sql) if t is not None]
    if not trees:
        return None
    tree = trees[0]
    if ctx.table_variables:
        tree = name_table_variables(tree)
    tree = normalize_identifiers(tree, dialect=ctx.dialect)
    return _unbind_variables(tree, ctx.variables) if ctx.variables else tree


def _at(chunk: Chunk, message: str) -> str:
    first = chunk.tokens[0] if chunk.tokens else None
    if first is None:
        return f"line {chunk.line}, column 1: {message}"
    line, col = chunk.position(first.line, _start_col(chunk.sql, first.start))
    return f"line {line}, column {col}: {message}"


def _start_col(sql: str, offset: int) -> int:
    return offset - (sql.rfind("\n", 0, offset) + 1) + 1


def _parse_error(exc: ParseError, chunk: Chunk) -> str:
    info = exc.errors[0] if exc.errors else {}
    line, col = info.get("line"), info.get("col")
    message = info.get("description") or _short(exc)
    if line is None or col is None:
        return _at(chunk, message)
    # sqlglot reports the column where the offending token ends; point at its start.
    col = max(1, col - len(info.get("highlight") or "x") + 1)
    line, col = chunk.position(line, col)
    return f"line {line}, column {col}: {message}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:200]}"


# -- lineage of one planned statement ---------------------------------------------------


def _lineage(index: int, line: int, p: Plan, ctx: FileContext) -> StatementLineage:
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

    unresolved: set[str] = set()
    q = QueryLineage()
    if p.query is not None:
        wants_columns = target is not None and p.kind not in {"delete", "create_table"}
        q = _query_lineage(p, target, ctx, unresolved, with_columns=wants_columns)
    sources = q.sources
    if target is not None and not p.target_is_source:
        sources.discard(target)
    # Temp tables are known for the rest of this file only; the others are what the
    # file defines for the corpus catalog. Columns behind an unexpanded star are not
    # known, so such a query defines nothing for the corpus rather than a partial list.
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
    edges = {}
    for column, lin in q.columns.items():
        edges[column] = {k: set(v) for k, v in lin.items()}
        merge(edges[column], q.indirect)
    return _with_columns(result, target, edges, unresolved, temporary)


# Statements whose query's output columns are the target's columns.
_DEFINING_QUERIES = frozenset({"create_table_as", "create_view", "select_into"})


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
    unresolved: set[str],
    temporary: bool,
) -> StatementLineage:
    columns: list[ColumnEdge] = []
    if target is not None and not temporary:
        # Statement-level INDIRECT edges repeat the same sources on every target
        # column. Sharing one object per distinct name and per distinct sources tuple
        # lets pickle (the pool's transport) write each once and refer back to it
        # after that; the values, and so the JSON, are unchanged.
        names: dict[Base, str] = {}
        tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
        for column, lin in edges.items():
            target_column = f"{target}.{column}"
            for transform, bases in lin.items():
                if bases:
                    srcs = tuple(
                        sorted(names.get(b) or names.setdefault(b, f"{b[0]}.{b[1]}") for b in bases)
                    )
                    srcs = tuples.setdefault(srcs, srcs)
                    columns.append(ColumnEdge(target_column, srcs, transform))
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
            unresolved.add(f"{target}.?{position}")
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
