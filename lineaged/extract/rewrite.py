"""Token rewrites for T-SQL forms sqlglot does not parse, applied before parsing.

- Compound assignment `SET a += x` (also -=, *=, /=, %=, &=, |=, ^=) becomes
  `SET a = a + x`. Without brackets around `x` the arithmetic may group differently
  (`a *= b + c`), but lineage only asks which columns feed `a`, and that is the same.
- Storage clauses after a CREATE TABLE's column list, `TEXTIMAGE_ON fg` and
  `FILESTREAM_ON fg`, name filegroups: dropped.
"""

from __future__ import annotations

import re

from sqlglot.tokens import Token, TokenType

T = TokenType
_COMPOUND_OPS = frozenset({T.PLUS, T.DASH, T.STAR, T.SLASH, T.MOD, T.AMP, T.PIPE, T.CARET})
_STORAGE_WORDS = frozenset({"TEXTIMAGE_ON", "FILESTREAM_ON"})


_COMPOUND = re.compile(r"[-+*/%&|^]\s*=")
_STORAGE = re.compile(r"TEXTIMAGE_ON|FILESTREAM_ON", re.IGNORECASE)


def rewrite_tsql(tokens: list[Token], text: str) -> list[Token]:
    """`text` is the statement's source: the rewrites run only where it has the forms."""
    if _STORAGE.search(text):
        tokens = _drop_storage_clauses(tokens)
    if _COMPOUND.search(text):
        tokens = _expand_compound_assignments(tokens)
    return tokens


def _expand_compound_assignments(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if (
            tok.token_type in _COMPOUND_OPS
            and nxt is not None
            and nxt.token_type == T.EQ
            and nxt.start == tok.end + 1
        ):
            target = _assignment_target(out)
            if target:
                out.extend([nxt, *target, tok])
                i += 2
                continue
        out.append(tok)
        i += 1
    return out


def _assignment_target(before: list[Token]) -> list[Token]:
    """The tokens of the column/variable being assigned: back to SET or a comma."""
    depth = 0
    for k in range(len(before) - 1, -1, -1):
        tt = before[k].token_type
        depth += (tt == T.R_PAREN) - (tt == T.L_PAREN)
        if depth == 0 and tt in (T.SET, T.COMMA):
            return before[k + 1 :]
    return []


def _drop_storage_clauses(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    skip = 0
    for tok in tokens:
        if skip:
            skip -= 1
            continue
        if tok.token_type == T.VAR and tok.text.upper() in _STORAGE_WORDS:
            skip = 1  # and the filegroup name after it
            continue
        out.append(tok)
    return out
