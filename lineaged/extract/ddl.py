"""A CREATE TABLE (no AS) that sqlglot cannot parse, read from its tokens instead.

What such a statement gives lineage is its target and its column names (they expand
`SELECT *` and resolve columns later in the file). Real DDL is full of engine options
sqlglot does not know (T-SQL in-memory `HASH ... WITH (BUCKET_COUNT = ...)`, inline
`INDEX ... CLUSTERED COLUMNSTORE`, temporal `GENERATED ALWAYS AS ROW START` with
`PERIOD FOR SYSTEM_TIME`, `MASKED WITH (...)`), none of which matters for lineage.
So: the name is the tokens between TABLE and the first bracket, each top-level item
of the bracket that starts with a name is a column, the first word after it its type.
Anything else (no bracket, `AS SELECT`) is left to the parse error.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.tokens import Token, TokenType

from lineaged.extract.plan import Plan
from lineaged.extract.split import word

T = TokenType
_NOT_COLUMNS = frozenset(
    {"CONSTRAINT", "PRIMARY", "UNIQUE", "INDEX", "FOREIGN", "CHECK", "PERIOD", "KEY"}
    | {"LIKE", "EXCLUDE", "FULLTEXT", "SPATIAL"}
)
_NAME_TYPES = frozenset({T.VAR, T.IDENTIFIER})


def create_table_from_tokens(tokens: list[Token], sql: str, dialect: Dialect) -> Plan | None:
    words = [word(t) for t in tokens[:8]]
    if not words or words[0] != "CREATE" or "TABLE" not in words:
        return None
    start = words.index("TABLE") + 1
    while start < len(tokens) and word(tokens[start]) in {"IF", "NOT", "EXISTS"}:
        start += 1
    open_at = next(
        (k for k in range(start, len(tokens)) if tokens[k].token_type == T.L_PAREN), None
    )
    if open_at is None or open_at == start:
        return None
    close_at = _closing(tokens, open_at)
    if close_at is None or any(t.token_type == T.ALIAS for t in tokens[close_at:]):
        return None  # unbalanced, or CREATE TABLE ... AS SELECT: the parse error stands
    try:
        table = exp.to_table(
            sql[tokens[start].start : tokens[open_at - 1].end + 1], dialect=dialect
        )
    except Exception:
        return None
    table = normalize_identifiers(table, dialect=dialect)
    columns = _columns(tokens, open_at, dialect)
    temporary = any(w in {"TEMP", "TEMPORARY", "VOLATILE"} for w in words) or table.name.startswith(
        "#"
    )
    return Plan("create_table", target=table, ddl_columns=columns, temporary=temporary)


def _closing(tokens: list[Token], open_at: int) -> int | None:
    depth = 0
    for k in range(open_at, len(tokens)):
        depth += (tokens[k].token_type == T.L_PAREN) - (tokens[k].token_type == T.R_PAREN)
        if depth == 0:
            return k
    return None


def _columns(tokens: list[Token], open_at: int, dialect: Dialect) -> list[tuple[str, str]]:
    columns: list[tuple[str, str]] = []
    item: list[Token] = []
    depth = 0
    for tok in tokens[open_at:]:
        tt = tok.token_type
        if tt == T.L_PAREN:
            depth += 1
            if depth == 1:
                continue
        elif tt == T.R_PAREN:
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and tt == T.COMMA:
            columns.extend(_column(item, dialect))
            item = []
            continue
        item.append(tok)
    columns.extend(_column(item, dialect))
    return columns


def _column(item: list[Token], dialect: Dialect) -> list[tuple[str, str]]:
    if not item or item[0].token_type not in _NAME_TYPES or word(item[0]) in _NOT_COLUMNS:
        return []
    ident = exp.Identifier(this=item[0].text, quoted=item[0].token_type == T.IDENTIFIER)
    name = normalize_identifiers(ident, dialect=dialect).name
    kind = item[1].text.upper() if len(item) > 1 and word(item[1]) != "AS" else "UNKNOWN"
    return [(name, kind)]
