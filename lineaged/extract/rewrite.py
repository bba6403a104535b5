"""Token rewrites for T-SQL forms sqlglot does not parse, applied before parsing.

- Compound assignment `SET a += x` (also -=, *=, /=, %=, &=, |=, ^=) becomes
  `SET a = a + x`. Without brackets around `x` the arithmetic may group differently
  (`a *= b + c`), but lineage only asks which columns feed `a`, and that is the same.
- Storage clauses after a CREATE TABLE's column list, `TEXTIMAGE_ON fg` and
  `FILESTREAM_ON fg`, name filegroups: dropped.
- Synapse table options `CREATE TABLE t WITH (DISTRIBUTION = ..., CLUSTERED COLUMNSTORE
  INDEX | CLUSTERED INDEX (a)) AS SELECT ...`: the index option is dropped.
"""

from __future__ import annotations

import re

from sqlglot.tokens import Token, TokenType

T = TokenType
_COMPOUND_OPS = frozenset({T.PLUS, T.DASH, T.STAR, T.SLASH, T.MOD, T.AMP, T.PIPE, T.CARET})
_STORAGE_WORDS = frozenset({"TEXTIMAGE_ON", "FILESTREAM_ON"})


_COMPOUND = re.compile(r"[-+*/%&|^]\s*=")
_STORAGE = re.compile(r"TEXTIMAGE_ON|FILESTREAM_ON", re.IGNORECASE)
_TABLE_INDEX = re.compile(r"\bCLUSTERED\s+(?:COLUMNSTORE\s+)?INDEX\b", re.IGNORECASE)


def rewrite_tsql(tokens: list[Token], text: str) -> list[Token]:
    """`text` is the statement's source: the rewrites run only where it has the forms."""
    if _STORAGE.search(text):
        tokens = _drop_storage_clauses(tokens)
    if _COMPOUND.search(text):
        tokens = _expand_compound_assignments(tokens)
    if _TABLE_INDEX.search(text) and tokens and tokens[0].token_type == T.CREATE:
        tokens = _drop_table_index_options(tokens)
    return tokens


def _drop_table_index_options(tokens: list[Token]) -> list[Token]:
    """Drop `CLUSTERED ...` items from the `WITH (...)` right after `CREATE TABLE name`."""
    start = next(
        (
            k
            for k in range(1, len(tokens) - 1)
            if tokens[k].token_type == T.WITH and tokens[k + 1].token_type == T.L_PAREN
        ),
        None,
    )
    if start is None or any(t.token_type == T.L_PAREN for t in tokens[:start]):
        return tokens  # no options group, or a column list first (not this form)
    keep: list[Token] = tokens[: start + 2]
    item: list[Token] = []
    depth = 1
    k = start + 2
    while k < len(tokens) and depth > 0:
        tok = tokens[k]
        depth += (tok.token_type == T.L_PAREN) - (tok.token_type == T.R_PAREN)
        if depth == 0 or (depth == 1 and tok.token_type == T.COMMA):
            if item and not item[0].text.upper().startswith("CLUSTERED"):
                keep.extend([*item, tok])  # the item and its comma / closing bracket
            elif depth == 0:
                keep.append(tok)
            item = []
        else:
            item.append(tok)
        k += 1
    if keep[-1].token_type == T.R_PAREN and keep[-2].token_type == T.COMMA:
        del keep[-2]  # the comma before a dropped last item
    return keep + tokens[k:]


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
