"""What one extract() call learns while it walks a file's statements in order: script
variables, T-SQL table variables, temp tables, the schema the file's own DDL declares."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.tokens import Token, TokenType

from lineaged.extract.names import Naming, column_name, table_name
from lineaged.extract.parse import parse
from lineaged.extract.schema import UNKNOWN_TYPE, SchemaIndex
from lineaged.extract.split import Chunk, word
from lineaged.extract.temps import TempRegistry


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
    # Output names of each bare SELECT (by statement index), in order, when all are
    # known: what the SELECT defines if a target is given for it (extract/promote.py).
    select_outputs: dict[int, list[str]] = field(default_factory=dict)

    @property
    def tsql(self) -> bool:
        """T-SQL (and its descendants): `@t` in a table's place is a table variable,
        and a few forms sqlglot does not parse are rewritten first (rewrite.py)."""
        # Not imported up front: loading sqlglot's T-SQL dialect costs every other
        # dialect (and `lineaged extract`) its parser, generator and type tables. A
        # dialect that is a TSQL has imported that module itself.
        module = sys.modules.get("sqlglot.dialects.tsql")
        return module is not None and isinstance(self.dialect, module.TSQL)


def learn_variables(chunk: Chunk, ctx: FileContext) -> None:
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


def declare_table_variables(chunk: Chunk, ctx: FileContext) -> None:
    """T-SQL `DECLARE @t TABLE (a INT, ...)`: a temp table from here on (a read before
    any INSERT has no sources), whose declared columns expand `SELECT *`."""
    if not chunk.tokens or chunk.tokens[0].token_type != TokenType.DECLARE:
        return
    try:
        tree = parse(chunk, ctx)
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


# Dialects where a bare `USE x` (or `USE DATABASE x`) names a catalog (database that
# holds schemas); elsewhere `USE x` names a schema (MySQL/Hive/Spark databases).
_CATALOG_USE = frozenset({"tsql", "fabric", "snowflake"})


def use_database(chunk: Chunk, ctx: FileContext) -> None:
    """`USE x` / `USE DATABASE x` / `USE SCHEMA d.s` / `USE CATALOG c`: the defaults
    for unqualified names in the statements after it (a configured default is the
    starting point; this overrides it from here on)."""
    toks = chunk.tokens[1:]
    kind = word(toks[0]) if toks and toks[0].token_type == TokenType.VAR else ""
    if kind in {"DATABASE", "SCHEMA", "CATALOG"}:
        toks = toks[1:]
    elif kind in {"WAREHOUSE", "ROLE", "SECONDARY"}:
        return
    parts = [t for t in toks if t.token_type != TokenType.DOT]
    if not parts or len(parts) > 2 or len(toks) != 2 * len(parts) - 1:
        return
    names = [_folded(t, ctx) for t in parts]
    dialect = type(ctx.dialect).__name__.lower()
    if kind == "CATALOG" or (kind != "SCHEMA" and len(names) == 1 and dialect in _CATALOG_USE):
        ctx.naming = replace(ctx.naming, catalog=names[0], db=None)
    elif len(names) == 2:
        ctx.naming = replace(ctx.naming, catalog=names[0], db=names[1])
    else:
        ctx.naming = replace(ctx.naming, db=names[0])


def _folded(tok: Token, ctx: FileContext) -> str:
    ident = exp.Identifier(this=tok.text, quoted=tok.token_type == TokenType.IDENTIFIER)
    return normalize_identifiers(ident, dialect=ctx.dialect).name
