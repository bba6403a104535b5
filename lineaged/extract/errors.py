"""Error messages of one statement: `line L, column C: <what>`, one line, positions
counted in the file, the offending text quoted as written (never a token repr), and a
hint when the statement looks like a template rather than SQL."""

from __future__ import annotations

import re

from sqlglot.errors import ParseError

from lineaged.extract.split import Chunk
from lineaged.extract.templates import template_kind

# sqlglot puts token reprs into some messages: `<Token token_type: TokenType.LT,
# text: <, line: 3, col: 13, start: 14, end: 14, comments: []>`. The line there counts
# from the statement's start, not the file's; only the text is worth showing.
_TOKEN_REPR = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: \d+.*?\]>")
# "Required keyword: 'this' missing for <class 'sqlglot.expressions.core.EQ'>": which
# keyword it names varies between runs on the same input (set order), so keep only
# the expression's name: extraction results must be deterministic.
_REQUIRED = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]*?(\w+)'>")
_TEMPLATE_HINTS = {
    "Jinja": "the statement looks like a Jinja template ({{ }} / {% %}): render it first",
    "SSMS template": (
        "the statement looks like an SSMS template (<name, type, default>): fill it in first"
    ),
}


def at(chunk: Chunk, message: str) -> str:
    first = chunk.tokens[0] if chunk.tokens else None
    if first is None:
        return f"line {chunk.line}, column 1: {message}"
    line, col = chunk.position(first.line, _start_col(chunk.sql, first.start))
    return f"line {line}, column {col}: {message}"


def _start_col(sql: str, offset: int) -> int:
    return offset - (sql.rfind("\n", 0, offset) + 1) + 1


def parse_error(exc: ParseError, chunk: Chunk) -> str:
    info = exc.errors[0] if exc.errors else {}
    line, col = info.get("line"), info.get("col")
    highlight = (info.get("highlight") or "").strip()
    message = _readable(info.get("description") or short(exc), highlight)
    message = _with_template_hint(message, chunk)
    if line is None or col is None:
        return at(chunk, message)
    # sqlglot reports the column where the offending token ends; point at its start.
    col = max(1, col - len(info.get("highlight") or "x") + 1)
    line, col = chunk.position(line, col)
    return f"line {line}, column {col}: {message}"


def _readable(description: str, highlight: str) -> str:
    message = _TOKEN_REPR.sub(_token_text, description)
    message = _REQUIRED.sub(lambda m: f"incomplete {m.group(1)} expression", message)
    message = " ".join(message.split())
    if highlight and "'" not in message and len(highlight) <= 40:
        message = f"{message} at {_quoted(highlight)}"
    return message


def _token_text(m: re.Match) -> str:
    if m.group(1) == "SENTINEL":
        return "end of statement"
    return _quoted(m.group(2))


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return f"'{text[:40]}'"


def _with_template_hint(message: str, chunk: Chunk) -> str:
    kind = template_kind(chunk.text()) if chunk.tokens else None
    return f"{message} ({_TEMPLATE_HINTS[kind]})" if kind else message


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:200]}"


def not_understood(chunk: Chunk) -> str:
    """A DDL/DML statement sqlglot kept only as an opaque command: its lineage is lost,
    so say so (with its first words) instead of calling it `other`."""
    head = " ".join(t.text for t in chunk.tokens[:4])
    return at(chunk, f"statement not understood (unsupported syntax), no lineage: {head} ...")
