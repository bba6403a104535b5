"""Error messages of one statement: `line L, column C: <what>`, positions in the file."""

from __future__ import annotations

from sqlglot.errors import ParseError

from lineaged.extract.split import Chunk


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
    message = info.get("description") or short(exc)
    if line is None or col is None:
        return at(chunk, message)
    # sqlglot reports the column where the offending token ends; point at its start.
    col = max(1, col - len(info.get("highlight") or "x") + 1)
    line, col = chunk.position(line, col)
    return f"line {line}, column {col}: {message}"


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:200]}"
