"""Bounds that keep one pathological statement from going quadratic or recursing into
the C stack (sqlglot is compiled with mypyc). Real statements stay far below them."""

from __future__ import annotations

from operator import attrgetter

from sqlglot.tokens import TokenType

from lineaged.extract.errors import at
from lineaged.extract.split import Chunk

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


def check_bounds(chunk: Chunk) -> str | None:
    if len(chunk.tokens) > MAX_STATEMENT_TOKENS:
        return at(chunk, f"statement too long ({len(chunk.tokens)} tokens); not extracted")
    # Fast path: nesting and operator chains cannot exceed the total number of tokens
    # that open a level / chain an operator. list.count compares by identity in C;
    # hashing TokenType (an Enum: Python-level __hash__) per token would cost more.
    types = list(map(_TOKEN_TYPE, chunk.tokens))
    opening = sum(map(types.count, _OPENING))
    if opening <= MAX_NESTING and sum(map(types.count, _OPERATORS)) <= MAX_OPERATOR_CHAIN:
        return None
    peak = _nesting(chunk.tokens)
    chain = longest = 0
    for tt in types:
        if tt in _OPERATORS:
            chain += 1
            longest = max(longest, chain)
        elif tt in _CHAIN_BREAKS:
            chain = 0
    if peak > MAX_NESTING:
        return at(chunk, f"nesting deeper than {MAX_NESTING} levels; not extracted")
    if longest > MAX_OPERATOR_CHAIN:
        return at(chunk, f"more than {MAX_OPERATOR_CHAIN} chained operators; not extracted")
    return None


def _nesting(tokens: list) -> int:
    """Deepest nesting of brackets and CASE ... END, where a run of NOTs counts as
    levels only while it lasts: `NOT (...)` nests the bracket one level deeper, but
    the NOT of `c IS NOT NULL AND d IS NOT NULL ...` closes with its operand and must
    not add up over a long WHERE clause."""
    depth = peak = nots = 0
    opened: list[int] = []
    for tok in tokens:
        tt = tok.token_type
        if tt == TokenType.NOT:
            nots += 1
            peak = max(peak, depth + nots)
            continue
        if tt in (TokenType.L_PAREN, TokenType.CASE):
            opened.append(1 + nots)
            depth += 1 + nots
            peak = max(peak, depth)
        elif tt in (TokenType.R_PAREN, TokenType.END) and opened:
            depth -= opened.pop()
        nots = 0
    return peak
