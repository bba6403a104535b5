"""Plans for statements sqlglot keeps only as an opaque `Command` (or cannot parse)
but whose lineage is plain from their text: Redshift `UNLOAD ('query') TO 'location'`,
Hive/Spark `ALTER TABLE a EXCHANGE PARTITION (...) WITH TABLE b`, BigQuery `CREATE
SNAPSHOT TABLE a CLONE b`, T-SQL `BULK INSERT t
FROM 'file'` and `INSERT INTO t [(cols)] EXEC procedure ...`."""

from __future__ import annotations

import re

from sqlglot import exp, parse_one
from sqlglot.dialects.dialect import Dialect
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.tokens import Token, TokenType

from lineaged.extract.datasets import path_table
from lineaged.extract.plan import Plan
from lineaged.extract.split import word

_UNLOAD = re.compile(r"^\s*\(\s*'((?:[^']|'')*)'\s*\)\s*TO\s+'((?:[^']|'')*)'", re.I | re.S)
# BigQuery `CREATE SNAPSHOT TABLE [IF NOT EXISTS] a CLONE b [FOR SYSTEM_TIME ...]`.
_SNAPSHOT = re.compile(
    r"^\s*SNAPSHOT\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\S+)\s+CLONE\s+([^\s;]+)", re.I
)
_EXCHANGE = re.compile(
    r"^\s*TABLE\s+(\S+)\s+EXCHANGE\s+PARTITION\s*\(.*?\)\s*WITH\s+TABLE\s+(\S+?)\s*;?\s*$",
    re.I | re.S,
)


def plan_command(stmt: exp.Command, dialect: Dialect) -> Plan | None:
    """A Plan for the commands above, None for any other command."""
    head = stmt.name.upper()
    body = stmt.expression  # a Literal (UNLOAD) or the raw text (ALTER)
    text = body.name if isinstance(body, exp.Expr) else str(body or "")
    if head == "UNLOAD" and (m := _UNLOAD.match(text)):
        query = _normalized(parse_one(m.group(1).replace("''", "'"), dialect=dialect), dialect)
        target = path_table(m.group(2).replace("''", "'"))
        return Plan("unload", target=target, query=query)
    if head == "CREATE" and (m := _SNAPSHOT.match(text)):
        target, source = (
            _normalized(exp.to_table(n, dialect=dialect), dialect) for n in m.groups()
        )
        return Plan("create_table_as", target=target, query=exp.select("*").from_(source))
    if head == "ALTER" and (m := _EXCHANGE.match(text)):
        into, out_of = (_normalized(exp.to_table(n, dialect=dialect), dialect) for n in m.groups())
        return Plan("alter_exchange", target=into, renamed_from=out_of)
    return None


def _normalized(tree: exp.Expr, dialect: Dialect) -> exp.Expr:
    return normalize_identifiers(tree, dialect=dialect)


def plan_from_tokens(tokens: list[Token], sql: str, dialect: Dialect) -> Plan | None:
    """BULK INSERT and INSERT ... EXEC, from their tokens (sqlglot parses neither)."""
    words = [word(t) for t in tokens[:2]]
    if words == ["BULK", "INSERT"]:
        return _bulk_insert(tokens, sql, dialect)
    if words and words[0] == "INSERT":
        return _insert_exec(tokens, sql, dialect)
    return None


def _bulk_insert(tokens: list[Token], sql: str, dialect: Dialect) -> Plan | None:
    """`BULK INSERT t FROM 'file' WITH (...)`: the file is loaded into t."""
    k = next((i for i, t in enumerate(tokens) if word(t) == "FROM"), None)
    if k is None or k < 3 or k + 1 >= len(tokens) or tokens[k + 1].token_type != TokenType.STRING:
        return None
    table = _table(tokens[2:k], sql, dialect)
    if table is None:
        return None
    source = exp.select("*").from_(path_table(tokens[k + 1].text))
    return Plan("copy", target=table, query=source)


def _insert_exec(tokens: list[Token], sql: str, dialect: Dialect) -> Plan | None:
    """`INSERT [INTO] t [(a, b)] EXEC[UTE] proc ...`: t is written with what a procedure
    returns, which the SQL does not show (no sources)."""
    depth, end = 0, None
    for i, tok in enumerate(tokens[1:], 1):
        depth += (tok.token_type == TokenType.L_PAREN) - (tok.token_type == TokenType.R_PAREN)
        if depth == 0 and word(tok) in {"EXEC", "EXECUTE"}:
            end = i
            break
        if depth == 0 and word(tok) in {"SELECT", "VALUES", "WITH", "DEFAULT"}:
            return None
    if end is None:
        return None
    start = 2 if word(tokens[1]) == "INTO" else 1
    name_end = next(
        (i for i in range(start, end) if tokens[i].token_type == TokenType.L_PAREN), end
    )
    table = _table(tokens[start:name_end], sql, dialect)
    return Plan("insert", target=table) if table is not None else None


def _table(tokens: list[Token], sql: str, dialect: Dialect) -> exp.Table | None:
    if not tokens:
        return None
    try:
        table = exp.to_table(sql[tokens[0].start : tokens[-1].end + 1], dialect=dialect)
    except Exception:
        return None
    return _normalized(table, dialect) if isinstance(table, exp.Table) else None
