"""extract_text(): split a file into statements and turn each into a StatementLineage.

Composition only; every step lives in its own module. Each statement runs inside its
own try/except so that one bad statement carries its error and the others survive.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from lineaged.extract.bounds import MAX_FILE_CHARS, check_bounds
from lineaged.extract.commands import plan_command, plan_from_tokens
from lineaged.extract.context import (
    FileContext,
    declare_table_variables,
    learn_variables,
    use_database,
)
from lineaged.extract.ddl import create_table_from_tokens
from lineaged.extract.errors import at, not_understood, parse_error, short
from lineaged.extract.heads import has_no_lineage, is_use, looks_like_data_statement
from lineaged.extract.lineage import statement_lineage
from lineaged.extract.names import Naming
from lineaged.extract.parse import parse
from lineaged.extract.plan import plan
from lineaged.extract.promote import promote_final_select
from lineaged.extract.schema import UNKNOWN_TYPE, SchemaIndex, usage_fingerprint
from lineaged.extract.split import Chunk, split
from lineaged.model import FileLineage, StatementLineage, TableSchema


def extract_text(
    text: str,
    dialect: Dialect,
    version: str,
    schema: Mapping[str, Mapping[str, str]] | None,
    catalog: str | None,
    db: str | None,
    file_error: str | None = None,
    corpus: Mapping[str, Mapping[str, str]] | None = None,
    target: str | None = None,
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
    if target is not None:
        # The final bare SELECT writes `target` (a path rule, a dbt model): see promote.py.
        statements, promoted = promote_final_select(statements, target)
        if promoted is not None and promoted in ctx.select_outputs:
            ctx.schema.define(target, dict.fromkeys(ctx.select_outputs[promoted], UNKNOWN_TYPE))
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
                inner = [Chunk([], piece, error=f"line {line + 1}, column 1: {short(exc)}")]
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
        learn_variables(chunk, ctx)
        if ctx.tsql:
            declare_table_variables(chunk, ctx)
        return StatementLineage(index, line, "other")
    if is_use(chunk.tokens):
        use_database(chunk, ctx)
        return StatementLineage(index, line, "other")
    if has_no_lineage(chunk.tokens):
        return StatementLineage(index, line, "other")
    try:
        too_big = check_bounds(chunk)
        if too_big:
            return StatementLineage(index, line, "other", error=too_big)
        by_tokens = plan_from_tokens(chunk.tokens, chunk.sql, ctx.dialect)
        if by_tokens is not None:
            return statement_lineage(index, line, by_tokens, ctx)
        stmt = parse(chunk, ctx)
        if stmt is None:
            return StatementLineage(index, line, "other")
        if isinstance(stmt, exp.Command):
            command = plan_command(stmt, ctx.dialect)
            if command is not None:
                return statement_lineage(index, line, command, ctx)
            if looks_like_data_statement(chunk.tokens):
                return StatementLineage(index, line, "other", error=not_understood(chunk))
        return statement_lineage(index, line, plan(stmt), ctx)
    except ParseError as exc:
        ddl = create_table_from_tokens(chunk.tokens, chunk.sql, ctx.dialect)
        if ddl is not None:
            return statement_lineage(index, line, ddl, ctx)
        return StatementLineage(index, line, "other", error=parse_error(exc, chunk))
    except RecursionError:
        return StatementLineage(index, line, "other", error=at(chunk, "nesting too deep"))
    except Exception as exc:
        return StatementLineage(index, line, "other", error=at(chunk, short(exc)))
